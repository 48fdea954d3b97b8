"""Low-dimensional manifolds where the optimal denoiser is a projection (paper App. C.2, Figs 19-20).

- A single image and its positive rescalings {a·x} (a ray, 1-D): trained with intensity rescaling, the
  optimal denoiser projects onto x/||x|| (one eigenvalue 1, the rest 0, MSE = sigma^2 per image).
- Unit-frequency sinusoids of random amplitude and phase (a 2-D cone filling a plane): the optimal
  denoiser projects onto the two sinusoids a quarter period apart (MSE = 2 sigma^2 per image).

The paper finds the networks close to these projections but with slower eigenvalue decay and harmonic
(GAHB) components beyond the manifold's dimension: an inductive bias, suboptimal on such classes.
"""

from __future__ import annotations

import functools
import numbers
import time

import numpy as np
import torch
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from gahb._checks import check_image_shape, resolve_seed
from gahb.core.optimal import SubspaceProjection
from gahb.experiments._optimality_reports import _curve_axes, _vec_grid
from gahb.experiments.optimality import SLOPE_WINDOW, _curve, _principal_cosines, adaptive_spectrum
from gahb.experiments.optimality import _estimator as _estimator_of
from gahb.metrics import paper_sigmas

__all__ = ["intensity_rescaling", "sine_cone", "sine_plane", "ManifoldDenoising"]

# CPU scale: a BF-CNN (the paper's network for these figures) of width 16, minutes on one core
DEFAULT_ESTIMATOR = dict(architecture="bfcnn", width=16, n_layers=8, max_iter=2000, batch_size=32,
                         lr_schedule="halving")


def sine_plane(image_shape, frequency=(0, 1)) -> np.ndarray:
    """Orthonormal rows (2, d) spanning the sinusoids of ``frequency`` (cycles per image along rows, columns).

    See Also
    --------
    sine_cone : The experiment whose optimal denoiser projects onto this plane.

    Examples
    --------
    >>> import numpy as np
    >>> U = sine_plane((4, 4))
    >>> U.shape, bool(np.allclose(U @ U.T, np.eye(2)))
    ((2, 16), True)
    """
    _, H, W = check_image_shape(image_shape)
    fy, fx = frequency
    arg = 2 * np.pi * (fy * np.arange(H)[:, None] / H + fx * np.arange(W)[None, :] / W)
    Q, _ = np.linalg.qr(np.stack([np.sin(arg).ravel(), np.cos(arg).ravel()], axis=1))
    return Q.T


def _analyse(den, x, U, sigma, seed, image_shape=None):
    """Spectrum of ``den`` at x + sigma z against the projection onto the rows of U."""
    sp = adaptive_spectrum(den, x, sigma, random_state=seed, image_shape=image_shape)
    k = U.shape[0]
    c = sp.coefficients
    return Bunch(spectrum=sp, principal_cosines=_principal_cosines(np.asarray(sp.components[:k], np.float64).T, U.T),
                 energy_outside=float(1 - np.sum(c[:k] ** 2) / max(np.sum(c**2), 1e-300)),
                 eigenvalues=sp.eigenvalues)


_estimator = functools.partial(_estimator_of, defaults=DEFAULT_ESTIMATOR)  # the experiments' setup, BF-CNN default


def _homogeneity(den, y, scales=(0.25, 0.5, 2.0)):
    """max over a of ||f(a y) - a f(y)|| / ||a f(y)||: zero for a bias-free network."""
    fy = np.asarray(den.transform(y), np.float64)
    return float(max(np.linalg.norm(np.asarray(den.transform(a * y), np.float64) - a * fy) /
                     max(np.linalg.norm(a * fy), 1e-300) for a in scales))


_COMMON = {
    "estimator": [None, HasMethods(["fit", "set_params"])],
    "sigma": [Interval(numbers.Real, 0, None, closed="neither")],
    "sigmas": [None, "array-like"],
    "random_state": ["random_state"],
    "device": [str, torch.device],
}


