"""`MemorizingDenoiser`: the "perfect memorizer" (the empirical optimal denoiser) as an estimator."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

from gahb._checks import resolve_image_shape
from gahb._sampling import SAMPLER_PARAMETER_CONSTRAINTS, SamplingMixin
from gahb._utils import fitted_rows, image_rows, resolve_device, to_images, to_rows
from gahb.core.optimal import EmpiricalOptimalDenoiser

__all__ = ["MemorizingDenoiser"]


class MemorizingDenoiser(SamplingMixin, TransformerMixin, BaseEstimator):
    """The "perfect memorizer" as an estimator: the empirical optimal denoiser of its training set.

    ``fit`` stores the training set; ``transform`` denoises rows blindly (noise level estimated, see
    :class:`~gahb.core.optimal.EmpiricalOptimalDenoiser`); ``sample`` and ``reconstruct`` are those of
    :class:`DiffusionDenoiser` (the paper's sampler), with the exact posterior mean evaluated at the sampler's
    own noise estimate sigma_t. Its samples are training images, so it is the known answer of every
    memorization metric and drops into :func:`gahb.experiments.generalization.generalization_curve` in place
    of a trained network.

    Parameters
    ----------
    image_shape : tuple, default=None
        ``(H, W)`` or ``(C, H, W)``. ``None`` takes the shape from image-shaped input (``(n, H, W)`` or
        ``(n, C, H, W)``), else treats each row as a ``1 x n_features`` strip; both given must agree.
    h0, beta, sigma_0, sigma_final, max_sample_steps, sample_init
        Sampler settings, as in :class:`DiffusionDenoiser` (paper values by default).
    chunk_size : int, default=4096
        Training images processed at once.
    device : str or torch.device, default="auto"
        Where the training set is stored and the posterior mean computed (``"auto"``: CUDA when available).
    verbose : int, default=0
        ``> 0`` shows a progress bar in :meth:`sample` and :meth:`reconstruct`.

    Attributes
    ----------
    denoiser_ : EmpiricalOptimalDenoiser
        The posterior mean of the training set, a torch module on ``(B, C, H, W)`` tensors.
    train_mean_ : ndarray of shape (n_features,)
        Mean training image (the sampler's initial mean with ``sample_init="mean"``).
    image_shape_ : tuple of int
        Resolved ``(C, H, W)``.
    device_ : torch.device
        Where ``denoiser_`` lives.
    n_features_in_ : int
        Number of pixels per image.
    sample_info_ : dict
        Per-sample diagnostics of the last :meth:`sample` call.

    See Also
    --------
    DiffusionDenoiser : A trained denoiser, which generalizes when its training set is large enough.
    gahb.metrics.memorization_rate : Fraction of samples that copy a training image.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import MemorizingDenoiser
    >>> X = np.random.default_rng(0).random((5, 16))
    >>> samples = MemorizingDenoiser(image_shape=(4, 4), beta=1.0).fit(X).sample(3, random_state=0)
    >>> samples.shape
    (3, 16)
    >>> bool(np.sqrt(((samples[:, None] - X[None]) ** 2).mean(-1)).min(axis=1).max() < 0.05)  # training images
    True
    """

    _parameter_constraints: dict = {
        "image_shape": [None, tuple, list],
        **SAMPLER_PARAMETER_CONSTRAINTS,
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, image_shape=None, h0=0.01, beta=0.1, sigma_0=1.0, sigma_final=0.05, max_sample_steps=1000,
                 sample_init="mean", chunk_size=4096, device="auto", verbose=0):
        self.image_shape = image_shape
        self.h0 = h0
        self.beta = beta
        self.sigma_0 = sigma_0
        self.sigma_final = sigma_final
        self.max_sample_steps = max_sample_steps
        self.sample_init = sample_init
        self.chunk_size = chunk_size
        self.device = device
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Store the training set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Training images.
        y : None
            Ignored.

        Returns
        -------
        self : MemorizingDenoiser
            The fitted estimator.

        See Also
        --------
        sample : Draw (training) images with the paper's sampler.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import MemorizingDenoiser
        >>> MemorizingDenoiser().fit(np.zeros((3, 4, 4))).image_shape_
        (1, 4, 4)
        """
        X, array_shape = image_rows(X, self.image_shape)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self.image_shape_ = array_shape or resolve_image_shape(self.image_shape, X.shape[1])
        self.device_ = resolve_device(self.device)
        self._check_sigma_order()
        self.train_mean_ = X.mean(axis=0).astype(np.float64)
        self.denoiser_ = EmpiricalOptimalDenoiser(X, self.image_shape_, chunk_size=self.chunk_size).to(self.device_)
        return self

    def transform(self, X):
        """Denoise images blindly: the posterior mean at the noise level estimated from each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Noisy images.

        Returns
        -------
        X_denoised : ndarray of shape (n_samples, n_features)
            Denoised rows, same dtype as ``X``.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import MemorizingDenoiser
        >>> X = np.random.default_rng(0).random((5, 16))
        >>> den = MemorizingDenoiser().fit(X)
        >>> bool(np.allclose(den.transform(X + 0.01), X, atol=0.02))
        True
        """
        X = fitted_rows(self, X, attributes="denoiser_")
        with torch.no_grad():
            out = self.denoiser_(to_images(X, self.image_shape_, self.device_))
        return to_rows(out, X.dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
