"""gahb: memorization, generalization and geometry-adaptive harmonic bases of diffusion denoisers.

Kadkhodaie, Guth, Simoncelli & Mallat (ICLR 2024, arXiv 2310.02557) as scikit-learn tools on PyTorch.
"""

__version__ = "0.1.0"

from .denoiser import DiffusionDenoiser
from .basis import GAHBShrinkage, JacobianEigenbasis
from .sampling import SamplerOutput, sample_euler, sample_heun, sample_ks
from .inverse import BlockAverage, Inpainting, RandomPixels, RandomSubspace, SpectralLowpass, solve_inverse
from .optimal import EmpiricalOptimalDenoiser, MemorizingDenoiser
from .experiments.generalization import GeneralizationCurve, TrainingSubset, generalization_curve

__all__ = [
    "SamplerOutput", "sample_ks", "sample_euler", "sample_heun",
    "Inpainting", "RandomPixels", "BlockAverage", "SpectralLowpass", "RandomSubspace", "solve_inverse",
    "DiffusionDenoiser", "GAHBShrinkage", "JacobianEigenbasis", "__version__",
    "EmpiricalOptimalDenoiser", "MemorizingDenoiser", "generalization_curve", "GeneralizationCurve", "TrainingSubset"]
