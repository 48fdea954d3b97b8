"""Optimality experiments of the paper's §3.2 (Figs 3-5, App. C): C^alpha slopes, disks, shuffled-pixel control.

Each experiment trains small bias-free denoisers (CPU scale by default, paper scale with larger
``image_size``/``n_train``/``max_iter`` and ``device="cuda"``), measures PSNR-vs-noise curves and
Jacobian spectra, and returns a ``Bunch``; ``write_*_report`` turns it into ``report.md`` + ``report.json``
with figures. ``gahb optimality {c-alpha,disks,shuffled,all}`` runs them from the command line (each result is also
saved as ``result.joblib`` so a report can be rewritten without retraining).
"""

from __future__ import annotations

import numbers
import time

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from gahb._checks import RANDOM_STATE, resolve_seed
from gahb._utils import psnr
from gahb.basis import JacobianEigenbasis, wavelet_basis
from gahb.core.random import sample_seeds, torch_generator
from gahb.denoiser import DiffusionDenoiser
from gahb.experiments._optimality_reports import write_c_alpha_report, write_disk_report, write_shuffled_report
from gahb.experiments._slopes import SLOPE_WINDOW, local_slopes, psnr_slope
from gahb.metrics import paper_sigmas, psnr_curve
from gahb.shrinkage import GAHBShrinkage

__all__ = [
    "SLOPE_WINDOW", "PAPER_C_ALPHA_SLOPES", "PAPER_DISK_EIGENVALUES", "psnr_slope", "local_slopes",
    "adaptive_spectrum", "c_alpha_optimality", "disk_optimality", "shuffled_control", "write_c_alpha_report",
    "write_disk_report", "write_shuffled_report",
]

PAPER_C_ALPHA_SLOPES = {1: 0.46, 2: 0.61, 3: 0.75, 5: 0.83}  # Fig. 4 legend (UNet, 80 x 80, 10^5 images)
PAPER_DISK_EIGENVALUES = (1.177, 1.067, 1.004, 0.999, 0.945, 0.674, 0.552, 0.39, 0.304, 0.278)  # Fig. 5, sigma 0.04

# CPU scale: minutes per model on 2 shared cores. Paper scale: image_size=80, n_blocks=3, width=64, n_train=1e5.
DEFAULT_ESTIMATOR = dict(architecture="unet", width=16, n_blocks=2, max_iter=3000, batch_size=64, lr_schedule="halving")

# validate_params constraints shared by the experiments
_POSITIVE_INT = [Interval(numbers.Integral, 1, None, closed="left")]
_SIGMA = [Interval(numbers.Real, 0, None, closed="neither")]
_COMMON = {"estimator": [HasMethods(["fit", "transform"]), None], "sigmas": ["array-like", None],
           "window": ["array-like"], "n_psnr_images": _POSITIVE_INT, "device": [str, torch.device],
           "random_state": RANDOM_STATE, "verbose": ["verbose"], "sigma": _SIGMA}
_SIZES = {"image_size": [Interval(numbers.Integral, 4, None, closed="left")], "n_train": _POSITIVE_INT,
          "n_test": _POSITIVE_INT}


def _noisy(x, sigma, seed, index=0):
    g = torch_generator(sample_seeds(seed, 1, start=index)[0])
    return x + sigma * torch.randn(x.shape, generator=g, dtype=torch.float64).numpy()


@validate_params({"denoiser": [HasMethods(["transform"]), callable], "x": ["array-like"], "sigma": _SIGMA,
                  "n_components": [None] + _POSITIVE_INT, "random_state": RANDOM_STATE,
                  "index": [Interval(numbers.Integral, 0, None, closed="left")], "image_shape": [None, tuple, list]},
                 prefer_skip_nested_validation=False)
