"""gahb: memorization, generalization and geometry-adaptive harmonic bases of diffusion denoisers.

Kadkhodaie, Guth, Simoncelli & Mallat (ICLR 2024, arXiv 2310.02557) as scikit-learn tools on PyTorch.

The estimators are re-exported here and imported on first use, so ``import gahb`` (and
``import gahb.datasets``) loads neither torch nor the experiments, the command line or matplotlib.
Layers (see docs/architecture.md): ``gahb.core`` (torch only) <- estimators and ``gahb.metrics``
<- ``gahb.experiments`` <- ``gahb.cli``; ``gahb.datasets`` is numpy only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # static tools (type checkers, the API docs) see the names; run time imports them lazily
    from gahb._vectorized import fit_vectorized
    from gahb.basis import JacobianEigenbasis
    from gahb.denoiser import DiffusionDenoiser
    from gahb.model_selection import TrainingSubset
    from gahb.optimal import MemorizingDenoiser
    from gahb.shrinkage import GAHBShrinkage

__version__ = "0.1.0"

# public name -> private module that defines it
_EXPORTS = {
    "DiffusionDenoiser": "gahb.denoiser",
    "JacobianEigenbasis": "gahb.basis",
    "GAHBShrinkage": "gahb.shrinkage",
    "MemorizingDenoiser": "gahb.optimal",
    "TrainingSubset": "gahb.model_selection",
    "fit_vectorized": "gahb._vectorized",
}

__all__ = ["DiffusionDenoiser", "GAHBShrinkage", "JacobianEigenbasis", "MemorizingDenoiser", "TrainingSubset",
           "fit_vectorized", "__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'gahb' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
