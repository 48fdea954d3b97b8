"""`MemorizingDenoiser`: the "perfect memorizer" (the empirical optimal denoiser) as an estimator."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from gahb._checks import resolve_image_shape, resolve_seed
from gahb._utils import to_images, to_rows
from gahb.core.optimal import EmpiricalOptimalDenoiser
from gahb.core.random import sample_generators

__all__ = ["MemorizingDenoiser"]


class MemorizingDenoiser(TransformerMixin, BaseEstimator):
    """The "perfect memorizer" as an estimator: the empirical optimal denoiser of its training set.

    ``fit`` stores the training set; ``transform`` denoises rows blindly (noise level estimated, see
    :class:`EmpiricalOptimalDenoiser`); ``sample`` runs the paper's sampler (:func:`gahb.core.sampling.sample_ks`)
    with the exact posterior mean at the sampler's own noise estimate sigma_t. Its samples are training
    images, so it is the known answer of every memorization metric and drops into
    :func:`gahb.experiments.generalization.generalization_curve` in place of a trained network.

    Parameters
    ----------
    image_shape : tuple, default=None
        ``(H, W)`` or ``(C, H, W)``; ``None`` treats each row as a ``1 x n_features`` strip.
    h0, beta, sigma_0, sigma_final, max_sample_steps
        Sampler settings, as in :class:`gahb.DiffusionDenoiser` (paper values by default).
    chunk_size : int, default=4096
        Training images processed at once.

    Attributes
    ----------
    denoiser_ : EmpiricalOptimalDenoiser
    train_mean_ : ndarray of shape (n_features,)
    image_shape_ : tuple (C, H, W)
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((5, 16))
    >>> samples = MemorizingDenoiser(image_shape=(4, 4), beta=1.0).fit(X).sample(3, random_state=0)
    >>> samples.shape
    (3, 16)
    """

    _parameter_constraints: dict = {
        "image_shape": [None, tuple, list],
        "h0": [Interval(numbers.Real, 0, 1, closed="right")],
        "beta": [Interval(numbers.Real, 0, 1, closed="right")],
        "sigma_0": [Interval(numbers.Real, 0, None, closed="neither")],
        "sigma_final": [Interval(numbers.Real, 0, None, closed="left")],
        "max_sample_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, image_shape=None, h0=0.01, beta=0.1, sigma_0=1.0, sigma_final=0.05, max_sample_steps=1000,
                 chunk_size=4096):
        self.image_shape = image_shape
        self.h0 = h0
        self.beta = beta
        self.sigma_0 = sigma_0
        self.sigma_final = sigma_final
        self.max_sample_steps = max_sample_steps
        self.chunk_size = chunk_size

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Store the training set ``X`` of shape (n_samples, n_features)."""
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.image_shape_ = resolve_image_shape(self.image_shape, X.shape[1])
        self.train_mean_ = X.mean(axis=0)
        self.denoiser_ = EmpiricalOptimalDenoiser(X, self.image_shape_, chunk_size=self.chunk_size)
        return self

    def transform(self, X):
        """Denoise rows blindly (posterior mean at the estimated noise level)."""
        check_is_fitted(self, "denoiser_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        with torch.no_grad():
            out = self.denoiser_(to_images(X, self.image_shape_))
        return to_rows(out, X.dtype)

    def sample(self, n_samples=1, random_state=None, *, return_info=False):
        """Draw samples with the paper's sampler; sample ``i`` gets noise from ``(random_state, i)``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), float32
        info : dict, only if ``return_info``: per-sample ``n_steps``, ``converged``, ``diverged``.
        """
        from gahb.core.sampling import sample_ks

        check_is_fitted(self, "denoiser_")
        if not isinstance(n_samples, (numbers.Integral, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
        gens = sample_generators(resolve_seed(random_state), int(n_samples))
        mean = torch.as_tensor(self.train_mean_, dtype=torch.float32).reshape(self.image_shape_)
        with torch.no_grad():
            out = sample_ks(self.denoiser_, mean, gens, sigma_0=self.sigma_0, sigma_final=self.sigma_final,
                            max_steps=self.max_sample_steps, h0=self.h0, beta=self.beta)
        X = to_rows(out.x, np.float32)
        if not return_info:
            return X
        return X, {"n_steps": out.n_steps.numpy(), "converged": out.converged.numpy(),
                   "diverged": out.diverged.numpy()}
