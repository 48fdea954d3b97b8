"""`TrainingSubset`: the training-set size N as a hyper-parameter (for grid searches over N)."""

from __future__ import annotations

import numbers
from copy import deepcopy

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import _estimator_has, _num_samples, check_is_fitted, indexable

__all__ = ["TrainingSubset"]


class TrainingSubset(MetaEstimatorMixin, BaseEstimator):
    """Fit an estimator on the first ``n_train`` rows only, so that N is a hyper-parameter.

    Makes the training-set size searchable with ``GridSearchCV`` (``param_grid={"n_train": [10, 100]}``)
    together with :func:`gahb.metrics.memorization_scorer`. ``sample``, ``transform``, ``fit_transform``
    and ``score`` are those of the fitted copy, and exist when the wrapped estimator has them.

    Parameters
    ----------
    estimator : estimator
        The estimator to train (cloned), e.g. a :class:`DiffusionDenoiser` or :class:`MemorizingDenoiser`.
    n_train : int, default=None
        Number of training rows used, the first ones (all when None); must not exceed the rows given to
        ``fit``. X may be image-shaped (``(n, H, W)``, ``(n, C, H, W)``) if the estimator accepts it.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone of ``estimator``.
    n_train_ : int
        Number of rows it was trained on.
    n_features_in_ : int
        Number of features (pixels) of ``estimator_``.

    See Also
    --------
    gahb.metrics.memorization_scorer : A scorer of the memorization rate for grid searches over N.
    gahb.experiments.generalization.generalization_curve : The whole sweep over N.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV, KFold
    >>> from gahb import MemorizingDenoiser, TrainingSubset
    >>> from gahb.metrics import memorization_scorer
    >>> X = np.random.default_rng(0).random((40, 64))
    >>> search = GridSearchCV(TrainingSubset(MemorizingDenoiser(image_shape=(8, 8), beta=1.0)),
    ...                       {"n_train": [2, 10]}, scoring=memorization_scorer(4), cv=KFold(2)).fit(X)
    >>> search.best_estimator_.n_train_ in (2, 10)
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit"])],
        "n_train": [None, Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, estimator, n_train=None):
        self.estimator = estimator
        self.n_train = n_train

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit a clone of ``estimator`` on the first ``n_train`` rows of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training data, as the wrapped estimator takes it.
        y : None
            Ignored.

        Returns
        -------
        self : TrainingSubset
            The fitted estimator.
        """
        X = indexable(X)[0]  # sparse input becomes CSR (the wrapped estimator says if it takes it)
        n_rows = _num_samples(X)
        n = n_rows if self.n_train is None else self.n_train
        if n > n_rows:
            raise ValueError(f"n_train={self.n_train} exceeds the {n_rows} rows of X.")
        self.n_train_ = int(n)
        self.estimator_ = clone(self.estimator).fit(_safe_indexing(X, np.arange(self.n_train_)))
        return self

    @property
    def n_features_in_(self):
        """Number of features seen by ``estimator_`` during :meth:`fit`."""
        return self.estimator_.n_features_in_

    @available_if(_estimator_has("sample"))
    def sample(self, n_samples=1, random_state=None, **kwargs):
        """``estimator_.sample``: draw samples from the model trained on ``n_train`` rows.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState, torch.Generator, ... or None, default=None
            As in the wrapped estimator's ``sample``.
        **kwargs
            Further keyword arguments of the wrapped estimator's ``sample``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
            The samples (and whatever else the wrapped ``sample`` returns).
        """
        check_is_fitted(self)
        return self.estimator_.sample(n_samples, random_state=random_state, **kwargs)

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        """``estimator_.transform(X)``.

        Parameters
        ----------
        X : array-like
            Input of the wrapped estimator's ``transform``.

        Returns
        -------
        X_new : ndarray
            Its output.
        """
        check_is_fitted(self)
        return self.estimator_.transform(X)

    @available_if(_estimator_has("transform"))
    def fit_transform(self, X, y=None):
        """``fit(X).transform(X)``: trained on the first ``n_train`` rows, applied to all of them.

        Parameters
        ----------
        X : array-like
            Training data.
        y : None
            Ignored.

        Returns
        -------
        X_new : ndarray
            ``transform(X)`` after fitting.
        """
        return self.fit(X, y).transform(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y=None):
        """``estimator_.score(X)``.

        Parameters
        ----------
        X : array-like
            Test data.
        y : None
            Ignored.

        Returns
        -------
        score : float
            The wrapped estimator's score.
        """
        check_is_fitted(self)
        return self.estimator_.score(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags = deepcopy(inner.input_tags)
        tags.transformer_tags = deepcopy(inner.transformer_tags)
        tags.target_tags.required = inner.target_tags.required
        return tags
