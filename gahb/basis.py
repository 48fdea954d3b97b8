"""The adaptive basis of a denoiser (`JacobianEigenbasis`), fixed bases and the oracle shrinkage factors.

A bias-free denoiser computes f(y) = J(y) y = sum_k lambda_k <y, e_k(y)> e_k(y) (GAHB eq. 6): shrinkage
in an orthonormal basis that adapts to y. `JacobianEigenbasis` exposes that basis and its shrinkage
factors; `gahb.GAHBShrinkage` (in `gahb/shrinkage.py`) denoises by shrinkage in it or in one of the fixed
bases here (wavelets, DCT, PCA), with the network's own factors, the oracle factors (eqs. 11-13) or
soft/hard thresholds.
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
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from gahb._checks import resolve_image_shape, resolve_seed
from gahb._networks import call_denoiser, module_dtype
from gahb._utils import fitted_rows, image_rows
from gahb.core import jacobian as jb
from gahb.core.random import sample_generators

__all__ = [
    "JacobianEigenbasis",
    "oracle_shrinkage",
    "oracle_mse",
    "wavelet_basis",
    "dct_basis",
    "pca_basis",
]

AUTO_FULL_MAX_FEATURES = 4096  # "auto" uses the dense Jacobian up to 64 x 64 one-channel images


# ----------------------------------------------------------------------------------------------------------
# denoiser resolution and the per-image adaptive basis


def _resolve_denoiser(denoiser, X, image_shape, array_shape):
    """-> (fitted estimator or callable, torch callable, (C, H, W), device).

    ``array_shape`` is the ``(C, H, W)`` of image-shaped input (None for rows): an unfitted estimator is
    trained on the images, and a fitted one must work on that shape.
    """
    if denoiser is None:
        raise ValueError("denoiser is required: a fitted DiffusionDenoiser, a FrozenEstimator or a torch callable.")
    if hasattr(denoiser, "fit") and hasattr(denoiser, "get_params"):
        try:
            check_is_fitted(denoiser)
            est = denoiser
        except NotFittedError:
            est = clone(denoiser).fit(X if array_shape is None else X.reshape((-1,) + array_shape))
        f = getattr(est, "denoiser_", None)
        if f is None or not callable(f):
            raise TypeError(f"{type(denoiser).__name__} has no torch callable 'denoiser_' after fitting.")
        shape = tuple(getattr(est, "image_shape_", ())) or resolve_image_shape(image_shape, X.shape[1])
        if int(np.prod(shape)) != X.shape[1] or array_shape not in (None, shape):
            got = f"images of shape {array_shape}" if array_shape is not None else f"{X.shape[1]} features"
            raise ValueError(f"The denoiser works on images of shape {shape} but X has {got}.")
        device = getattr(est, "device_", torch.device("cpu"))
        return est, f, shape, device
    if callable(denoiser):
        if image_shape is None and array_shape is None:
            raise ValueError("image_shape is required when denoiser is a torch callable and X holds rows.")
        shape = array_shape or resolve_image_shape(image_shape, X.shape[1])
        p = next(iter(denoiser.parameters()), None) if isinstance(denoiser, torch.nn.Module) else None
        device, dtype = (p.device if p is not None else torch.device("cpu")), module_dtype(denoiser)
        # one probe image now, so a wrong output shape is named here rather than inside a Jacobian
        call_denoiser(denoiser, torch.full((1,) + tuple(shape), 0.5, dtype=dtype, device=device))
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


def _check_rows(est, X, X_clean=None):
    """Validated float64 rows of ``X`` (and of ``X_clean``, same shape) for a fitted estimator."""
    X = fitted_rows(est, X, dtype=np.float64)
    if X_clean is not None:
        X_clean = fitted_rows(est, X_clean, dtype=np.float64)
        if X_clean.shape != X.shape:
            raise ValueError(f"X_clean has shape {X_clean.shape} but X has shape {X.shape}.")
    return X, X_clean


class JacobianEigenbasis(TransformerMixin, BaseEstimator):
    """The geometry-adaptive basis of a denoiser: eigenvectors of its Jacobian at each input image.

    At an image y, a bias-free denoiser computes f(y) = J(y) y = sum_k lambda_k <y, e_k(y)> e_k(y)
    (GAHB eq. 6), with (lambda_k, e_k) the eigenpairs of the symmetric part of J(y), descending.
    ``transform`` computes that basis at every row and returns coefficients on it; :meth:`decompose`
    returns the whole analysis of the call (bases, shrinkage factors, effective dimension, ...), which
    :meth:`inverse_transform` uses to map coefficients back. Nothing about the images of a call is stored
    on the estimator.

    Parameters
    ----------
    denoiser : estimator or callable
        A fitted ``gahb.DiffusionDenoiser`` (its ``denoiser_`` is used), a
        ``sklearn.frozen.FrozenEstimator`` around one, an unfitted ``DiffusionDenoiser`` (``fit`` then
        trains a clone on X: the meta-estimator pattern that lets the whole thing sit in a ``Pipeline``),
        or any torch callable mapping ``(B, C, H, W)`` to ``(B, C, H, W)`` (needs ``image_shape`` or
        image-shaped X).
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
        ``(H, W)`` or ``(C, H, W)``; needed only for a plain callable given rows (estimators know theirs,
        and image-shaped X ``(n, H, W)`` / ``(n, C, H, W)`` carries it).
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
        Eigenpairs computed per image.
    n_features_in_ : int
        Number of pixels per image.

    See Also
    --------
    GAHBShrinkage : Denoising by shrinkage in this basis or a fixed one.
    gahb.core.jacobian.full_jacobian : The dense Jacobian of a denoiser on tensors.
    gahb.core.jacobian.top_eigenpairs : Matrix-free top eigenpairs.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import DiffusionDenoiser, JacobianEigenbasis
    >>> X = np.random.default_rng(0).uniform(size=(64, 64))
    >>> den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=20, image_shape=(8, 8), random_state=0).fit(X)
    >>> eb = JacobianEigenbasis(den, n_components=10, sigma=0.1, random_state=0).fit(X)
    >>> eb.transform(X[:2]).shape
    (2, 10)
    >>> res = eb.decompose(X[:2])
    >>> res.eigenvalues.shape, res.components.shape
    ((2, 10), (2, 10, 64))
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

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Images (training images for an unfitted denoiser).
        y : None
            Ignored.

        Returns
        -------
        self : JacobianEigenbasis
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import JacobianEigenbasis
        >>> eb = JacobianEigenbasis(lambda y: 0.5 * y, n_components=3).fit(np.zeros((2, 4, 4)))  # shape from X
        >>> eb.image_shape_, eb.method_, eb.n_components_
        ((1, 4, 4), 'full', 3)
        """
        X, array_shape = image_rows(X, self.image_shape)
        X = validate_data(self, X, dtype=np.float64)
        self.denoiser_, self._f, self.image_shape_, self._device = _resolve_denoiser(
            self.denoiser, X, self.image_shape, array_shape)
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
        dtype = module_dtype(self._f)  # the denoiser's own parameter dtype
        # np.array copies: X may be a read-only memory map, which torch must not alias
        return torch.as_tensor(np.array(X), dtype=dtype, device=self._device).reshape((-1,) + self.image_shape_)

    def decompose(self, X, X_clean=None):
        """The eigen-analysis of J(y) at each image y of the call, with the coefficients ``transform`` returns.

        With ``sigma=None`` the rows of X are the images y; with ``sigma`` set, X holds clean images x and
        y = x + sigma z (row i's noise from its own generator seeded by ``random_state``), as in
        :meth:`transform`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Noisy images y (``sigma=None``) or clean images x (``sigma`` set).
        X_clean : array-like of the same shape, default=None
            Only with ``sigma=None``: the clean images whose coefficients are wanted.

        Returns
        -------
        result : Bunch
            ``coefficients`` (n, k): ``<x, e_k(y)>`` (of y itself when no clean image is known);
            ``eigenvalues`` (n, k): shrinkage factors lambda_k(y), descending; ``components`` (n, k, d):
            eigenvectors e_k(y) as rows (unit norm, sign fixed so the largest entry is positive); ``noisy``
            (n, d): the images y; ``effective_dimension`` (n,): tr J(y) over all d eigenvalues (exact, or
            Hutchinson for ``lanczos``) and its standard error ``effective_dimension_std`` (0 when exact);
            ``asymmetry`` (n,): ||J - J^T||_F / ||J||_F; ``homogeneity_error`` (n,): ||J y - f(y)|| / ||f(y)||
            (about 1e-7 for a bias-free network in float32). k is ``n_components_``.

        See Also
        --------
        transform : Only the coefficients.
        inverse_transform : Images from coefficients on the bases of a ``decompose`` result.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import JacobianEigenbasis
        >>> f = lambda y: 0.5 * y  # a linear shrinkage: J = I / 2
        >>> eb = JacobianEigenbasis(f, image_shape=(4, 4)).fit(np.zeros((1, 16)))
        >>> res = eb.decompose(np.ones((1, 16)))
        >>> np.round(res.eigenvalues[0, :3], 6), round(float(res.effective_dimension[0]), 4)
        (array([0.5, 0.5, 0.5]), 8.0)
        """
        if X_clean is not None and self.sigma is not None:
            raise ValueError("Pass X_clean only with sigma=None; with sigma set, X itself is the clean image.")
        X, X_clean = _check_rows(self, X, X_clean)
        Y = _noisy(X, self.sigma, self.random_state)
        ref = X if self.sigma is not None else (X if X_clean is None else X_clean)
        seed = resolve_seed(self.random_state)
        parts = [_adaptive_basis(self._f, y, self.n_components_, self.method_, self.n_probes, seed, self.max_memory)
                 for y in self._images(Y)]
        components = np.stack([p.eigenvectors.T for p in parts])
        return Bunch(
            coefficients=np.einsum("nkd,nd->nk", components, ref),
            eigenvalues=np.stack([p.eigenvalues for p in parts]),
            components=components,
            noisy=Y,
            **{key: np.array([p[key] for p in parts]) for key in
               ("effective_dimension", "effective_dimension_std", "asymmetry", "homogeneity_error")},
        )

    def transform(self, X, X_clean=None):
        """Coefficients on the adaptive basis, one row per image: ``<x, e_k(y)>`` for k < n_components.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
            Noisy images y (``sigma=None``) or clean images x (``sigma`` set, the noise is added here).
        X_clean : array-like of the same shape, default=None
            Only with ``sigma=None``: return the coefficients of these clean images on the bases of X.

        Returns
        -------
        coefficients : ndarray of shape (n_samples, n_components_)
            ``decompose(X, X_clean).coefficients``.

        See Also
        --------
        decompose : The bases, eigenvalues and diagnostics of the call as well.
        """
        return self.decompose(X, X_clean).coefficients

    def inverse_transform(self, X, decomposition):
        """Images ``sum_k c_k e_k(y)`` from coefficients on the bases of a :meth:`decompose` result.

        The basis differs from image to image, so the coefficients alone do not determine the images: pass
        the result of the :meth:`decompose` call that produced them (or that computed the bases you want).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components_)
            Coefficients, e.g. ``decomposition.coefficients`` (possibly modified: shrunk, truncated).
        decomposition : Bunch
            A result of :meth:`decompose` (its ``components`` are used).

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            The images, as rows.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import JacobianEigenbasis
        >>> X = np.random.default_rng(0).random((2, 16))
        >>> eb = JacobianEigenbasis(lambda y: 0.5 * y, image_shape=(4, 4)).fit(X)
        >>> res = eb.decompose(X)
        >>> bool(np.allclose(eb.inverse_transform(res.coefficients, res), X))  # all 16 components kept
        True
        """
        check_is_fitted(self)
        components = np.asarray(decomposition["components"])
        C = check_array(X, dtype=np.float64, input_name="X")
        if C.shape != components.shape[:2]:
            raise ValueError(f"Expected coefficients of shape {components.shape[:2]} (the decomposition's images and "
                             f"components); got {C.shape}.")
        return np.einsum("nk,nkd->nd", C, components)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: ``jacobianeigenbasis0``, ``jacobianeigenbasis1``, ...

        Parameters
        ----------
        input_features : None
            Ignored (the outputs are coefficients, not pixels).

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
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
    """Orthonormal wavelet basis (periodized), coarse to fine: (d, d) matrix with the atoms as columns.

    2-D wavelets (``pywt.wavedec2``) for H x W images; 1-D ones along the image for a 1 x W or H x 1
    strip. ``level=None`` uses the most levels for which every level has an even size; a size with no
    such level (an odd width, say) admits no wavelet level, and the basis is then the pixel basis (level 0),
    with a ``UserWarning``. Needs PyWavelets.

    Parameters
    ----------
    image_shape : tuple of int
        ``(H, W)`` or ``(C, H, W)``; channels are transformed independently.
    wavelet : str, default="db2"
        An orthogonal PyWavelets wavelet.
    level : int or None, default=None
        Decomposition levels, from 1 to the most the size allows.

    Returns
    -------
    basis : ndarray of shape (d, d)
        Orthonormal, atoms as columns (coarse to fine), ``d = C H W``.

    Examples
    --------
    >>> import numpy as np
    >>> B = wavelet_basis((8, 8), "haar")
    >>> B.shape, bool(np.allclose(B.T @ B, np.eye(64)))
    ((64, 64), True)
    """
    try:
        import pywt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("The wavelet basis needs PyWavelets: pip install 'gahb[wavelets]'.") from exc
    C, H, W = resolve_image_shape(tuple(image_shape), int(np.prod(image_shape)))
    wav = pywt.Wavelet(wavelet)
    if not wav.orthogonal:
        raise ValueError(f"wavelet {wavelet!r} is not orthogonal; use e.g. 'haar', 'db2', 'sym4'.")
    sizes = [s for s in (H, W) if s > 1] or [1]  # a strip is a 1-D signal
    max_level = 0
    while all(s % 2 ** (max_level + 1) == 0 for s in sizes):
        max_level += 1
    if level is None and max_level == 0:
        warnings.warn(f"no wavelet level fits a {H}x{W} image (no even size); the wavelet basis is the pixel basis.",
                      UserWarning, stacklevel=2)
        return np.eye(C * H * W)
    level = max_level if level is None else int(level)
    if not 0 < level <= max_level:
        raise ValueError(f"level must be in [1, {max_level}] for {H}x{W} images; got {level}.")
    eye = np.eye(H * W)
    with warnings.catch_warnings():  # deep levels only warn of boundary effects; periodization stays orthonormal
        warnings.simplefilter("ignore", UserWarning)
        if len(sizes) == 2:
            cols = [pywt.coeffs_to_array(pywt.wavedec2(e.reshape(H, W), wav, mode="periodization", level=level))[0]
                    .ravel() for e in eye]
        else:
            cols = [np.concatenate(pywt.wavedec(e, wav, mode="periodization", level=level)) for e in eye]
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


