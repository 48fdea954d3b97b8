"""Private helpers shared by the dataset generators and loaders (numpy only)."""

from __future__ import annotations

import numbers
import os

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval

from gahb._checks import RANDOM_STATE, check_int, resolve_seed

__all__ = ["RANDOM_STATE", "POSITIVE_INT", "PATH", "size_constraint", "check_rng", "check_size", "check_range",
           "box_reduce", "area_matrix", "area_resize", "image_bunch", "bunch_or_X_y"]

# validate_params constraints shared by the public functions (array contents are checked by the helpers below)
POSITIVE_INT = [Interval(numbers.Integral, 1, None, closed="left")]
PATH = [str, os.PathLike]


def size_constraint(minimum: int = 1) -> list:
    """Constraint of an ``image_size``-like argument: an int ``>= minimum`` or a pair ``(H, W)``."""
    return [Interval(numbers.Integral, minimum, None, closed="left"), "array-like"]


def check_rng(random_state) -> np.random.Generator:
    """A numpy ``Generator`` seeded only by ``random_state`` (never the global RNG)."""
    return np.random.default_rng(resolve_seed(random_state))


def check_size(size, name: str = "image_size", minimum: int = 1) -> tuple[int, int]:
    """``size`` (an int, already validated, or a pair ``(H, W)`` whose entries are checked here) -> ``(H, W)``."""
    if isinstance(size, (numbers.Integral, np.integer)):
        return int(size), int(size)
    if len(size) != 2:
        raise ValueError(f"{name} must be an int or a pair (H, W); got {size!r}.")
    return check_int(size[0], f"{name}[0]", minimum), check_int(size[1], f"{name}[1]", minimum)


def check_range(value, name: str, low=None, high=None) -> tuple[float, float]:
    """A pair ``(a, b)`` of finite floats with ``low <= a <= b <= high``."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a pair of numbers (low, high); got {value!r}.") from exc
    if not (np.isfinite(a) and np.isfinite(b)) or a > b:
        raise ValueError(f"{name} must be finite with low <= high; got {value!r}.")
    if (low is not None and a < low) or (high is not None and b > high):
        raise ValueError(f"{name} must lie within [{low}, {high}]; got {value!r}.")
    return a, b


def box_reduce(images: np.ndarray, factor: int) -> np.ndarray:
    """Average non-overlapping ``factor x factor`` blocks of the last two axes (exact area downsampling)."""
    if factor == 1:
        return images
    *lead, H, W = images.shape
    h, w = H // factor, W // factor
    x = images[..., : h * factor, : w * factor].reshape(*lead, h, factor, w, factor)
    return x.mean(axis=(-3, -1))


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` area-averaging matrix: output cell ``i`` averages input span ``[i, i+1) * n_in / n_out``.

    For ``n_in`` a multiple of ``n_out`` this is the plain block mean.
    """
    edges = np.arange(n_out + 1) * (n_in / n_out)
    lo, hi = edges[:-1, None], edges[1:, None]
    cells = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0.0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def area_resize(images: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Area-average (box) resampling of the last two axes to ``out_hw``; always a new float64 array."""
    H, W = images.shape[-2:]
    h, w = out_hw
    x = np.asarray(images, dtype=np.float64)
    if (H, W) == (h, w):
        return x.copy()
    if H % h == 0 and W % w == 0 and H // h == W // w:
        return box_reduce(x, H // h)
    return area_matrix(H, h) @ x @ area_matrix(W, w).T


def image_bunch(images: np.ndarray, dtype=np.float32, *, generated: bool = False, **extra) -> Bunch:
    """Bunch with ``data`` (n, n_pixels), ``images`` (a view of ``data``) and ``image_shape``.

    Loaded images are clipped to [0, 1] (bicubic resizing overshoots a little). ``generated=True`` marks a
    synthetic generator, whose range holds by construction: anything beyond rounding is a bug and raises.
    """
    images = np.asarray(images, dtype=np.float64)
    if generated and images.size and (images.min() < -1e-6 or images.max() > 1 + 1e-6):
        raise RuntimeError(f"generator produced values in [{images.min()}, {images.max()}], outside [0, 1].")
    images = np.clip(images, 0.0, 1.0).astype(dtype)
    n = images.shape[0]
    data = np.ascontiguousarray(images.reshape(n, -1))
    image_shape = tuple(int(s) for s in images.shape[1:])
    return Bunch(data=data, images=data.reshape((n,) + image_shape), image_shape=image_shape, **extra)


def bunch_or_X_y(bunch: Bunch, return_X_y: bool, target: str):
    """scikit-learn's ``return_X_y`` convention: ``(bunch.data, bunch[target])`` instead of the Bunch."""
    return (bunch.data, bunch[target]) if return_X_y else bunch
