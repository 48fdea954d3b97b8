"""Shared helpers of the sklearn layer: seeds, devices, image shapes, array <-> tensor."""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch

__all__ = [
    "check_int",
    "check_real",
    "check_image_shape",
    "resolve_seed",
    "torch_generator",
    "sample_seeds",
    "sample_generators",
    "resolve_device",
    "resolve_image_shape",
    "to_images",
    "to_rows",
    "psnr",
]


def resolve_seed(random_state) -> int:
    """Turn a sklearn-style ``random_state`` into one 63-bit integer seed.

    ``None`` draws fresh OS entropy (never the global numpy/torch state); an int is used as is;
    a ``RandomState``/``Generator`` is advanced by one draw.
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(2, dtype=np.uint32).view(np.uint64)[0] >> 1)
    if isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}.")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    raise TypeError(
        "random_state must be None, an int, a numpy RandomState or Generator; "
        f"got {type(random_state).__name__}."
    )


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


def resolve_device(device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is checked and returned."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device; got {device!r}.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available on this machine.")
    return dev


def check_int(value, name: str, minimum: int | None = 1, *, allow_none: bool = False):
    """``value`` as a Python int ``>= minimum`` (TypeError if not an integer, ValueError if too small)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer{' or None' if allow_none else ''}; got {value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return int(value)


def check_real(value, name: str, low=None, high=None, *, low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float in the given range (TypeError if not a finite real, ValueError if out of range)."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a finite real number; got {value!r}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value!r}.")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}; got {value}.")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}; got {value}.")
    return float(value)


def check_image_shape(image_shape) -> tuple[int, int, int]:
    """``(H, W)`` or ``(C, H, W)`` of positive ints -> ``(C, H, W)``."""
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) not in (2, 3):
        raise ValueError(f"image_shape must be None, (H, W) or (C, H, W); got {image_shape!r}.")
    if not all(isinstance(s, (numbers.Integral, np.integer)) and not isinstance(s, bool) for s in image_shape):
        raise TypeError(f"image_shape entries must be integers; got {image_shape!r}.")
    shape = tuple(int(s) for s in image_shape)
    if any(s <= 0 for s in shape):
        raise ValueError(f"image_shape entries must be positive; got {shape}.")
    return (1,) + shape if len(shape) == 2 else shape


def resolve_image_shape(image_shape, n_features: int) -> tuple[int, int, int]:
    """Resolve ``image_shape`` (None, (H, W) or (C, H, W)) to ``(C, H, W)`` matching ``n_features``.

    ``None`` means each row is a one-channel ``1 x n_features`` strip.
    """
    if image_shape is None:
        return (1, 1, int(n_features))
    shape = check_image_shape(image_shape)
    if int(np.prod(shape)) != int(n_features):
        raise ValueError(
            f"image_shape {tuple(image_shape)} holds {int(np.prod(shape))} pixels but X has {n_features} features."
        )
    return shape


def to_images(X, image_shape, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """2-D array ``(n, C*H*W)`` -> tensor ``(n, C, H, W)`` on ``device`` (a copy; X is untouched)."""
    # np.array copies, so read-only or memory-mapped input is fine and never aliased
    t = torch.from_numpy(np.array(X, dtype=np.float64 if dtype == torch.float64 else np.float32, order="C"))
    return t.reshape((t.shape[0],) + tuple(image_shape)).to(device)


def to_rows(t: torch.Tensor, dtype=np.float32) -> np.ndarray:
    """Tensor ``(n, C, H, W)`` -> numpy ``(n, C*H*W)`` of ``dtype``."""
    return t.detach().reshape(t.shape[0], -1).to("cpu", torch.float64).numpy().astype(dtype, copy=False)


def psnr(x, ref, data_range: float = 1.0):
    """Per-image PSNR in dB, ``10 log10(range^2 / mean squared error)``; works on numpy or torch rows."""
    if isinstance(x, torch.Tensor):
        mse = ((x - ref) ** 2).reshape(x.shape[0], -1).mean(dim=1)
        return 10 * torch.log10(data_range**2 / mse.clamp_min(1e-20))
    x = np.asarray(x, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    mse = ((x - ref) ** 2).reshape(x.shape[0], -1).mean(axis=1)
    return 10 * np.log10(data_range**2 / np.maximum(mse, 1e-20))
