"""Explicit random streams: every draw in gahb comes from a generator seeded here, never the global state."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["torch_generator", "sample_seeds", "sample_generators"]


def torch_generator(seed: int, device="cpu") -> torch.Generator:
    """A torch generator seeded only by ``seed``.

    See Also
    --------
    sample_generators : One generator per sample.

    Examples
    --------
    >>> import torch
    >>> a, b = torch_generator(3), torch_generator(3)
    >>> bool(torch.equal(torch.rand(2, generator=a), torch.rand(2, generator=b)))
    True
    """
    g = torch.Generator(device=device)
    g.manual_seed(int(seed) % (2**63))
    return g


def sample_seeds(seed: int, n: int, start: int = 0) -> list[int]:
    """Per-sample seeds: sample ``i`` gets a seed that depends only on ``(seed, i)``.

    So sample ``i`` receives the same noise whatever the batch size, the model or the device.

    See Also
    --------
    sample_generators : Generators seeded with these seeds.

    Examples
    --------
    >>> sample_seeds(0, 3)[1:] == sample_seeds(0, 2, start=1)  # sample 1 and 2: the same seeds in both calls
    True
    """
    return [
        int(np.random.SeedSequence(entropy=int(seed), spawn_key=(i,)).generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> 1)
        for i in range(start, start + n)
    ]


def sample_generators(seed: int, n: int, start: int = 0) -> list[torch.Generator]:
    """One CPU generator per sample, seeded from ``(seed, index)`` (see :func:`sample_seeds`).

    See Also
    --------
    gahb.core.sampling.draw_noise : Draws each sample's noise from its own generator.

    Examples
    --------
    >>> gens = sample_generators(0, 4)
    >>> len(gens), gens[0].device
    (4, device(type='cpu'))
    """
    return [torch_generator(s) for s in sample_seeds(seed, n, start)]
