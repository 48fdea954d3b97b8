"""Placeholder until the sampler lands (issue 3): `DiffusionDenoiser` inherits its `sample` from here."""


class SamplingMixin:
    """Sampling methods of `DiffusionDenoiser` (being written)."""