def adaptive_spectrum(denoiser, x, sigma, *, n_components=None, random_state=0, index=0, image_shape=None):
    """Jacobian eigen-analysis of ``denoiser`` at y = x + sigma z for one clean row ``x`` (paper §3.1, Fig. 3).

    Parameters
    ----------
    denoiser : fitted DiffusionDenoiser, or a torch callable on (B, C, H, W) tensors
        A callable (e.g. :class:`gahb.core.optimal.SubspaceProjection`, an exact optimum) needs ``image_shape``.
    x : array-like of shape (n_features,)
        One clean image.
    sigma : float
        Noise level of ``y``.
    n_components : int, default=None
        Eigenpairs kept (``None``: all).
    random_state : int, RandomState instance, Generator or None, default=0
        Seed of the noise ``z``; with ``index``, noise ``i`` of one seed is the same in every call.
    index : int, default=0
        Which noise draw of the seed.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(C, H, W)``; only for a callable.

    Returns
    -------
    spectrum : Bunch
        ``eigenvalues``, ``components`` (k, d), ``coefficients`` <x, e_k(y)>, ``noisy``, ``denoised``,
        ``effective_dimension`` (tr J), ``asymmetry``, ``homogeneity_error``.

    See Also
    --------
    gahb.JacobianEigenbasis : The estimator behind this function.

    Examples
    --------
    >>> from gahb import DiffusionDenoiser, datasets
    >>> from gahb.experiments.optimality import adaptive_spectrum
    >>> X = datasets.make_disks(32, image_size=8, random_state=0).data
    >>> spec = adaptive_spectrum(DiffusionDenoiser(width=4, n_blocks=1, max_iter=2, random_state=0).fit(X), X[0], 0.1)
    >>> spec.eigenvalues.shape, spec.components.shape
    ((64,), (64, 64))
    """
    x = np.asarray(x, np.float64).reshape(1, -1)
    y = _noisy(x, sigma, resolve_seed(random_state), index)
    eb = JacobianEigenbasis(denoiser, n_components=n_components, image_shape=image_shape,
                            random_state=random_state).fit(x)
    res = eb.decompose(y, X_clean=x)
    if hasattr(denoiser, "transform"):
        denoised = np.asarray(denoiser.transform(y), np.float64)[0]
    else:
        with torch.no_grad():
            denoised = denoiser(torch.as_tensor(y).reshape((1,) + eb.image_shape_)).reshape(-1).double().numpy()
    return Bunch(eigenvalues=res.eigenvalues[0], components=res.components[0], coefficients=res.coefficients[0],
                 noisy=y[0], denoised=denoised, sigma=float(sigma),
                 effective_dimension=float(res.effective_dimension[0]), asymmetry=float(res.asymmetry[0]),
                 homogeneity_error=float(res.homogeneity_error[0]))


def _estimator(estimator, image_shape, seed, device, defaults=DEFAULT_ESTIMATOR, **overrides):
    """A fresh copy of the user's estimator (or one with ``defaults``) set up for this experiment."""
    est = clone(estimator) if estimator is not None else DiffusionDenoiser(**defaults)
    return est.set_params(image_shape=tuple(image_shape), random_state=seed, device=device, **overrides)


def _curve(den, X_test, sigmas, n_psnr_images, seed, window):
    c = psnr_curve(den, X_test, sigmas=sigmas, n_images=n_psnr_images, random_state=seed)
    slope, intercept, n = psnr_slope(c.input_psnr, c.output_psnr, window)
    return Bunch(input_psnr=c.input_psnr, output_psnr=c.output_psnr, slope=slope, intercept=intercept, n_points=n)


def _shrinkage_table(den, X, sigma, seed):
    """Mean output PSNR on rows X at ``sigma``: the network against shrinkage rules and bases."""
    Y = np.stack([_noisy(x, sigma, seed, 1000 + i) for i, x in enumerate(X)])
    rows = [("network f(y)", np.asarray(den.transform(Y), np.float64)),
            ("adaptive basis, network lambda (J_s y)", GAHBShrinkage(den).fit(X).transform(Y))]
    for basis in ("adaptive", "wavelet", "dct"):
        sh = GAHBShrinkage(den, basis=basis, shrinkage="oracle", sigma=sigma, image_shape=den.image_shape_)
        rows.append((f"{basis} basis, oracle lambda", sh.fit(X).transform(Y, X_clean=X)))
    for rule in ("hard", "soft"):
        sh = GAHBShrinkage(basis="wavelet", shrinkage=rule, sigma=sigma, image_shape=den.image_shape_)
        rows.append((f"wavelet basis, {rule} threshold", sh.fit(X).transform(Y)))
    return [dict(method=name, psnr=float(np.mean(psnr(out, X)))) for name, out in rows]


@validate_params({"alphas": ["array-like"], **_SIZES, **_COMMON, "n_compare": _POSITIVE_INT},
                 prefer_skip_nested_validation=False)
