"""Explicit random streams: every draw in gahb comes from a generator seeded here, never the global state."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["torch_generator", "sample_seeds", "sample_generators"]


def torch_generator(seed: int, device="cpu") -> torch.Generator:
    """A torch generator seeded only by ``seed``."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed) % (2**63))
    return g


def sample_seeds(seed: int, n: int, start: int = 0) -> list[int]:
    """Per-sample seeds: sample ``i`` gets a seed that depends only on ``(seed, i)``.

    So sample ``i`` receives the same noise whatever the batch size, the model or the device.
    """
    return [
        int(np.random.SeedSequence(entropy=int(seed), spawn_key=(i,)).generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> 1)
        for i in range(start, start + n)
    ]


def sample_generators(seed: int, n: int, start: int = 0) -> list[torch.Generator]:
    """One CPU generator per sample, seeded from ``(seed, index)`` (see :func:`sample_seeds`)."""
    return [torch_generator(s) for s in sample_seeds(seed, n, start)]
