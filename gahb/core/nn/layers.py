"""Bias-free building blocks: no additive constant anywhere, so the network is positively homogeneous."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BiasFreeBatchNorm2d", "conv3x3"]


class BiasFreeBatchNorm2d(nn.Module):
    """Batch norm without mean subtraction or shift: ``x / std * gamma`` (the authors' code).

    Training divides each channel by its batch standard deviation over (N, H, W); evaluation divides by the
    running standard deviation, which makes the layer linear, hence f(a·y) = a·f(y) in eval mode.

    See Also
    --------
    UNet, BFCNN : The networks built from it.

    Examples
    --------
    >>> import torch
    >>> bn = BiasFreeBatchNorm2d(3).eval()
    >>> x = torch.randn(2, 3, 4, 4)
    >>> bool(torch.equal(bn(-x), -bn(x)))  # linear in eval mode: no mean, no shift
    True
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.gamma = nn.Parameter(torch.ones(1, num_features, 1, 1))
        self.register_buffer("running_sd", torch.ones(1, num_features, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            # under autocast x is bf16/fp16 (reductions accumulate in float32); the output keeps x's dtype, so
            # activations stay half-size
            sd = torch.sqrt(x.var(dim=(0, 2, 3), keepdim=True, unbiased=False) + self.eps)
            with torch.no_grad():
                self.running_sd.mul_(1 - self.momentum).add_(self.momentum * sd.detach())
        else:
            sd = self.running_sd
        return x / sd.to(x.dtype) * self.gamma.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    """3×3 convolution, stride 1, zero padding 1, no bias.

    See Also
    --------
    BiasFreeBatchNorm2d : The normalisation that follows it.

    Examples
    --------
    >>> conv3x3(1, 4)
    Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)
    """
    return nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False)