def c_alpha_optimality(alphas=(1, 2, 3, 5), *, image_size=16, n_train=4000, n_test=200, estimator=None,
                       sigma=0.1, sigmas=None, window=SLOPE_WINDOW, n_psnr_images=200, n_compare=8, device="cpu",
                       random_state=0, verbose=0):
    """PSNR-vs-noise slopes on C^alpha images against the optimum alpha/(alpha+1), one model per alpha (Fig. 4).

    Also returns, per alpha, the Jacobian spectrum and coefficients at one test image at ``sigma`` and the
    mean PSNR of the network against oracle / threshold shrinkage in its own basis, wavelets and the DCT
    on ``n_compare`` test images.

    Parameters
    ----------
    alphas : array-like of float, default=(1, 2, 3, 5)
        Regularities; one model is trained per alpha (on images of seed ``random_state + i``).
    image_size : int, default=16
        Image side (the paper: 80).
    n_train, n_test : int, default=4000, 200
        Training and held-out images per alpha (the paper trains on 10^5).
    estimator : DiffusionDenoiser, default=None
        Cloned per alpha; ``None`` uses ``DEFAULT_ESTIMATOR`` (a CPU-scale UNet).
    sigma : float, default=0.1
        Noise level of the spectrum and of the shrinkage comparison.
    sigmas : array-like, default=None
        Noise grid of the PSNR curves (:func:`gahb.metrics.paper_sigmas` by default).
    window : (float, float), default=SLOPE_WINDOW
        Input-PSNR range of the slope fit (:func:`psnr_slope`).
    n_psnr_images : int, default=200
        Test images per noise level.
    n_compare : int, default=8
        Test images of the shrinkage comparison.
    device : str or torch.device, default="cpu"
    random_state : int, RandomState instance, Generator or None, default=0
    verbose : int, default=0

    Returns
    -------
    result : Bunch
        ``results`` (one Bunch per alpha: ``slope``, ``optimal_slope``, ``paper_slope``, ``curve``,
        ``spectrum``, ``shrinkage``, ...), ``window``, ``sigma``, ``config``.

    See Also
    --------
    write_c_alpha_report : Writes the result as a report.
    gahb.datasets.make_c_alpha : The images.

    Examples
    --------
    >>> from gahb import DiffusionDenoiser
    >>> from gahb.experiments.optimality import c_alpha_optimality
    >>> est = DiffusionDenoiser(width=4, n_blocks=1, max_iter=5)
    >>> res = c_alpha_optimality([2], image_size=8, n_train=64, n_test=8, estimator=est, n_psnr_images=8,
    ...                          n_compare=2)
    >>> res.results[0].optimal_slope
    0.666...
    """
    from gahb.datasets import make_c_alpha

    seed = resolve_seed(random_state)
    sigmas = paper_sigmas() if sigmas is None else np.asarray(sigmas, np.float64)
    results = []
    for i, a in enumerate(alphas):
        t0 = time.perf_counter()
        data = make_c_alpha(n_train + n_test, image_size=image_size, alpha=float(a), random_state=(seed + i) % 2**32)
        X = data.data.astype(np.float64)
        den = _estimator(estimator, data.image_shape, seed, device).set_params(verbose=verbose).fit(X[:n_train])
        fit_s = time.perf_counter() - t0
        X_test = X[n_train:]
        res = Bunch(alpha=float(a), optimal_slope=a / (a + 1), paper_slope=PAPER_C_ALPHA_SLOPES.get(int(a)),
                    curve=_curve(den, X_test, sigmas, n_psnr_images, seed, window),
                    spectrum=adaptive_spectrum(den, X_test[0], sigma, random_state=seed),
                    clean=X_test[0], image_shape=den.image_shape_, fit_seconds=fit_s,
                    shrinkage=_shrinkage_table(den, X_test[:n_compare], sigma, seed),
                    wavelet_coefficients=np.abs(wavelet_basis(den.image_shape_).T @ X_test[0]))
        res.slope = res.curve.slope
        results.append(res)
        if verbose:
            print(f"alpha={a}: slope {res.slope:.3f} (optimum {res.optimal_slope:.3f}), fit {fit_s:.0f} s", flush=True)
    return Bunch(results=results, window=tuple(window), sigma=float(sigma),
                 config=dict(alphas=list(alphas), image_size=image_size, n_train=n_train, n_test=n_test,
                             estimator=(estimator or DiffusionDenoiser(**DEFAULT_ESTIMATOR)).get_params(deep=False),
                             n_psnr_images=n_psnr_images, random_state=seed, device=str(device)))