@validate_params({"image": ["array-like"], "n_test": [Interval(numbers.Integral, 1, None, closed="left")],
                  "compare_plain": ["boolean"], **_COMMON}, prefer_skip_nested_validation=True)
def intensity_rescaling(image, *, estimator=None, sigma=0.04, sigmas=None, n_test=64, compare_plain=True,
                        random_state=0, device="cpu"):
    """One image, trained with positive intensity rescaling: the ray {a·x} (paper App. C.2, Fig. 19).

    A denoiser with ``rescale="uniform"`` is trained on the single image ``x`` (N = 1) and compared with
    the optimal one, the projection onto x/||x||: PSNR on rescaled copies a·x (a ~ U(0.1, 1)) against the
    optimal line (output = input + 10 log10 d), and the Jacobian spectrum at x + sigma z (optimal: one
    eigenvalue 1, e_0 = x/||x||, all others 0). With ``compare_plain`` a model trained on x without
    rescaling is measured too.

    Parameters
    ----------
    image : array-like of shape (H, W) or (C, H, W)
        The image x, values in [0, 1].
    estimator : DiffusionDenoiser, default=None
        Cloned (``rescale`` set per model); default a BF-CNN of width 16 with 8 layers, 2000 steps.
    sigma : float, default=0.04
        Noise level of the spectrum (the paper's).
    sigmas : array-like, default=None
        Noise levels of the PSNR curves (the paper's 15).
    n_test : int, default=64
        Rescaled copies in the PSNR curves.
    compare_plain : bool, default=True
        Also train without rescaling.
    random_state : int, default=0
    device : str, default="cpu"

    Returns
    -------
    result : ManifoldDenoising

    See Also
    --------
    sine_cone : The 2-D cone of sinusoids.
    gahb.datasets.make_ray : The rescaled copies as a data set.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import DiffusionDenoiser
    >>> tiny = DiffusionDenoiser(architecture="bfcnn", width=4, n_layers=3, max_iter=5, batch_size=8)
    >>> res = intensity_rescaling(np.random.default_rng(0).random((6, 6)), estimator=tiny, sigmas=[0.05, 0.1],
    ...                           n_test=4, compare_plain=False)
    >>> round(float(res.optimal.eigenvalues[0]), 6), res.dimension
    (1.0, 1)
    """
    img = np.asarray(image, np.float64)
    if img.ndim not in (2, 3) or not np.all(np.isfinite(img)):
        raise ValueError(f"image must be a finite (H, W) or (C, H, W) array; got shape {img.shape}.")
    shape = check_image_shape(img.shape)
    x = img.reshape(1, -1)
    seed = resolve_seed(random_state)
    sigmas = paper_sigmas() if sigmas is None else np.asarray(sigmas, np.float64)
    a = 0.1 + 0.9 * np.random.default_rng(seed).random(n_test)
    X_test = a[:, None] * x
    U = x / np.linalg.norm(x)
    models = {}
    for name, rescale in (("rescaled", "uniform"), ("plain", None))[: 2 if compare_plain else 1]:
        t0 = time.perf_counter()
        den = _estimator(estimator, shape, seed, device, rescale=rescale).fit(x)
        res = _analyse(den, x[0], U, sigma, seed)
        res.curve = _curve(den, X_test, sigmas, n_test, seed, SLOPE_WINDOW)
        res.homogeneity_error = _homogeneity(den, res.spectrum.noisy[None])
        res.fit_seconds = time.perf_counter() - t0
        models[name] = res
    optimal = _analyse(SubspaceProjection(U, shape).double(), x[0], U, sigma, seed, image_shape=shape)
    return ManifoldDenoising("ray", shape, x[0], U, sigma, models, optimal, offset=10 * np.log10(x.shape[1]),
                             sigmas=sigmas)


@validate_params({"image_size": [Interval(numbers.Integral, 2, None, closed="left")],
                  "n_train": [Interval(numbers.Integral, 1, None, closed="left")],
                  "n_test": [Interval(numbers.Integral, 1, None, closed="left")],
                  "frequency": [tuple, list], **_COMMON}, prefer_skip_nested_validation=True)
