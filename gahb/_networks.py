"""The network of `DiffusionDenoiser`: a built-in architecture or the user's own torch module, and its checks."""

from __future__ import annotations

import copy
import warnings

import torch

from gahb.core.nn import build_network
from gahb.exceptions import NotBiasFreeWarning

__all__ = ["build_module", "check_architecture", "check_output_shape", "warn_if_not_bias_free"]


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


@torch.no_grad()
def _eval_forward(net: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
    """``net(y)`` in eval mode (batch statistics and dropout off), leaving the module's mode as it was."""
    training = net.training
    net.eval()
    try:
        return net(y)
    finally:
        net.train(training)


def check_output_shape(net: torch.nn.Module, y: torch.Tensor) -> None:
    try:
        out = _eval_forward(net, y)
    except Exception as exc:
        raise ValueError(f"the architecture module failed on a batch of shape {tuple(y.shape)} (B, C, H, W): "
                         f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(out, torch.Tensor) or out.shape != y.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"the architecture module must map (B, C, H, W) to the same shape (it predicts the noise); "
                         f"it maps {tuple(y.shape)} to {got}.")


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
