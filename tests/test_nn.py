"""Bias-free networks: exact parameter counts, homogeneity, any image size and channel count."""

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from gahb.core.nn import BFCNN, BiasFreeBatchNorm2d, Denoiser, UNet, count_parameters, init_weights_


@pytest.mark.parametrize(
    "n_blocks, expected", [(1, 366_080), (2, 1_825_024), (3, 7_659_264), (4, 30_993_152)]
)
def test_unet_parameter_counts_match_paper(n_blocks, expected):
    assert count_parameters(UNet(in_channels=1, width=64, n_blocks=n_blocks)) == expected


def test_bfcnn_parameter_count_matches_paper():
    assert count_parameters(BFCNN(in_channels=1, width=64, n_layers=21)) == 702_784


def test_no_bias_anywhere():
    for net in (UNet(1, 8, 2), BFCNN(1, 8, 5)):
        for name, _ in net.named_parameters():
            assert "bias" not in name
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                assert m.bias is None


def _trained_like(net, seed=0):
    """Random weights plus non-trivial running statistics, as after training."""
    g = torch.Generator().manual_seed(seed)
    init_weights_(net, g)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, BiasFreeBatchNorm2d):
                m.gamma.copy_(torch.rand(m.gamma.shape, generator=g) + 0.5)
                m.running_sd.copy_(torch.rand(m.running_sd.shape, generator=g) + 0.5)
    return Denoiser(net).eval().double()


_UNET = _trained_like(UNet(1, 8, 2))
_BFCNN = _trained_like(BFCNN(2, 8, 5), seed=1)


@given(
    a=st.floats(min_value=0.01, max_value=100.0, exclude_min=True),
    seed=st.integers(0, 2**16),
    which=st.sampled_from(["unet", "bfcnn"]),
)
def test_positive_homogeneity(a, seed, which):
    f = _UNET if which == "unet" else _BFCNN
    c = 1 if which == "unet" else 2
    y = torch.rand((2, c, 9, 11), generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    with torch.no_grad():
        fy, fay = f(y), f(a * y)
    rel = torch.linalg.norm(fay - a * fy) / torch.linalg.norm(a * fy)
    assert rel <= 1e-5


@pytest.mark.parametrize("shape", [(1, 1), (1, 17), (3, 5), (8, 8), (13, 7), (32, 20)])
@pytest.mark.parametrize("channels", [1, 3])
def test_any_size_and_channels(shape, channels):
    net = UNet(channels, 4, 3).eval()
    y = torch.rand((2, channels) + shape)
    with torch.no_grad():
        out = Denoiser(net)(y)
    assert out.shape == y.shape and torch.isfinite(out).all()


def test_bias_free_batchnorm_train_and_eval():
    bn = BiasFreeBatchNorm2d(3)
    x = torch.randn(16, 3, 4, 4) * 2 + 5
    out = bn.train()(x)
    expected = x / torch.sqrt(x.var(dim=(0, 2, 3), keepdim=True, unbiased=False) + 1e-5)
    torch.testing.assert_close(out, expected)  # gamma = 1, no mean subtracted
    assert not torch.allclose(bn.running_sd, torch.ones_like(bn.running_sd))
    bn.eval()
    torch.testing.assert_close(bn(3 * x), 3 * bn(x))  # linear in eval mode