def sine_cone(*, image_size=16, n_train=2000, n_test=100, frequency=(0, 1), estimator=None, sigma=0.08,
              sigmas=None, random_state=0, device="cpu"):
    """Sinusoids of random amplitude and phase: a 2-D cone whose optimal denoiser is a projection (Fig. 20).

    Images are ``(a / 2) sin(2 pi (fy i / H + fx j / W) + phi)`` (:func:`gahb.datasets.make_sines` minus each
    image's mean), a ~ U(0, 1), phi ~ U(0, 2 pi): every positive rescaling of an image is in the set, and
    the set spans the plane of the two sinusoids a quarter period apart. The optimal denoiser at small
    noise projects onto that plane (eigenvalues 1, 1, 0, ...; output PSNR = input + 10 log10(d / 2)).

    Parameters
    ----------
    image_size : int, default=16
    n_train, n_test : int, default=2000, 100
    frequency : (int, int), default=(0, 1)
        Cycles per image along rows and columns (the paper states neither size nor orientation).
    estimator : DiffusionDenoiser, default=None
        Default a BF-CNN of width 16 with 8 layers, 2000 steps.
    sigma : float, default=0.08
        Noise level of the spectrum (the paper's).
    sigmas : array-like, default=None
    random_state : int, default=0
    device : str, default="cpu"

    Returns
    -------
    result : ManifoldDenoising

    See Also
    --------
    intensity_rescaling : The 1-D ray of one image.
    sine_plane : The plane onto which the optimal denoiser projects.

    Examples
    --------
    >>> from gahb import DiffusionDenoiser
    >>> tiny = DiffusionDenoiser(architecture="bfcnn", width=4, n_layers=3, max_iter=5, batch_size=8)
    >>> res = sine_cone(image_size=8, n_train=32, n_test=4, estimator=tiny, sigmas=[0.05, 0.1])
    >>> [round(float(v), 6) for v in res.optimal.eigenvalues[:3]]
    [1.0, 1.0, 0.0]
    """
    from gahb.datasets import make_sines

    seed = resolve_seed(random_state)
    sigmas = paper_sigmas() if sigmas is None else np.asarray(sigmas, np.float64)
    b = make_sines(n_train + n_test, image_size, random_state=seed, frequency=tuple(frequency))
    X = b.data.astype(np.float64)
    X -= X.mean(axis=1, keepdims=True)
    shape = check_image_shape(b.image_shape)
    U = sine_plane(shape, frequency)
    t0 = time.perf_counter()
    den = _estimator(estimator, shape, seed, device).fit(X[:n_train])
    X_test = X[n_train:]
    res = _analyse(den, X_test[0], U, sigma, seed)
    res.curve = _curve(den, X_test, sigmas, n_test, seed, SLOPE_WINDOW)
    res.homogeneity_error = _homogeneity(den, res.spectrum.noisy[None])
    res.fit_seconds = time.perf_counter() - t0
    optimal = _analyse(SubspaceProjection(U, shape).double(), X_test[0], U, sigma, seed, image_shape=shape)
    return ManifoldDenoising("sines", shape, X_test[0], U, sigma, {"network": res}, optimal,
                             offset=10 * np.log10(X.shape[1] / 2), sigmas=sigmas)


