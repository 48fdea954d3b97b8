"""The paper's bias-free UNet (§2.2, Table 1): predicts the noise; the denoiser is y − net(y)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import BiasFreeBatchNorm2d, conv3x3

__all__ = ["UNet"]


def _block(c_in: int, c_out: int, first_bn: bool = True) -> nn.Sequential:
    """Two 3×3 convs, each followed by bias-free BN (skipped on the network's very first conv) and ReLU."""
    layers = [conv3x3(c_in, c_out)]
    if first_bn:
        layers.append(BiasFreeBatchNorm2d(c_out))
    layers += [nn.ReLU(inplace=True), conv3x3(c_out, c_out), BiasFreeBatchNorm2d(c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """Bias-free UNet: ``n_blocks`` encoder blocks (2×2 average pooling), a mid block, ``n_blocks`` decoder
    blocks (2×2 transposed-conv upsampling, skip concatenation); channels double per level.

    Width 64 with 1/2/3/4 blocks has 366,080 / 1,825,024 / 7,659,264 / 30,993,152 parameters (Table 1).
    Inputs of any H×W are padded (replicate) to a multiple of 2**n_blocks and cropped back.

    See Also
    --------
    BFCNN : The paper's second architecture.
    receptive_radius : How far an output pixel sees.

    Examples
    --------
    >>> import torch
    >>> net = UNet(width=4, n_blocks=2)
    >>> net(torch.zeros(1, 1, 12, 12)).shape
    torch.Size([1, 1, 12, 12])
    """

    def __init__(self, in_channels: int = 1, width: int = 64, n_blocks: int = 3):
        super().__init__()
        self.in_channels, self.width, self.n_blocks = in_channels, width, n_blocks
        ch = [width * 2**b for b in range(n_blocks + 1)]
        self.encoder = nn.ModuleList(
            [_block(in_channels, ch[0], first_bn=False)] + [_block(ch[b - 1], ch[b]) for b in range(1, n_blocks)]
        )
        self.mid = _block(ch[n_blocks - 1], ch[n_blocks])
        self.up = nn.ModuleList(
            [nn.ConvTranspose2d(ch[b + 1], ch[b], kernel_size=2, stride=2, bias=False) for b in range(n_blocks)]
        )
        self.decoder = nn.ModuleList([_block(2 * ch[b], ch[b]) for b in range(1, n_blocks)])
        # the last decoder block ends in the linear output conv: no BN, no ReLU after it
        self.decoder.insert(
            0,
            nn.Sequential(
                conv3x3(2 * ch[0], ch[0]), BiasFreeBatchNorm2d(ch[0]), nn.ReLU(inplace=True), conv3x3(ch[0], in_channels)
            ),
        )

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        h, w = y.shape[-2:]
        m = 2**self.n_blocks
        ph, pw = (-h) % m, (-w) % m
        x = F.pad(y, (0, pw, 0, ph), mode="replicate") if ph or pw else y
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = F.avg_pool2d(x, 2)
        x = self.mid(x)
        for b in reversed(range(self.n_blocks)):
            x = self.decoder[b](torch.cat([self.up[b](x), skips[b]], dim=1))
        return x[..., :h, :w]
