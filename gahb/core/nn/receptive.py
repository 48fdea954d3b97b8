"""Exact receptive radius of gahb's networks (lets the dense Jacobian share one VJP among distant pixels)."""

from __future__ import annotations

import functools

import numpy as np
from torch import nn

from .bfcnn import BFCNN
from .denoiser import Denoiser
from .unet import UNet

__all__ = ["receptive_radius"]


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
    ``gahb.core.jacobian.full_jacobian`` compute many rows with one vector-Jacobian product.

    See Also
    --------
    gahb.core.jacobian.full_jacobian : Uses it to compress the dense Jacobian.

    Examples
    --------
    >>> receptive_radius(UNet(n_blocks=3)), receptive_radius(BFCNN(n_layers=21))
    (51, 21)
    """
    if isinstance(module, Denoiser):
        return receptive_radius(module.net)
    if isinstance(module, BFCNN):
        return int(module.n_layers)
    if isinstance(module, UNet):
        return _unet_radius(int(module.n_blocks))
    return None
