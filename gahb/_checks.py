"""Argument checks and seeds shared by every layer (numpy only, so ``gahb.datasets`` stays torch-free)."""

from __future__ import annotations

import math
import numbers
import os
import tempfile

import numpy as np

__all__ = [
    "RANDOM_STATE",
    "resolve_seed",
    "check_int",
    "check_real",
    "check_image_shape",
    "resolve_image_shape",
    "check_rows",
]

# ``validate_params`` constraint of every public ``random_state``: scikit-learn's (None, an int in
# [0, 2**32 - 1], a RandomState) plus a numpy Generator. Strings and types only, so no scikit-learn import here.
RANDOM_STATE = ["random_state", np.random.Generator]


def resolve_seed(random_state) -> int:
    """Turn a sklearn-style ``random_state`` into one 63-bit integer seed.

    ``None`` draws fresh OS entropy (never the global numpy/torch state); an int is used as is;
    a ``RandomState``/``Generator`` is advanced by one draw. Drawn seeds lie in ``[0, 2**32)``, so a seed
    resolved here is again a valid ``random_state`` of every gahb function and estimator.
    """
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    if isinstance(random_state, (numbers.Integral, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}.")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**32))
    raise TypeError(
        "random_state must be None, an int, a numpy RandomState or Generator; "
        f"got {type(random_state).__name__}."
    )


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


def check_rows(X, name: str = "X", *, finite: bool = False) -> np.ndarray:
    """Images as rows: ``(n, n_features)``, ``(n, H, W)`` or ``(n, C, H, W)`` -> 2-D numeric numpy array.

    Accepts anything ``np.asarray`` reads, and torch tensors on any device (read by duck typing, so this
    module needs no torch). Returns a view when possible: the caller's array is never modified.
    ``finite=True`` also rejects NaN and infinity.
    """
    if hasattr(X, "detach") and hasattr(X, "cpu"):
        X = X.detach().cpu().numpy()
    kind = type(X).__name__
    X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be a numeric array of images; got {kind} with dtype {X.dtype}.")
    if X.ndim < 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features) or image-shaped (n, [C,] H, W); got shape "
                         f"{X.shape} (reshape(1, -1) for one image).")
    if X.ndim > 2:
        X = X.reshape(X.shape[0], -1)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {X.shape}).")
    if finite and X.dtype.kind == "f" and not np.isfinite(X).all():
        bad = int(np.count_nonzero(~np.isfinite(X).all(axis=1)))
        raise ValueError(f"{name} contains NaN or infinity in {bad} of {X.shape[0]} rows.")
    return X


def ensure_writable_folder(path) -> None:
    """Create the folder ``path`` (and its parents) and prove that a file can be written in it, before any
    work that would end by writing there; ``OSError`` otherwise."""
    os.makedirs(path, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path, prefix=".gahb-write-test-"):
        pass
