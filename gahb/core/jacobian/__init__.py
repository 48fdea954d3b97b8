"""Jacobian tools for a denoiser callable ``f``: (B, C, H, W) -> (B, C, H, W), at one image ``y`` (C, H, W).

A bias-free denoiser is piecewise linear and positively homogeneous, so f(y) = J(y) y
= sum_k lambda_k <y, e_k> e_k (GAHB eq. 6): shrinkage in an orthonormal basis adapted to y.
This module computes J exactly (dense, batched vector-Jacobian products in chunks under a memory cap,
compressed by the receptive field when it is smaller than the image) or matrix-free (JVP / VJP linear
operators, Lanczos top-k eigenpairs, Hutchinson trace, probe asymmetry).

Every function evaluates an ``nn.Module`` in eval mode (so BatchNorm uses running statistics and the
network is exactly piecewise linear), never leaves ``requires_grad`` changed on its parameters and
restores the module's training flag afterwards. Products are batched with ``torch.func`` (one forward
pass at y, then ``vmap`` over many cotangents or tangents).
"""

from ._dense import (
    DEFAULT_MAX_MEMORY,
    asymmetry,
    eval_mode,
    full_jacobian,
    homogeneity_error,
    jacobian_by_loop,
    jvp,
    symmetric_eigh,
    vjp,
)
from ._matrix_free import JacobianOperator, TraceEstimate, hutchinson_trace, probe_asymmetry, top_eigenpairs

__all__ = [
    "DEFAULT_MAX_MEMORY",
    "eval_mode",
    "full_jacobian",
    "jacobian_by_loop",
    "symmetric_eigh",
    "asymmetry",
    "homogeneity_error",
    "jvp",
    "vjp",
    "JacobianOperator",
    "top_eigenpairs",
    "hutchinson_trace",
    "probe_asymmetry",
    "TraceEstimate",
]
