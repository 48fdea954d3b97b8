"""The adaptive basis of a denoiser (`JacobianEigenbasis`), shrinkage in a basis (`GAHBShrinkage`), fixed bases.

A bias-free denoiser computes f(y) = J(y) y = sum_k lambda_k <y, e_k(y)> e_k(y) (GAHB eq. 6): shrinkage
in an orthonormal basis that adapts to y. `JacobianEigenbasis` exposes that basis and its shrinkage
factors; `GAHBShrinkage` denoises by shrinkage in the adaptive basis or in a fixed one (wavelets, DCT,
PCA), with the network's own factors, the oracle factors (eqs. 11-13) or soft/hard thresholds.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from gahb._checks import resolve_image_shape, resolve_seed
from gahb.core import jacobian as jb
from gahb.core.random import sample_generators

__all__ = [
    "JacobianEigenbasis",
    "GAHBShrinkage",
    "oracle_shrinkage",
    "oracle_mse",
    "wavelet_basis",
    "dct_basis",
    "pca_basis",
]

AUTO_FULL_MAX_FEATURES = 4096  # "auto" uses the dense Jacobian up to 64 x 64 one-channel images


# ----------------------------------------------------------------------------------------------------------
# denoiser resolution and the per-image adaptive basis


def _resolve_denoiser(denoiser, X, image_shape):
    """-> (fitted estimator or callable, torch callable, (C, H, W), device)."""
    if denoiser is None:
        raise ValueError("denoiser is required: a fitted DiffusionDenoiser, a FrozenEstimator or a torch callable.")
    if hasattr(denoiser, "fit") and hasattr(denoiser, "get_params"):
        try:
            check_is_fitted(denoiser)
            est = denoiser
        except NotFittedError:
            est = clone(denoiser).fit(X)
        f = getattr(est, "denoiser_", None)
        if f is None or not callable(f):
            raise TypeError(f"{type(denoiser).__name__} has no torch callable 'denoiser_' after fitting.")
        shape = tuple(getattr(est, "image_shape_", ())) or resolve_image_shape(image_shape, X.shape[1])
        if int(np.prod(shape)) != X.shape[1]:
            raise ValueError(f"The denoiser works on images of shape {shape} but X has {X.shape[1]} features.")
        device = getattr(est, "device_", torch.device("cpu"))
        return est, f, shape, device
    if callable(denoiser):
        if image_shape is None:
            raise ValueError("image_shape is required when denoiser is a torch callable.")
        shape = resolve_image_shape(image_shape, X.shape[1])
        device = torch.device("cpu")
        if isinstance(denoiser, torch.nn.Module):
            p = next(iter(denoiser.parameters()), None)
            device = p.device if p is not None else device
        return denoiser, denoiser, shape, device
    raise TypeError(f"denoiser must be an estimator or a callable; got {type(denoiser).__name__}.")


def _adaptive_basis(f, y, k, method, n_probes, random_state, max_memory):
    """Eigen-analysis of J(y) at one image (C, H, W): the top-k basis and its diagnostics."""
    if method == "full":
        J = jb.full_jacobian(f, y, max_memory=max_memory)
        lam, E = jb.symmetric_eigh(J)
        return Bunch(eigenvalues=lam[:k].cpu().numpy(), eigenvectors=E[:, :k].cpu().numpy(),
                     effective_dimension=float(J.double().trace()), effective_dimension_std=0.0,
                     asymmetry=jb.asymmetry(J), homogeneity_error=jb.homogeneity_error(f, y, J))
    lam, E, _ = jb.top_eigenpairs(f, y, k, method="lanczos", random_state=random_state, max_memory=max_memory)
    tr = jb.hutchinson_trace(f, y, n_probes, random_state=random_state, max_memory=max_memory)
    return Bunch(eigenvalues=lam.numpy(), eigenvectors=E.numpy(), effective_dimension=tr.estimate,
                 effective_dimension_std=tr.std_error,
                 asymmetry=jb.probe_asymmetry(f, y, n_probes, random_state=random_state, max_memory=max_memory),
                 homogeneity_error=jb.homogeneity_error(f, y))


def _noisy(X, sigma, random_state):
    """y = x + sigma z with the noise of row i drawn from its own generator seeded by (seed, i)."""
    if sigma is None:
        return X
    seed = resolve_seed(random_state)
    Z = np.stack([torch.randn(X.shape[1], generator=g, dtype=torch.float64).numpy()
                  for g in sample_generators(seed, X.shape[0])])
    return X + float(sigma) * Z


class JacobianEigenbasis(TransformerMixin, BaseEstimator):
    """The geometry-adaptive basis of a denoiser: eigenvectors of its Jacobian at each input image.

    At an image y, a bias-free denoiser computes f(y) = J(y) y = sum_k lambda_k <y, e_k(y)> e_k(y)
    (GAHB eq. 6), with (lambda_k, e_k) the eigenpairs of the symmetric part of J(y), descending.
    ``transform`` computes that basis at every row and returns coefficients on it.

    Parameters
    ----------
    denoiser : estimator or callable
        A fitted ``gahb.DiffusionDenoiser`` (its ``denoiser_`` is used), a
        ``sklearn.frozen.FrozenEstimator`` around one, an unfitted ``DiffusionDenoiser`` (``fit`` then
        trains a clone on X: the meta-estimator pattern that lets the whole thing sit in a ``Pipeline``),
        or any torch callable mapping ``(B, C, H, W)`` to ``(B, C, H, W)`` (needs ``image_shape``).
    n_components : int or None, default=None
        Eigenpairs kept per image, largest first. ``None`` keeps all ``d`` with ``method="full"`` and 32
        with ``method="lanczos"``.
    method : {"auto", "full", "lanczos"}, default="auto"
        ``full``: dense J (batched VJPs) and ``eigh``; exact trace and asymmetry. ``lanczos``: matrix-free
        top-k eigenpairs (scipy ``eigsh``), trace by Hutchinson and asymmetry by probes (``n_probes``).
        ``auto``: ``full`` up to 4096 pixels (64 x 64), else ``lanczos``.
    sigma : float or None, default=None
        ``None``: the rows given to ``transform`` are the noisy images y, and coefficients are those of y
        (or of ``X_clean`` when passed). A number: ``transform`` receives clean images x, adds noise of this
        standard deviation (seeded by ``random_state``, row i from its own generator) and returns the
        paper's coefficients <x, e_k(y)> of the clean image on the basis of the noisy one.
    image_shape : tuple or None, default=None
        ``(H, W)`` or ``(C, H, W)``; needed only for a plain callable (estimators know theirs).
    n_probes : int, default=32
        Probes of the Hutchinson trace and asymmetry estimates (``lanczos`` only).
    max_memory : int, default=2 GiB
        Bytes of autograd buffers per batched pass of the dense Jacobian.
    random_state : int, RandomState or None, default=None
        Seeds the added noise, the Lanczos start vector and the probes.

    Attributes
    ----------
    denoiser_ : estimator or callable
        The fitted denoiser used.
    image_shape_ : tuple of int
        ``(C, H, W)``.
    method_ : str
        ``"full"`` or ``"lanczos"``.
    n_components_ : int
    n_features_in_ : int
    eigenvalues_ : ndarray of shape (n_images, n_components_)
        Shrinkage factors lambda_k(y) of the images of the last ``transform`` call.
    components_ : ndarray of shape (n_images, n_components_, n_features)
        Eigenvectors e_k(y) (rows, unit norm, sign fixed so the largest entry is positive), last call.
    effective_dimension_ : ndarray of shape (n_images,)
        tr J(y) = sum_k lambda_k over all d eigenvalues (exact, or Hutchinson for ``lanczos``), last call.
    effective_dimension_std_ : ndarray of shape (n_images,)
        Standard error of the Hutchinson estimate (0 when exact).
    asymmetry_ : ndarray of shape (n_images,)
        ||J - J^T||_F / ||J||_F, last call.
    homogeneity_error_ : ndarray of shape (n_images,)
        ||J y - f(y)|| / ||f(y)||, last call (about 1e-7 for a bias-free network in float32).
    noisy_ : ndarray of shape (n_images, n_features)
        The images y at which the bases were computed, last call.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import DiffusionDenoiser, JacobianEigenbasis
    >>> X = np.random.default_rng(0).uniform(size=(64, 64))
    >>> den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=20, image_shape=(8, 8), random_state=0).fit(X)
    >>> eb = JacobianEigenbasis(den, n_components=10, sigma=0.1, random_state=0).fit(X)
    >>> eb.transform(X[:2]).shape
    (2, 10)
    >>> eb.eigenvalues_.shape
    (2, 10)
    """

    _parameter_constraints: dict = {
        "denoiser": "no_validation",
        "n_components": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "method": [StrOptions({"auto", "full", "lanczos"})],
        "sigma": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "image_shape": [None, tuple, list],
        "n_probes": [Interval(numbers.Integral, 2, None, closed="left")],
        "max_memory": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, denoiser=None, n_components=None, method="auto", sigma=None, image_shape=None,
                 n_probes=32, max_memory=jb.DEFAULT_MAX_MEMORY, random_state=None):
        self.denoiser = denoiser
        self.n_components = n_components
        self.method = method
        self.sigma = sigma
        self.image_shape = image_shape
        self.n_probes = n_probes
        self.max_memory = max_memory
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Resolve the denoiser (training a clone on X if it is an unfitted estimator) and the image shape.

        A fitted or frozen denoiser is used as is: no training, X is only validated.
        """
        X = validate_data(self, X, dtype=np.float64)
        self.denoiser_, self._f, self.image_shape_, self._device = _resolve_denoiser(
            self.denoiser, X, self.image_shape)
        d = X.shape[1]
        self.method_ = ("full" if d <= AUTO_FULL_MAX_FEATURES else "lanczos") if self.method == "auto" else self.method
        if self.method_ == "full":
            self.n_components_ = d if self.n_components is None else int(self.n_components)
            if self.n_components_ > d:
                raise ValueError(f"n_components={self.n_components} exceeds the number of pixels {d}.")
        else:
            self.n_components_ = min(32, d - 1) if self.n_components is None else int(self.n_components)
            if self.n_components_ >= d:
                raise ValueError(f"method='lanczos' needs n_components < n_features = {d}; use method='full'.")
        return self

    def _images(self, X):
        # the denoiser's own parameter dtype (float64 networks are common for exactness checks)
        p = next(iter(self._f.parameters()), None) if isinstance(self._f, torch.nn.Module) else None
        dtype = p.dtype if p is not None and p.is_floating_point() else torch.float32
        return torch.as_tensor(X, dtype=dtype, device=self._device).reshape((-1,) + self.image_shape_)

    def decompose(self, X):
        """Eigen-analysis at each row of ``X`` (the images y themselves, no noise added) as a Bunch.

        Returns ``eigenvalues`` (n, k), ``components`` (n, k, d), ``effective_dimension``,
        ``effective_dimension_std``, ``asymmetry``, ``homogeneity_error`` (each (n,)).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        seed = resolve_seed(self.random_state)
        parts = [_adaptive_basis(self._f, y, self.n_components_, self.method_, self.n_probes, seed, self.max_memory)
                 for y in self._images(X)]
        return Bunch(
            eigenvalues=np.stack([p.eigenvalues for p in parts]),
            components=np.stack([p.eigenvectors.T for p in parts]),
            **{key: np.array([p[key] for p in parts]) for key in
               ("effective_dimension", "effective_dimension_std", "asymmetry", "homogeneity_error")},
        )

    def transform(self, X, X_clean=None):
        """Coefficients on the adaptive basis, one row per image: ``<x, e_k(y)>`` for k < n_components.

        With ``sigma=None`` the rows of X are the images y (the basis is J(y)'s) and the coefficients are
        those of y, or of ``X_clean`` (same shape) when given. With ``sigma`` set, X holds clean images x,
        y = x + sigma z, and the coefficients are those of x. The bases and diagnostics of this call are
        stored in the attributes ending in ``_`` (see the class docstring) for ``inverse_transform``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if X_clean is not None:
            if self.sigma is not None:
                raise ValueError("Pass X_clean only with sigma=None; with sigma set, X itself is the clean image.")
            X_clean = validate_data(self, X_clean, dtype=np.float64, reset=False)
            if X_clean.shape != X.shape:
                raise ValueError(f"X_clean has shape {X_clean.shape} but X has shape {X.shape}.")
        Y = _noisy(X, self.sigma, self.random_state)
        ref = X if self.sigma is not None else (X if X_clean is None else X_clean)
        res = self.decompose(Y)
        self.eigenvalues_, self.components_ = res.eigenvalues, res.components
        self.effective_dimension_, self.effective_dimension_std_ = res.effective_dimension, res.effective_dimension_std
        self.asymmetry_, self.homogeneity_error_, self.noisy_ = res.asymmetry, res.homogeneity_error, Y
        return np.einsum("nkd,nd->nk", self.components_, ref)

    def inverse_transform(self, X):
        """Images sum_k c_k e_k(y) from coefficients on the bases of the last ``transform`` call."""
        check_is_fitted(self, "components_")
        C = np.asarray(X, dtype=np.float64)
        if C.shape != self.components_.shape[:2]:
            raise ValueError(f"Expected coefficients of shape {self.components_.shape[:2]} (the last transform); "
                             f"got {C.shape}.")
        return np.einsum("nk,nkd->nd", C, self.components_)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        return np.array([f"jacobianeigenbasis{k}" for k in range(self.n_components_)], dtype=object)


# ----------------------------------------------------------------------------------------------------------
# fixed orthonormal bases (columns are basis vectors; (C, H, W) raveled in C order)


def _per_channel(B, C):
    return B if C == 1 else np.kron(np.eye(C), B)


def _check_orthonormal(B, name):
    err = np.abs(B.T @ B - np.eye(B.shape[1])).max()
    if err > 1e-8:
        raise ValueError(f"The {name} basis for this image shape is not orthonormal (error {err:.1e}).")
    return B


def wavelet_basis(image_shape, wavelet="db2", level=None):
    """Orthonormal 2-D wavelet basis (periodized), coarse to fine: (d, d) matrix with the atoms as columns.

    ``level=None`` uses the most levels for which every level has an even size. Needs PyWavelets.
    """
    try:
        import pywt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("The wavelet basis needs PyWavelets: pip install 'gahb[wavelets]'.") from exc
    C, H, W = resolve_image_shape(tuple(image_shape), int(np.prod(image_shape)))
    wav = pywt.Wavelet(wavelet)
    if not wav.orthogonal:
        raise ValueError(f"wavelet {wavelet!r} is not orthogonal; use e.g. 'haar', 'db2', 'sym4'.")
    max_level = 0
    while H % 2 ** (max_level + 1) == 0 and W % 2 ** (max_level + 1) == 0 and min(H, W) // 2 ** (max_level + 1) >= 1:
        max_level += 1
    level = max_level if level is None else int(level)
    if not 0 < level <= max_level:
        raise ValueError(f"level must be in [1, {max_level}] for {H}x{W} images; got {level}.")
    eye = np.eye(H * W).reshape(H * W, H, W)
    with warnings.catch_warnings():  # deep levels only warn of boundary effects; periodization stays orthonormal
        warnings.simplefilter("ignore", UserWarning)
        cols = [pywt.coeffs_to_array(pywt.wavedec2(e, wav, mode="periodization", level=level))[0].ravel()
                for e in eye]
    analysis = np.stack(cols, axis=1)  # coefficients = analysis @ x
    return _check_orthonormal(_per_channel(analysis.T, C), "wavelet")  # orthonormal: atoms = rows of analysis


def dct_basis(image_shape):
    """Orthonormal 2-D DCT-II basis, ordered by frequency (i + j, then i): (d, d) matrix, atoms as columns."""
    from scipy.fft import dct

    C, H, W = resolve_image_shape(tuple(image_shape), int(np.prod(image_shape)))
    Dh, Dw = dct(np.eye(H), norm="ortho", axis=0), dct(np.eye(W), norm="ortho", axis=0)  # rows = 1-D atoms
    B = np.kron(Dh, Dw).T  # column (i, j) = outer(atom_i, atom_j)
    order = sorted(range(H * W), key=lambda n: (n // W + n % W, n // W))
    return _check_orthonormal(_per_channel(B[:, order], C), "DCT")


def pca_basis(X):
    """Eigenvectors of the (uncentred) second-moment matrix X^T X / n, descending: the optimal bias-free
    linear denoiser's basis. (d, d) matrix with the components as columns."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 1:
        raise ValueError(f"X must be a non-empty 2-D array; got shape {X.shape}.")
    _, V = np.linalg.eigh(X.T @ X / X.shape[0])
    return V[:, ::-1].copy()


# ----------------------------------------------------------------------------------------------------------
# shrinkage


def oracle_shrinkage(coefficients, sigma):
    """Oracle factors lambda_k = c_k^2 / (c_k^2 + sigma^2) from the clean coefficients c_k (GAHB eq. 12)."""
    c2 = np.asarray(coefficients, dtype=np.float64) ** 2
    return c2 / (c2 + float(sigma) ** 2)


def oracle_mse(coefficients, sigma):
    """Expected squared error of oracle shrinkage, sigma^2 sum_k lambda_k (GAHB eq. 13), per image (last axis)."""
    return float(sigma) ** 2 * oracle_shrinkage(coefficients, sigma).sum(axis=-1)


class GAHBShrinkage(TransformerMixin, BaseEstimator):
    """Denoising by shrinkage in an orthonormal basis: adaptive (the network's) or fixed.

    ``transform(Y)`` returns sum_k lambda_k <y, e_k> e_k for each noisy row y. Comparing the rules answers
    "is my network near the oracle in its own basis, and how much better is its basis than wavelets?".

    Parameters
    ----------
    basis : {"adaptive", "wavelet", "dct", "pca"}, default="adaptive"
        ``adaptive``: e_k(y) = eigenvectors of the symmetric part of the denoiser's Jacobian at y.
        ``wavelet``: orthonormal periodized wavelets (``wavelet``). ``dct``: 2-D DCT-II. ``pca``: eigenvectors
        of the training images' second-moment matrix (learned by ``fit``).
    shrinkage : {"network", "oracle", "soft", "hard"}, default="network"
        ``network`` (adaptive basis only): the Jacobian eigenvalues lambda_k(y), so with all components the
        output is J_s(y) y, which equals f(y) up to the Jacobian's asymmetry, (J^T - J) y / 2.
        ``oracle``: lambda_k = c_k^2 / (c_k^2 + sigma^2) with c_k = <x, e_k> of the clean image (needs
        ``X_clean`` and ``sigma``; eqs. 11-13). ``soft``/``hard``: thresholds at ``threshold * sigma``.
    denoiser : estimator or callable, default=None
        For ``basis="adaptive"``: as in :class:`JacobianEigenbasis`.
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
        ``(H, W)`` or ``(C, H, W)``; required except with an estimator denoiser.
    random_state : int, RandomState or None, default=None
        Seeds the adaptive basis's Lanczos start and probes.

    Attributes
    ----------
    basis_ : ndarray of shape (n_features, n_features) or None
        The fixed basis (atoms as columns); ``None`` for the adaptive basis.
    eigenbasis_ : JacobianEigenbasis or None
        The fitted adaptive-basis helper (its attributes describe the last ``transform``).
    shrinkage_factors_ : ndarray of shape (n_images, n_components)
        lambda_k used for each image of the last ``transform`` call.
    image_shape_ : tuple of int
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import GAHBShrinkage
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(4, 64)); Y = X + 0.1 * rng.standard_normal(X.shape)
    >>> sh = GAHBShrinkage(basis="dct", shrinkage="oracle", sigma=0.1, image_shape=(8, 8)).fit(X)
    >>> sh.transform(Y, X_clean=X).shape
    (4, 64)
    """

    _parameter_constraints: dict = {
        "basis": [StrOptions({"adaptive", "wavelet", "dct", "pca"})],
        "shrinkage": [StrOptions({"network", "oracle", "soft", "hard"})],
        "denoiser": "no_validation",
        "sigma": [None, Interval(numbers.Real, 0, None, closed="neither")],
        "threshold": [None, Interval(numbers.Real, 0, None, closed="left")],
        "wavelet": [str],
        "n_components": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "method": [StrOptions({"auto", "full", "lanczos"})],
        "image_shape": [None, tuple, list],
        "random_state": ["random_state"],
    }

    def __init__(self, basis="adaptive", shrinkage="network", denoiser=None, sigma=None, threshold=None,
                 wavelet="db2", n_components=None, method="auto", image_shape=None, random_state=None):
        self.basis = basis
        self.shrinkage = shrinkage
        self.denoiser = denoiser
        self.sigma = sigma
        self.threshold = threshold
        self.wavelet = wavelet
        self.n_components = n_components
        self.method = method
        self.image_shape = image_shape
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Build the basis: PCA from X, wavelet/DCT from the image shape, or the adaptive-basis helper."""
        X = validate_data(self, X, dtype=np.float64)
        if self.shrinkage == "network" and self.basis != "adaptive":
            raise ValueError("shrinkage='network' needs basis='adaptive' (the factors are the Jacobian's eigenvalues).")
        if self.shrinkage in ("oracle", "soft", "hard") and self.sigma is None:
            raise ValueError(f"shrinkage={self.shrinkage!r} needs sigma.")
        self.eigenbasis_, self.basis_ = None, None
        if self.basis == "adaptive":
            self.eigenbasis_ = JacobianEigenbasis(self.denoiser, n_components=self.n_components, method=self.method,
                                                  image_shape=self.image_shape, random_state=self.random_state).fit(X)
            self.image_shape_ = self.eigenbasis_.image_shape_
            return self
        self.image_shape_ = resolve_image_shape(self.image_shape, X.shape[1])
        if self.basis == "pca":
            self.basis_ = pca_basis(X)
        elif self.basis == "dct":
            self.basis_ = dct_basis(self.image_shape_)
        else:
            self.basis_ = wavelet_basis(self.image_shape_, self.wavelet)
        return self

    def coefficients(self, Y):
        """Coefficients of the rows of Y in the fixed basis, or (adaptive) in each row's own basis."""
        check_is_fitted(self)
        Y = validate_data(self, Y, dtype=np.float64, reset=False)
        if self.basis_ is not None:
            return Y @ self.basis_
        return self.eigenbasis_.transform(Y)

    def transform(self, X, X_clean=None):
        """Denoise the noisy rows of X by shrinkage; ``X_clean`` (same shape) is needed by ``oracle``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if self.shrinkage == "oracle":
            if X_clean is None:
                raise ValueError("shrinkage='oracle' needs the clean images: transform(X, X_clean=...).")
            X_clean = validate_data(self, X_clean, dtype=np.float64, reset=False)
            if X_clean.shape != X.shape:
                raise ValueError(f"X_clean has shape {X_clean.shape} but X has shape {X.shape}.")
        coefs = self.coefficients(X)
        if self.basis_ is not None:
            atoms = np.broadcast_to(self.basis_.T, (X.shape[0],) + self.basis_.T.shape)
        else:
            atoms = self.eigenbasis_.components_
        if self.shrinkage == "network":
            lam = self.eigenbasis_.eigenvalues_
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
        self.shrinkage_factors_ = lam
        return np.einsum("nk,nkd->nd", lam * coefs, atoms)