class ManifoldDenoising:
    """Result of :func:`intensity_rescaling` or :func:`sine_cone`: networks against the optimal projection.

    Attributes
    ----------
    models : dict of str -> Bunch
        Per trained model: ``curve`` (PSNR against input PSNR, ``slope``), ``eigenvalues``,
        ``principal_cosines`` (top-k eigenvectors against the manifold's span), ``energy_outside`` (fraction
        of ||x||^2 on eigenvectors beyond the first k; 0 for the optimum), ``homogeneity_error``,
        ``spectrum`` (the full :func:`adaptive_spectrum` Bunch).
    optimal : Bunch
        The same analysis of the exact projection (``SubspaceProjection``).
    offset : float
        Optimal output PSNR minus input PSNR (dB).

    See Also
    --------
    intensity_rescaling, sine_cone : The functions that compute it.

    Examples
    --------
    >>> res = sine_cone()  # doctest: +SKIP
    >>> res.table()[0]["energy_outside"]  # doctest: +SKIP
    0.02
    """

    def __init__(self, kind, image_shape, clean, basis, sigma, models, optimal, offset, sigmas):
        self.kind, self.image_shape, self.clean, self.basis = kind, tuple(image_shape), clean, basis
        self.sigma, self.models, self.optimal, self.offset, self.sigmas = float(sigma), models, optimal, offset, sigmas

    @property
    def dimension(self) -> int:
        return int(self.basis.shape[0])

    def table(self) -> list[dict]:
        k = self.dimension
        rows = []
        for name, m in [*self.models.items(), ("optimal projection", self.optimal)]:
            lam = m.eigenvalues
            rows.append({"model": name, "slope": m.curve.slope if "curve" in m else 1.0,
                         **{f"lambda_{j}": float(lam[j]) for j in range(k + 3)},
                         "trace_J": m.spectrum.effective_dimension,
                         "min_cos_to_span": float(m.principal_cosines.min()), "energy_outside": m.energy_outside,
                         "homogeneity_error": m.get("homogeneity_error", 0.0)})
        return rows

    def plot(self):
        from gahb.report import subplots
        fig, axes = subplots(1, 2, figsize=(9, 3.4))
        curves = [m.curve for m in self.models.values()]
        mid = float(np.mean(curves[0].input_psnr))
        _curve_axes(axes[0], curves, list(self.models), [(1.0, mid, mid + self.offset, "optimal projection")])
        k = self.dimension
        for name, m in self.models.items():
            axes[1].plot(m.eigenvalues[: max(40, 4 * k)], "o-", ms=2, lw=0.8, label=name)
        axes[1].plot(self.optimal.eigenvalues[: max(40, 4 * k)], "k--", lw=1, label="optimal projection")
        axes[1].set(xlabel="k", ylabel="lambda_k", title=f"Jacobian eigenvalues, sigma = {self.sigma:g}")
        axes[1].legend(fontsize=7)
        fig.tight_layout()
        return fig

    def plot_vectors(self, n_vectors: int = 8):
        shape = self.image_shape[1:] if self.image_shape[0] == 1 else self.image_shape
        first = next(iter(self.models.values())).spectrum
        rows = [[self.clean, first.noisy, first.denoised]]
        labels = ["x, y, f(y)"]
        for name, m in self.models.items():
            rows.append(list(m.spectrum.components[:n_vectors]))
            labels.append(f"{name} e_k")
        rows.append(list(self.basis))
        labels.append("optimal span")
        return _vec_grid(rows, labels, shape)

    def to_report(self, report) -> None:
        """Append the table, the curves, the spectra and the eigenvectors to a :class:`gahb.report.Report`."""
        report.add_table(self.table(), precision=3, caption=(
            f"Jacobian at y = x + {self.sigma:g} z; optimal: {self.dimension} eigenvalue(s) 1, the rest 0, the top "
            f"eigenvectors spanning the manifold (min cosine 1), no energy of x beyond them; slope = least-squares "
            f"PSNR slope over input PSNR {SLOPE_WINDOW} dB (optimal 1, output = input + {self.offset:.1f} dB)."))
        report.add_figure(self.plot(), f"{self.kind}_psnr_spectrum", "PSNR curves against the optimal projection, "
                          "and the Jacobian eigenvalues")
        report.add_figure(self.plot_vectors(), f"{self.kind}_eigenvectors", "Clean, noisy and denoised image; top "
                          "eigenvectors of each network; an orthonormal basis of the optimal span")
        report.data[self.kind] = dict(table=self.table(), sigma=self.sigma, offset=self.offset, models={
            n: dict(input_psnr=m.curve.input_psnr, output_psnr=m.curve.output_psnr, eigenvalues=m.eigenvalues[:64],
                    fit_seconds=m.fit_seconds) for n, m in self.models.items()})
