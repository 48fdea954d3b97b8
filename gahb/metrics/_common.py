"""Input handling shared by the metrics: rows of images, chunking, centring and normalising."""

from __future__ import annotations

import numbers

import numpy as np
import torch

_DEFAULT_CHUNK = 4096


def _as_rows(X, name: str) -> np.ndarray:
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.dtype == object or not np.issubdtype(X.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array; got dtype {X.dtype}.")
    if X.ndim == 1:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got a 1-D array (reshape(1, -1) for one image).")
    if X.ndim > 2:
        X = X.reshape(X.shape[0], -1)
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty.")
    return X


def _pair(X, Y, name_x="X", name_y="Y"):
    X = _as_rows(X, name_x)
    Y = X if Y is None else _as_rows(Y, name_y)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"{name_x} has {X.shape[1]} features but {name_y} has {Y.shape[1]}.")
    return X, Y


def _check_chunk(chunk_size):
    if not isinstance(chunk_size, (numbers.Integral, np.integer)) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}.")
    return int(chunk_size)


def _prepare(block: np.ndarray, remove_mean: bool, normalize: bool) -> torch.Tensor:
    t = torch.from_numpy(np.array(block, dtype=np.float64, order="C", copy=True))
    if remove_mean:
        t = t - t.mean(dim=1, keepdim=True)
    if normalize:
        # a constant image has no direction: its similarity to anything is 0, not NaN
        n = t.norm(dim=1, keepdim=True)
        t = torch.where(n == 0, 0.0, t / torch.where(n == 0, 1.0, n))
    return t
