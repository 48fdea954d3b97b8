"""`TrainingSubset`: the training-set size N as a hyper-parameter (for grid searches over N)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

__all__ = ["TrainingSubset"]


class TrainingSubset(BaseEstimator):
    """Fit an estimator on the first ``n_train`` rows only, so that N is a hyper-parameter.

    Makes the training-set size searchable with ``GridSearchCV`` (``param_grid={"n_train": [10, 100]}``)
    together with :func:`gahb.metrics.memorization_scorer`. ``sample``, ``transform`` and ``score`` are
    those of the fitted copy.

    Parameters
    ----------
    estimator : estimator
    n_train : int, default=None
        Number of training rows used (all when None); must not exceed the rows given to ``fit``.

    Attributes
    ----------
    estimator_ : fitted clone of ``estimator``
    n_train_ : int
    """

    def __init__(self, estimator, n_train=None):
        self.estimator = estimator
        self.n_train = n_train

    def fit(self, X, y=None):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D; got shape {X.shape}.")
        n = X.shape[0] if self.n_train is None else self.n_train
        if not isinstance(n, (numbers.Integral, np.integer)) or isinstance(n, bool) or not 1 <= n <= X.shape[0]:
            raise ValueError(f"n_train must be an integer in [1, {X.shape[0]}]; got {self.n_train!r}.")
        self.n_train_ = int(n)
        self.estimator_ = clone(self.estimator).fit(X[: self.n_train_])
        return self

    def sample(self, n_samples=1, random_state=None, **kwargs):
        check_is_fitted(self, "estimator_")
        return self.estimator_.sample(n_samples, random_state=random_state, **kwargs)

    def transform(self, X):
        check_is_fitted(self, "estimator_")
        return self.estimator_.transform(X)

    def score(self, X, y=None):
        check_is_fitted(self, "estimator_")
        return self.estimator_.score(X)
