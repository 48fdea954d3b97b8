"""Torch core of denoiser training: noise levels, learning-rate schedules, one optimisation step."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["sample_sigma", "rescale_uniform", "lr_factor", "train_step"]


def sample_sigma(n: int, sigma_max: float, distribution: str, generator: torch.Generator, device) -> torch.Tensor:
    """Per-image noise levels: ``quadratic`` σ = σ_max·u² (paper code, SPEC §4) or ``uniform`` σ = σ_max·u."""
    u = torch.rand(n, generator=generator, device=device)
    return sigma_max * (u * u if distribution == "quadratic" else u)


def rescale_uniform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Positive intensity rescaling a·x with a ~ U(0, 1) per image (paper App. C.2, Fig. 19)."""
    a = torch.rand(x.shape[0], generator=generator, device=x.device)
    return a.view(-1, 1, 1, 1) * x


def lr_factor(step: int, max_iter: int, schedule: str) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based).

    ``halving``: halved at 10 %, 20 %, …, 90 % of training (the paper's epochs 100, 200, …, 900 of 1000);
    ``cosine``: cosine decay to 0; ``constant``: 1.
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
    (SPEC §4, eq. 4 in residual form)."""
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) * sigma.view(-1, 1, 1, 1)
    loss = ((net(x + noise) - noise) ** 2).sum() / x.shape[0]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())