def _principal_cosines(E, T):
    """Cosines of the principal angles between span(E) and span(T) (columns), descending."""
    Q1, _ = np.linalg.qr(E)
    Q2, _ = np.linalg.qr(T)
    return np.clip(np.linalg.svd(Q1.T @ Q2, compute_uv=False), 0.0, 1.0)


@validate_params({**_SIZES, **_COMMON, "spectrum_sigmas": ["array-like"], "n_eigen_images": _POSITIVE_INT,
                  "return_model": ["boolean"]},
                 prefer_skip_nested_validation=False)
def disk_optimality(*, image_size=16, n_train=4000, n_test=200, estimator=None, sigma=0.04,
                    spectrum_sigmas=(0.01, 0.02, 0.04, 0.08, 0.16, 0.32), sigmas=None, window=SLOPE_WINDOW,
                    n_psnr_images=200, n_eigen_images=8, device="cpu", random_state=0, verbose=0, return_model=False):
    """Disks, a 5-D manifold (paper Fig. 5, App. C.2): Jacobian spectrum, tangent-space angles and PSNR slope.

    The spectrum is taken at ``sigma``; the principal angles compare the top-5 eigenvectors with the
    tangent space of the disk manifold; the PSNR slope is compared with the optimum 1 (output PSNR =
    input PSNR + 10 log10(d / 5)).

    Parameters
    ----------
    image_size, n_train, n_test, estimator, sigmas, window, n_psnr_images, device, random_state, verbose
        As in :func:`c_alpha_optimality`.
    sigma : float, default=0.04
        Noise level of the spectra (the paper's Fig. 5).
    spectrum_sigmas : array-like, default=(0.01, 0.02, 0.04, 0.08, 0.16, 0.32)
        Noise levels of the first test image's spectrum against sigma.
    n_eigen_images : int, default=8
        Test images whose spectra and angles are computed.
    return_model : bool, default=False
        Also return the fitted model and the data (``model``, ``data``).

    Returns
    -------
    result : Bunch
        ``slope``, ``eigenvalues`` (n_eigen_images, 10), ``principal_angles_deg``, ``spectrum_by_sigma``,
        ``paper_eigenvalues``, ``curve``, ``config``, ...

    See Also
    --------
    write_disk_report : Writes the result as a report.
    gahb.datasets.disk_tangents : The tangent space.

    Examples
    --------
    >>> from gahb import DiffusionDenoiser
    >>> from gahb.experiments.optimality import disk_optimality
    >>> est = DiffusionDenoiser(width=4, n_blocks=1, max_iter=5)
    >>> res = disk_optimality(image_size=8, n_train=64, n_test=8, estimator=est, n_psnr_images=8,
    ...                       n_eigen_images=2, spectrum_sigmas=(0.04,))
    >>> res.principal_angles_deg.shape
    (2, 5)
    """
    from gahb.datasets import disk_tangents, make_disks

    seed = resolve_seed(random_state)
    sigmas = paper_sigmas() if sigmas is None else np.asarray(sigmas, np.float64)
    t0 = time.perf_counter()
    data = make_disks(n_train + n_test, image_size=image_size, random_state=seed)
    X = data.data.astype(np.float64)
    den = _estimator(estimator, data.image_shape, seed, device).set_params(verbose=verbose).fit(X[:n_train])
    fit_s = time.perf_counter() - t0
    X_test, P_test = X[n_train:], data.params[n_train:]
    T = disk_tangents(P_test[:n_eigen_images], image_size)
    spectra, cosines = [], []
    for i in range(min(n_eigen_images, n_test)):
        s = adaptive_spectrum(den, X_test[i], sigma, random_state=seed, index=i)
        spectra.append(s)
        cosines.append(_principal_cosines(s.components[:5].T, T[i].T))
    d = X.shape[1]
    by_sigma = []
    for s in spectrum_sigmas:
        # at the eigen-images' sigma the first test image's spectrum is already computed (same noise, index 0)
        sp = spectra[0] if spectra and s == sigma else adaptive_spectrum(den, X_test[0], s, random_state=seed)
        lam = sp.eigenvalues
        by_sigma.append(dict(sigma=float(s), trace=float(lam.sum()), n_above_0_5=int((lam > 0.5).sum()),
                             n_above_0_1=int((lam > 0.1).sum()), mse_optimal_5dim=5 * s**2))
    curve = _curve(den, X_test, sigmas, n_psnr_images, seed, window)
    res = Bunch(curve=curve, slope=curve.slope, optimal_slope=1.0, optimal_offset=10 * np.log10(d / 5),
                eigenvalues=np.stack([s.eigenvalues[:10] for s in spectra]), spectra=spectra,
                principal_cosines=np.stack(cosines), tangents=T, clean=X_test[:n_eigen_images],
                spectrum_by_sigma=by_sigma, sigma=float(sigma), image_shape=den.image_shape_, fit_seconds=fit_s,
                window=tuple(window), paper_eigenvalues=PAPER_DISK_EIGENVALUES,
                config=dict(image_size=image_size, n_train=n_train, n_test=n_test, random_state=seed,
                            estimator=den.get_params(deep=False), n_psnr_images=n_psnr_images, device=str(device)))
    res.principal_angles_deg = np.degrees(np.arccos(res.principal_cosines))
    if return_model:
        res.model, res.data = den, data
    return res


