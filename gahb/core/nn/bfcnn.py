"""BF-CNN (Mohan et al. 2020), the paper's second architecture: a bias-free DnCNN that predicts the noise."""

from __future__ import annotations

import torch
from torch import nn

from .layers import BiasFreeBatchNorm2d, conv3x3

__all__ = ["BFCNN"]


class BFCNN(nn.Module):
    """``n_layers`` 3×3 bias-free convs; ReLU after the first, conv + BN + ReLU in between, linear last.

    21 layers of 64 channels on one channel have 702,784 parameters. No downsampling, so any H×W works.

    See Also
    --------
    UNet : The paper's main architecture.
    Denoiser : Turns the noise prediction into a denoiser.

    Examples
    --------
    >>> import torch
    >>> net = BFCNN(width=8, n_layers=5)
    >>> net(torch.zeros(2, 1, 12, 10)).shape
    torch.Size([2, 1, 12, 10])
    """

    def __init__(self, in_channels: int = 1, width: int = 64, n_layers: int = 21):
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"BFCNN needs n_layers >= 2, got {n_layers}.")
        self.in_channels, self.width, self.n_layers = in_channels, width, n_layers
        layers = [conv3x3(in_channels, width), nn.ReLU(inplace=True)]
        for _ in range(n_layers - 2):
            layers += [conv3x3(width, width), BiasFreeBatchNorm2d(width), nn.ReLU(inplace=True)]
        layers.append(conv3x3(width, in_channels))
        self.body = nn.Sequential(*layers)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.body(y)
