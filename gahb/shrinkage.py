"""`GAHBShrinkage`: denoising by shrinkage in the adaptive basis of a denoiser or in a fixed basis (GAHB §3).

With the network's own factors it reproduces J_s(y) y (GAHB eq. 6); with the oracle factors (eqs. 11-13) it
is the best any shrinkage in that basis can do, so comparing bases and rules tells how close a network is to
optimal in its own basis and how much better that basis is than wavelets.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from gahb._checks import resolve_image_shape
from gahb._utils import image_rows
from gahb.basis import JacobianEigenbasis, _check_rows, dct_basis, oracle_shrinkage, pca_basis, wavelet_basis

__all__ = ["GAHBShrinkage"]


class GAHBShrinkage(TransformerMixin, BaseEstimator):
    """Denoising by shrinkage in an orthonormal basis: adaptive (the network's) or fixed.

    ``transform(Y)`` returns sum_k lambda_k <y, e_k> e_k for each noisy row y; :meth:`decompose` returns
    the coefficients and shrinkage factors of the call as well. Comparing the rules answers "is my network
    near the oracle in its own basis, and how much better is its basis than wavelets?".

    Parameters
    ----------
    denoiser : estimator or callable, default=None
        For ``basis="adaptive"``: as in :class:`JacobianEigenbasis` (the fixed bases need none).
    basis : {"adaptive", "wavelet", "dct", "pca"}, default="adaptive"
        ``adaptive``: e_k(y) = eigenvectors of the symmetric part of the denoiser's Jacobian at y.
        ``wavelet``: orthonormal periodized wavelets (``wavelet``, see :func:`wavelet_basis`). ``dct``: 2-D
        DCT-II. ``pca``: eigenvectors of the training images' second-moment matrix (learned by ``fit``).
    shrinkage : {"network", "oracle", "soft", "hard"}, default="network"
        ``network`` (adaptive basis only): the Jacobian eigenvalues lambda_k(y), so with all components the
        output is J_s(y) y, which equals f(y) up to the Jacobian's asymmetry, (J^T - J) y / 2.
        ``oracle``: lambda_k = c_k^2 / (c_k^2 + sigma^2) with c_k = <x, e_k> of the clean image (needs
        ``X_clean`` and ``sigma``; eqs. 11-13). ``soft``/``hard``: thresholds at ``threshold * sigma``.
    sigma : float or None, default=None
        Noise standard deviation (needed by ``oracle``, ``soft`` and ``hard``).
    threshold : float or None, default=None
        Threshold in units of sigma; ``None`` means 3 for ``hard`` and 1.5 for ``soft``.
    wavelet : str, default="db2"
        Orthogonal PyWavelets name for ``basis="wavelet"``.
    n_components : int or None, default=None
        Adaptive basis only: eigenpairs kept (coefficients beyond are set to 0); ``None`` keeps all.
    method : {"auto", "full", "lanczos"}, default="auto"
        Adaptive basis only, as in :class:`JacobianEigenbasis`.
    image_shape : tuple or None, default=None
        ``(H, W)`` or ``(C, H, W)``. ``None`` takes it from the denoiser (an estimator), from image-shaped X
        (``(n, H, W)`` or ``(n, C, H, W)``), or treats rows as ``1 x n_features`` strips.
    random_state : int, RandomState or None, default=None
        Seeds the adaptive basis's Lanczos start and probes.

    Attributes
    ----------
    basis_ : ndarray of shape (n_features, n_features) or None
        The fixed basis (atoms as columns); ``None`` for the adaptive basis.
    eigenbasis_ : JacobianEigenbasis or None
        The fitted adaptive-basis helper (``None`` for a fixed basis).
    image_shape_ : tuple of int
        ``(C, H, W)``.
    n_features_in_ : int
        Number of pixels per image.

    See Also
    --------
    JacobianEigenbasis : The adaptive basis itself.
    oracle_shrinkage : The oracle factors from clean coefficients.
    wavelet_basis, dct_basis, pca_basis : The fixed bases as matrices.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import GAHBShrinkage
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(4, 64)); Y = X + 0.1 * rng.standard_normal(X.shape)
    >>> sh = GAHBShrinkage(basis="dct", shrinkage="oracle", sigma=0.1, image_shape=(8, 8)).fit(X)
    >>> sh.transform(Y, X_clean=X).shape
    (4, 64)
    >>> sh.decompose(Y, X_clean=X).shrinkage_factors.shape
    (4, 64)

    With a denoiser, first, as in :class:`JacobianEigenbasis`:

    >>> from gahb import DiffusionDenoiser
    >>> den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=20, image_shape=(8, 8), random_state=0).fit(X)
    >>> GAHBShrinkage(den, n_components=16).fit(X).transform(Y).shape
    (4, 64)
    """

    _parameter_constraints: dict = {
        "denoiser": "no_validation",
        "basis": [StrOptions({"adaptive", "wavelet", "dct", "pca"})],
        "shrinkage": [StrOptions({"network", "oracle", "soft", "hard"})],
        "sigma": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "threshold": [None, Interval(numbers.Real, 0, None, closed="left")],
        "wavelet": [str],
        "n_components": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "method": [StrOptions({"auto", "full", "lanczos"})],
        "image_shape": [None, tuple, list],
        "random_state": ["random_state"],
    }

    def __init__(self, denoiser=None, basis="adaptive", shrinkage="network", sigma=None, threshold=None,
                 wavelet="db2", n_components=None, method="auto", image_shape=None, random_state=None):
        self.denoiser = denoiser
        self.basis = basis
        self.shrinkage = shrinkage
        self.sigma = sigma
        self.threshold = threshold
        self.wavelet = wavelet
        self.n_components = n_components
        self.method = method
        self.image_shape = image_shape
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Build the basis: PCA from X, wavelet/DCT from the image shape, or the adaptive-basis helper.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Training images (used by ``pca``, and to train an unfitted denoiser).
        y : None
            Ignored.

        Returns
        -------
        self : GAHBShrinkage
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import GAHBShrinkage
        >>> X = np.random.default_rng(0).random((10, 16))
        >>> GAHBShrinkage(basis="pca", shrinkage="soft", sigma=0.1).fit(X).basis_.shape
        (16, 16)
        """
        if self.shrinkage == "network" and self.basis != "adaptive":
            raise ValueError("shrinkage='network' needs basis='adaptive' (the factors are the Jacobian's eigenvalues).")
        if self.shrinkage in ("oracle", "soft", "hard") and self.sigma is None:
            raise ValueError(f"shrinkage={self.shrinkage!r} needs sigma.")
        X_in = X
        X, array_shape = image_rows(X, self.image_shape)
        X = validate_data(self, X, dtype=np.float64)
        self.eigenbasis_, self.basis_ = None, None
        if self.basis == "adaptive":
            self.eigenbasis_ = JacobianEigenbasis(self.denoiser, n_components=self.n_components, method=self.method,
                                                  image_shape=self.image_shape, random_state=self.random_state)
            self.eigenbasis_.fit(X_in)
            self.image_shape_ = self.eigenbasis_.image_shape_
            return self
        self.image_shape_ = array_shape or resolve_image_shape(self.image_shape, X.shape[1])
        if self.basis == "pca":
            self.basis_ = pca_basis(X)
        elif self.basis == "dct":
            self.basis_ = dct_basis(self.image_shape_)
        else:
            self.basis_ = wavelet_basis(self.image_shape_, self.wavelet)
        return self

    def decompose(self, X, X_clean=None):
        """Denoise by shrinkage and return everything the call computed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Noisy images y.
        X_clean : array-like of the same shape, default=None
            The clean images, needed by ``shrinkage="oracle"`` (ignored by the other rules).

        Returns
        -------
        result : Bunch
            ``denoised`` (n, d): sum_k lambda_k <y, e_k> e_k, what :meth:`transform` returns;
            ``coefficients`` (n, k): <y, e_k>; ``shrinkage_factors`` (n, k): lambda_k; ``basis``: for the
            adaptive basis the :meth:`JacobianEigenbasis.decompose` result at y (bases, eigenvalues,
            diagonistics), ``None`` for a fixed basis (it is ``basis_``).

        See Also
        --------
        transform : Only the denoised images.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import GAHBShrinkage
        >>> Y = 5 + np.random.default_rng(0).normal(size=(2, 64))  # a constant image plus unit noise
        >>> res = GAHBShrinkage(basis="wavelet", shrinkage="hard", sigma=1.0, image_shape=(8, 8)).fit(Y).decompose(Y)
        >>> res.shrinkage_factors.sum(axis=1)  # hard thresholding at 3 sigma keeps only the coarse coefficient
        array([1., 1.])
        """
        if self.shrinkage == "oracle" and X_clean is None:
            raise ValueError("shrinkage='oracle' needs the clean images: transform(X, X_clean=...).")
        X, X_clean = _check_rows(self, X, X_clean if self.shrinkage == "oracle" else None)
        res = None
        if self.basis_ is not None:
            coefs = X @ self.basis_
            atoms = np.broadcast_to(self.basis_.T, (X.shape[0],) + self.basis_.T.shape)
        else:
            res = self.eigenbasis_.decompose(X)
            coefs, atoms = res.coefficients, res.components
        if self.shrinkage == "network":
            lam = res.eigenvalues
        elif self.shrinkage == "oracle":
            lam = oracle_shrinkage(np.einsum("nkd,nd->nk", atoms, X_clean), self.sigma)
        else:
            t = (self.threshold if self.threshold is not None else (3.0 if self.shrinkage == "hard" else 1.5))
            t = t * float(self.sigma)
            mag = np.abs(coefs)
            if self.shrinkage == "hard":
                lam = (mag > t).astype(np.float64)
            else:
                lam = np.clip(1 - t / np.maximum(mag, 1e-300), 0, None)
        return Bunch(denoised=np.einsum("nk,nkd->nd", lam * coefs, atoms), coefficients=coefs,
                     shrinkage_factors=lam, basis=res)

    def transform(self, X, X_clean=None):
        """Denoise the noisy images of X by shrinkage; ``X_clean`` (same shape) is needed by ``oracle``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Noisy images y.
        X_clean : array-like of the same shape, default=None
            The clean images (``shrinkage="oracle"`` only).

        Returns
        -------
        X_denoised : ndarray of shape (n_samples, n_features)
            ``decompose(X, X_clean).denoised``.

        See Also
        --------
        decompose : The coefficients and shrinkage factors as well.
        """
        return self.decompose(X, X_clean).denoised
