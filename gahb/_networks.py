"""The network of `DiffusionDenoiser`: a built-in architecture or the user's own torch module, and its checks."""

from __future__ import annotations

import copy
import warnings

import torch

from gahb.core.jacobian import eval_mode
from gahb.core.nn import build_network
from gahb.exceptions import NotBiasFreeWarning

__all__ = ["build_module", "check_architecture", "check_output_shape", "call_denoiser", "warn_if_not_bias_free"]


def build_module(architecture, in_channels: int, width: int, n_blocks: int, n_layers: int,
                 seed: int | None = None) -> torch.nn.Module:
    """The untrained residual network: a built-in one, a copy of the user's module, or the user's class built
    under a torch RNG seeded by ``seed`` (a restored model overwrites the weights, so it needs none)."""
    # module constructors draw from the global torch RNG; fork it so the user's global state is untouched
    with torch.random.fork_rng(devices=[]):
        if isinstance(architecture, str):
            return build_network(architecture, in_channels, width, n_blocks, n_layers)
        if isinstance(architecture, torch.nn.Module):
            return copy.deepcopy(architecture)
        if seed is not None:
            torch.manual_seed(seed)
        try:
            return architecture()
        except TypeError as exc:
            raise TypeError(f"architecture class {architecture.__name__} could not be built without arguments "
                            f"({exc}); pass an instance instead.") from exc


def check_architecture(arch) -> None:
    # the constraints admit any class; only Module subclasses can be built
    if isinstance(arch, type) and not issubclass(arch, torch.nn.Module):
        raise TypeError(f"architecture must be 'unet', 'bfcnn', a torch.nn.Module or a torch.nn.Module subclass; "
                        f"got the class {arch.__name__}.")
    if not isinstance(arch, (str, type, torch.nn.Module)):
        raise TypeError(f"architecture must be a torch.nn.Module or a torch.nn.Module subclass; got "
                        f"{type(arch).__name__}.")


def module_dtype(f, default=torch.float32) -> torch.dtype:
    """The floating dtype of a torch module's parameters (float64 networks are common for exactness checks);
    ``default`` for a plain callable or a module without floating parameters."""
    p = next(iter(f.parameters()), None) if isinstance(f, torch.nn.Module) else None
    return p.dtype if p is not None and p.is_floating_point() else default


@torch.no_grad()
def _eval_forward(net: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
    """``net(y)`` in eval mode (batch statistics and dropout off), leaving every submodule's mode as it was."""
    with eval_mode(net):
        return net(y)


def check_output_shape(net: torch.nn.Module, y: torch.Tensor) -> None:
    call_denoiser(lambda t: _eval_forward(net, t), y, "the architecture module", " (it predicts the noise)")


def call_denoiser(f, y: torch.Tensor, what: str = "the denoiser", why: str = "") -> torch.Tensor:
    """``f(y)`` without gradients, or a ``ValueError`` naming ``what`` when it fails or changes the shape.

    The one check of a user's network or callable: run on its first real batch (or a probe), so a wrong
    output fails with both shapes named instead of deep inside numpy or torch.
    """
    try:
        with torch.no_grad():
            out = f(y)
    except Exception as exc:
        raise ValueError(f"{what} failed on a batch of shape {tuple(y.shape)} (B, C, H, W): "
                         f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(out, torch.Tensor) or out.shape != y.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"{what} must map (B, C, H, W) tensors to the same shape{why}; it maps {tuple(y.shape)} "
                         f"to {got}.")
    return out


_HOMOGENEITY_SCALES = (0.25, 2.0, 8.0)
_HOMOGENEITY_TOL = 1e-4  # a bias-free float32 network reaches ~1e-7


def warn_if_not_bias_free(net: torch.nn.Module, y: torch.Tensor, when: str) -> bool:
    """Warns (and returns True) unless r(a y) = a r(y) at ``y`` for a few scales a: a bias-free network, for which
    f(y) = J(y) y (GAHB eq. 6)."""
    r = _eval_forward(net, y).double()
    ref = max(float(torch.linalg.vector_norm(r)), 1e-30)
    err = max(float(torch.linalg.vector_norm(_eval_forward(net, a * y).double() - a * r)) / (a * ref)
              for a in _HOMOGENEITY_SCALES)
    if err <= _HOMOGENEITY_TOL:
        return False
    warnings.warn(f"the architecture module is not bias-free {when}: r(a y) differs from a r(y) by {err:.1e} "
                  f"(relative, a in {_HOMOGENEITY_SCALES}). The paper's analysis (f(y) = J(y) y, the adaptive basis) "
                  "assumes no additive constants: use bias=False in every layer and normalization without mean "
                  "subtraction.", NotBiasFreeWarning, stacklevel=3)
    return True
