"""Bias-free denoising networks: modules on (N, C, H, W) tensors (torch core, no scikit-learn)."""

from .bfcnn import BFCNN
from .denoiser import Denoiser, build_network, count_parameters, init_weights_
from .layers import BiasFreeBatchNorm2d, conv3x3
from .receptive import receptive_radius
from .unet import UNet

__all__ = [
    "BFCNN", "BiasFreeBatchNorm2d", "Denoiser", "UNet", "build_network", "conv3x3", "count_parameters",
    "init_weights_", "receptive_radius",
]
