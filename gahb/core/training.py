"""Torch core of denoiser training: noise levels, learning-rate schedules, one optimisation step."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["sample_sigma", "lr_factor", "train_step"]


def sample_sigma(n: int, sigma_max: float, distribution: str, generator: torch.Generator, device) -> torch.Tensor:
    """Per-image noise levels: ``quadratic`` σ = σ_max·u² (the authors' code; the paper says only "σ in [0, 1]")
    or ``uniform`` σ = σ_max·u.

    See Also
    --------
    train_step : Adds noise of these levels.

    Examples
    --------
    >>> import torch
    >>> sample_sigma(3, 1.0, "quadratic", torch.Generator().manual_seed(0), "cpu")
    tensor([0.2463, 0.5902, 0.0078])
    """
    u = torch.rand(n, generator=generator, device=device)
    return sigma_max * (u * u if distribution == "quadratic" else u)


def lr_factor(step: int, max_iter: int, schedule: str) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based).

    ``halving``: halved at 10 %, 20 %, …, 90 % of training (the paper's epochs 100, 200, …, 900 of 1000);
    ``cosine``: cosine decay to 0; ``constant``: 1.

    See Also
    --------
    train_step : The step whose learning rate this scales.

    Examples
    --------
    >>> [lr_factor(t, 100, "halving") for t in (0, 10, 25, 99)]
    [1.0, 0.5, 0.25, 0.001953125]
    >>> lr_factor(50, 100, "cosine")
    0.5
    """
    if schedule == "halving":
        return 0.5 ** min(9, (10 * step) // max(max_iter, 1))
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * step / max(max_iter, 1)))
    return 1.0


def train_step(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    sigma: torch.Tensor,
    generator: torch.Generator,
) -> float:
    """One Adam step on the residual loss ‖net(x + σz) − σz‖² summed over pixels, averaged over the batch
    (paper eq. 4 in residual form).

    See Also
    --------
    sample_sigma : The noise levels of a batch.
    lr_factor : The learning-rate schedule.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.nn import UNet
    >>> net = UNet(width=4, n_blocks=1)
    >>> opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    >>> g = torch.Generator().manual_seed(0)
    >>> loss = train_step(net, opt, torch.rand(4, 1, 8, 8), sample_sigma(4, 1.0, "quadratic", g, "cpu"), g)
    >>> loss > 0
    True
    """
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) * sigma.view(-1, 1, 1, 1)
    loss = ((net(x + noise) - noise) ** 2).sum() / x.shape[0]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())
