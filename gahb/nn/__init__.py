"""Torch core: bias-free denoising networks (modules on (N, C, H, W) tensors)."""

from __future__ import annotations

import functools
import math

import numpy as np

import torch
from torch import nn

from .bfcnn import BFCNN
from .layers import BiasFreeBatchNorm2d, conv3x3
from .unet import UNet

__all__ = [
    "BFCNN", "BiasFreeBatchNorm2d", "Denoiser", "UNet", "conv3x3", "count_parameters", "init_weights_",
    "receptive_radius",
]


class Denoiser(nn.Module):
    """Residual denoiser f(y) = y − r(y), where ``net`` predicts the noise r(y) (SPEC §3.1)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y - self.net(y)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def init_weights_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Paper code's initialisation from ``generator`` only: Kaiming-normal (fan_in, ReLU gain) on every conv
    and transposed conv; bias-free BN gains ~ randn·(2/9/64) clamped to ±0.025 (SPEC §3.1)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
            w = torch.randn(m.weight.shape, generator=generator, dtype=m.weight.dtype)
            m.weight.copy_(w * math.sqrt(2.0 / fan_in))
        elif isinstance(m, BiasFreeBatchNorm2d):
            g = torch.randn(m.gamma.shape, generator=generator, dtype=m.gamma.dtype)
            m.gamma.copy_((g * (2.0 / 9.0 / 64.0)).clamp_(-0.025, 0.025))
            m.running_sd.fill_(1.0)
    return module


@functools.lru_cache(maxsize=None)
def _unet_radius(n_blocks: int) -> int:
    """Receptive radius of the UNet, by propagating the support of a 1-D impulse through its structure.

    Separable and the same along both axes; the maximum is over the 2**n_blocks pooling alignments.
    """
    m = 2**n_blocks
    length = 64 * m  # far wider than any support, so the impulse never reaches an edge

    def conv(x):  # one 3x3 conv at the current level widens the support by one pixel each side
        return x | np.roll(x, 1) | np.roll(x, -1)

    radius = 0
    for p in range(length // 2, length // 2 + m):
        x = np.zeros(length, bool)
        x[p] = True
        skips = []
        for _ in range(n_blocks):
            x = conv(conv(x))
            skips.append(x)
            x = x.reshape(-1, 2).any(axis=1)  # 2x2 average pooling
        x = conv(conv(x))
        for skip in reversed(skips):
            x = conv(conv(np.repeat(x, 2) | skip))  # stride-2 transposed conv, then the block on the concat
        idx = np.flatnonzero(x)
        radius = max(radius, p - int(idx[0]), int(idx[-1]) - p)
    return radius


def receptive_radius(module: nn.Module) -> int | None:
    """Largest r such that an output pixel can depend on an input pixel r rows or columns away (Chebyshev).

    Exact for gahb's networks (``BFCNN``: one pixel per conv; ``UNet``: from its structure; ``Denoiser``: its
    ``net``); ``None`` for any other module. Rows of J(y) are zero outside this window, which lets
    ``gahb.jacobian.full_jacobian`` compute many rows with one vector-Jacobian product.
    """
    if isinstance(module, Denoiser):
        return receptive_radius(module.net)
    if isinstance(module, BFCNN):
        return int(module.n_layers)
    if isinstance(module, UNet):
        return _unet_radius(int(module.n_blocks))
    return None
