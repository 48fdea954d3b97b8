"""gahb: memorization, generalization and geometry-adaptive harmonic bases of diffusion denoisers.

Kadkhodaie, Guth, Simoncelli & Mallat (ICLR 2024, arXiv 2310.02557) as scikit-learn tools on PyTorch.
"""

__version__ = "0.1.0"

from .denoiser import DiffusionDenoiser
from .basis import GAHBShrinkage, JacobianEigenbasis

__all__ = ["DiffusionDenoiser", "GAHBShrinkage", "JacobianEigenbasis", "__version__"]
