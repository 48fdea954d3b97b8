"""FLOP counts of gahb's networks equal a hand count from the architecture (paper §3.1, Table 1)."""

import pytest

from gahb.core.cost import forward_flops, training_flops, training_memory
from gahb.core.nn import BFCNN, UNet


def _conv(c_in, c_out, side, k=9):
    return 2 * c_in * c_out * k * side * side


def _unet_hand_count(width, n_blocks, side):
    ch = [width * 2**b for b in range(n_blocks + 1)]
    total = _conv(1, ch[0], side) + _conv(ch[0], ch[0], side)
    for b in range(1, n_blocks):
        s = side // 2**b
        total += _conv(ch[b - 1], ch[b], s) + _conv(ch[b], ch[b], s)
    s = side // 2**n_blocks
    total += _conv(ch[-2], ch[-1], s) + _conv(ch[-1], ch[-1], s)
    for b in reversed(range(n_blocks)):
        s_in = side // 2 ** (b + 1)
        total += 2 * ch[b + 1] * ch[b] * 4 * s_in * s_in  # 2x2 transposed conv, stride 2
        total += _conv(2 * ch[b], ch[b], 2 * s_in)
        total += _conv(ch[b], ch[b], 2 * s_in) if b else _conv(ch[0], 1, 2 * s_in)
    return total


@pytest.mark.parametrize("width, n_blocks, side", [(64, 3, 80), (16, 2, 12), (8, 1, 20)])
def test_unet_flops_match_hand_count(width, n_blocks, side):
    assert forward_flops(UNet(1, width, n_blocks), (1, side, side)) == _unet_hand_count(width, n_blocks, side)


def test_paper_unet_training_cost():
    # 6.70 GFLOP per 80 x 80 forward; ~2.5e8 training examples per paper model -> ~5e18 FLOP
    f = forward_flops(UNet(1, 64, 3), (1, 80, 80))
    assert f == 6_699_417_600
    assert training_flops(UNet(1, 64, 3), (1, 80, 80), 512) == 3 * 512 * f


def test_bfcnn_flops():
    n_layers, width, side = 21, 64, 40
    hand = _conv(1, width, side) + (n_layers - 2) * _conv(width, width, side) + _conv(width, 1, side)
    assert forward_flops(BFCNN(1, width, n_layers), (1, side, side)) == hand


def test_training_memory_is_the_same_under_no_grad():
    """A caller's torch.no_grad() must not hide the activations autograd saves during training."""
    import torch

    net = UNet(width=4, n_blocks=1)
    plain = training_memory(net, (1, 16, 16), batch_size=8)
    with torch.no_grad():
        quiet = training_memory(net, (1, 16, 16), batch_size=8)
    assert plain["activations"] > 0 and quiet == plain
