"""Input handling shared by the metrics: argument constraints, rows of images, centring and normalising."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from gahb._checks import check_rows

_DEFAULT_CHUNK = 4096

# validate_params constraints shared by the public functions
POSITIVE_INT = [Interval(numbers.Integral, 1, None, closed="left")]
CHUNK_SIZE = POSITIVE_INT
BOOLEAN = ["boolean"]


def _pair(X, Y, name_x="X", name_y="Y"):
    """Two sets of image rows with the same number of features (``Y=None`` means ``X``)."""
    X = check_rows(X, name_x)
    Y = X if Y is None else check_rows(Y, name_y)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"{name_x} has {X.shape[1]} features but {name_y} has {Y.shape[1]}.")
    return X, Y


def _prepare(block: np.ndarray, remove_mean: bool, normalize: bool) -> torch.Tensor:
    t = torch.from_numpy(np.array(block, dtype=np.float64, order="C", copy=True))
    if remove_mean:
        t = t - t.mean(dim=1, keepdim=True)
    if normalize:
        # a constant image has no direction: its similarity to anything is 0, not NaN
        n = t.norm(dim=1, keepdim=True)
        t = torch.where(n == 0, 0.0, t / torch.where(n == 0, 1.0, n))
    return t
