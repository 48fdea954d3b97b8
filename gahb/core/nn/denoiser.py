"""The residual denoiser wrapper, network construction and the paper's weight initialisation."""

from __future__ import annotations

import math

import torch
from torch import nn

from .bfcnn import BFCNN
from .layers import BiasFreeBatchNorm2d
from .unet import UNet

__all__ = ["Denoiser", "build_network", "count_parameters", "init_weights_"]


class Denoiser(nn.Module):
    """Residual denoiser f(y) = y − r(y), where ``net`` predicts the noise r(y) (paper §2.1, residual form).

    See Also
    --------
    build_network : The networks ``net`` can be.
    gahb.DiffusionDenoiser : Trains one as a scikit-learn estimator.

    Examples
    --------
    >>> import torch
    >>> f = Denoiser(UNet(width=4, n_blocks=1)).eval()
    >>> y = torch.rand(1, 1, 8, 8)
    >>> bool(torch.allclose(f(2 * y), 2 * f(y), atol=1e-5))  # bias-free: positively homogeneous
    True
    """

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return y - self.net(y)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters.

    See Also
    --------
    gahb.core.cost.forward_flops : The compute of one forward pass.

    Examples
    --------
    >>> count_parameters(UNet()), count_parameters(BFCNN())  # the paper's 7.6M UNet (80 x 80) and BF-CNN
    (7659264, 702784)
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@torch.no_grad()
def init_weights_(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """Paper code's initialisation from ``generator`` only: Kaiming-normal (fan_in, ReLU gain) on every conv
    and transposed conv; bias-free BN gains ~ randn·(2/9/64) clamped to ±0.025 (the authors' code).

    See Also
    --------
    gahb.core.random.torch_generator : The generator to pass.

    Examples
    --------
    >>> import torch
    >>> a = init_weights_(UNet(width=4, n_blocks=1), torch.Generator().manual_seed(0))
    >>> b = init_weights_(UNet(width=4, n_blocks=1), torch.Generator().manual_seed(0))
    >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))  # same seed, same weights
    True
    """
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


def build_network(architecture: str, in_channels: int, width: int, n_blocks: int, n_layers: int) -> nn.Module:
    """The residual network named by ``architecture``: ``"unet"`` (the paper's UNet, Table 1) or ``"bfcnn"`` (BF-CNN).

    See Also
    --------
    UNet, BFCNN : The two networks.

    Examples
    --------
    >>> type(build_network("bfcnn", in_channels=1, width=8, n_blocks=2, n_layers=5)).__name__
    'BFCNN'
    """
    if architecture == "unet":
        return UNet(in_channels=in_channels, width=width, n_blocks=n_blocks)
    return BFCNN(in_channels=in_channels, width=width, n_layers=n_layers)