@validate_params({"X_train": ["array-like"], "X_test": ["array-like"], "image_shape": ["array-like"], **_COMMON,
                  "base_model": [HasMethods(["transform"]), None]},
                 prefer_skip_nested_validation=False)
def shuffled_control(X_train, X_test, image_shape, *, estimator=None, sigma=0.04, sigmas=None, base_model=None,
                     window=SLOPE_WINDOW, n_psnr_images=200, device="cpu", random_state=0, verbose=0):
    """The same data with one fixed pixel permutation (paper Fig. 21, App. C.3).

    The optimal MSE is unchanged by the permutation, so any PSNR loss and any slower eigenvalue decay
    is the network's inductive bias.

    Parameters
    ----------
    X_train, X_test : array-like of shape (n, n_features)
        Training and held-out images.
    image_shape : tuple
        ``(H, W)`` or ``(C, H, W)``.
    estimator, sigmas, window, n_psnr_images, device, random_state, verbose
        As in :func:`c_alpha_optimality`.
    sigma : float, default=0.04
        Noise level of the spectra.
    base_model : fitted DiffusionDenoiser, default=None
        A model of the unshuffled data to reuse instead of training one.

    Returns
    -------
    result : Bunch
        ``original`` and ``shuffled`` (each ``curve``, ``spectrum``, ``fit_seconds``), ``psnr_loss`` (mean dB
        lost by shuffling), ``permutation``.

    See Also
    --------
    write_shuffled_report : Writes the result as a report.
    gahb.datasets.shuffle_pixels : The permutation.

    Examples
    --------
    >>> from gahb import DiffusionDenoiser, datasets
    >>> from gahb.experiments import optimality
    >>> X = datasets.make_disks(72, image_size=8, random_state=0).data
    >>> res = optimality.shuffled_control(X[:64], X[64:], (8, 8), n_psnr_images=8,
    ...                                   estimator=DiffusionDenoiser(width=4, n_blocks=1, max_iter=5))
    >>> res.permutation.shape, res.shuffled.spectrum.eigenvalues.shape
    ((64,), (64,))
    """
    seed = resolve_seed(random_state)
    sigmas = paper_sigmas() if sigmas is None else np.asarray(sigmas, np.float64)
    X_train, X_test = np.asarray(X_train, np.float64), np.asarray(X_test, np.float64)
    from gahb.datasets import shuffle_pixels, unshuffle_pixels

    Xs_train, perm = shuffle_pixels(X_train, random_state=seed)
    Xs_test, _ = shuffle_pixels(X_test, permutation=perm)
    out = Bunch(permutation=perm, sigma=float(sigma), window=tuple(window), image_shape=tuple(image_shape))
    for name, tr, te in (("original", X_train, X_test), ("shuffled", Xs_train, Xs_test)):
        t0 = time.perf_counter()
        den = base_model if (name == "original" and base_model is not None) else \
            _estimator(estimator, image_shape, seed, device).set_params(verbose=verbose).fit(tr)
        sp = adaptive_spectrum(den, te[0], sigma, random_state=seed)
        if name == "shuffled":  # un-permute the eigenvectors for display
            sp.components_unshuffled = unshuffle_pixels(sp.components, perm)
        out.image_shape = tuple(den.image_shape_)
        out[name] = Bunch(curve=_curve(den, te, sigmas, n_psnr_images, seed, window), spectrum=sp,
                          fit_seconds=time.perf_counter() - t0)
    out.psnr_loss = float(np.mean(out.original.curve.output_psnr - out.shuffled.curve.output_psnr))
    return out
