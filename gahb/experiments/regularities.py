"""C^alpha images with separate contour and background regularities (paper App. C.1, Fig. 17).

The contour has regularity alpha_1 and both backgrounds the much higher alpha_2 (the paper: alpha_1 in
{1.5, 2, 4}, alpha_2 = 8, sigma = 0.2), so the image's regularity is set by its contour alone. The paper's
observation: the more regular the contour, the less localized the harmonics along it and the faster the
image's coefficients on the adaptive basis decay.
"""

from __future__ import annotations

import numbers
import time

import numpy as np
import torch
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from gahb._checks import resolve_seed
from gahb.experiments._optimality_reports import _vec_grid
from gahb.experiments.manifolds import _estimator
from gahb.experiments.optimality import SLOPE_WINDOW, _curve, adaptive_spectrum
from gahb.metrics import paper_sigmas

__all__ = ["separate_regularities", "SeparateRegularities", "participation_ratio", "coefficient_decay"]


def participation_ratio(vectors) -> np.ndarray:
    """Fraction of the pixels each unit row occupies, 1 / (d sum e^4): 1 = spread evenly, 1/d = one pixel.

    See Also
    --------
    coefficient_decay : The other measure of Fig. 17.

    Examples
    --------
    >>> import numpy as np
    >>> participation_ratio(np.array([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]])).tolist()
    [1.0, 0.25]
    """
    E = np.asarray(vectors, np.float64)
    E = E / np.linalg.norm(E, axis=-1, keepdims=True)
    return 1.0 / (E.shape[-1] * np.sum(E**4, axis=-1))


def coefficient_decay(coefficients, k_range=(1, None)) -> float:
    """Exponent p of sorted squared coefficients c_(k)^2 ~ k^-p (least squares in log-log over ``k_range``).

    For C^alpha images in a bandlet-like basis p = alpha + 1 (paper eqs 11-13).

    See Also
    --------
    participation_ratio : How localized the basis vectors are.

    Examples
    --------
    >>> import numpy as np
    >>> round(coefficient_decay(np.arange(1, 101) ** -1.5), 6)  # c_k^2 ~ k^-3
    3.0
    """
    c2 = np.sort(np.asarray(coefficients, np.float64) ** 2)[::-1]
    lo, hi = k_range
    k = np.arange(1, c2.size + 1)[lo:hi]
    v = c2[lo:hi]
    keep = v > 1e-20
    return float(-np.polyfit(np.log(k[keep]), np.log(v[keep]), 1)[0])


@validate_params(
    {
        "contour_alphas": ["array-like"],
        "background_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "image_size": [Interval(numbers.Integral, 4, None, closed="left")],
        "n_train": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_test": [Interval(numbers.Integral, 1, None, closed="left")],
        "estimator": [None, HasMethods(["fit", "set_params"])],
        "sigma": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_images": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_vectors": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def separate_regularities(contour_alphas=(1.5, 2.0, 4.0), background_alpha=8.0, *, image_size=16, n_train=2000,
                          n_test=100, estimator=None, sigma=0.2, n_images=4, n_vectors=16, random_state=0,
                          device="cpu"):
    """One denoiser per contour regularity alpha_1, backgrounds of regularity alpha_2 (paper Fig. 17).

    Per alpha_1: :func:`gahb.datasets.make_c_alpha` with ``alpha=alpha_1, beta=background_alpha``, a model
    trained on ``n_train`` images, its PSNR slope (optimal alpha_1 / (alpha_1 + 1)), and at ``n_images`` test
    images with noise ``sigma``: the decay exponent of the clean image's coefficients on the adaptive basis
    (:func:`coefficient_decay`) and the participation ratio of the top ``n_vectors`` eigenvectors
    (:func:`participation_ratio`: smaller = more localized).

    Returns
    -------
    result : SeparateRegularities

    See Also
    --------
    gahb.datasets.make_c_alpha : ``beta`` is the background regularity.
    gahb.experiments.optimality.c_alpha_optimality : One regularity for contour and backgrounds.

    Examples
    --------
    >>> from gahb import DiffusionDenoiser
    >>> tiny = DiffusionDenoiser(architecture="bfcnn", width=4, n_layers=3, max_iter=5, batch_size=8)
    >>> res = separate_regularities((1.5, 4.0), image_size=8, n_train=32, n_test=4, estimator=tiny, n_images=1)
    >>> [row["alpha_contour"] for row in res.table()]
    [1.5, 4.0]
    """
    from gahb.datasets import make_c_alpha

    seed = resolve_seed(random_state)
    sigmas = paper_sigmas()
    results = []
    for i, a in enumerate(np.asarray(contour_alphas, np.float64).ravel()):
        t0 = time.perf_counter()
        data = make_c_alpha(n_train + n_test, image_size=image_size, alpha=float(a), beta=float(background_alpha),
                            random_state=seed + i)
        X = data.data.astype(np.float64)
        den = _estimator(estimator, data.image_shape, seed, device).fit(X[:n_train])
        X_test = X[n_train:]
        spectra = [adaptive_spectrum(den, X_test[j], sigma, random_state=seed, index=j) for j in range(n_images)]
        results.append(dict(
            alpha=float(a), optimal_slope=float(a / (a + 1)),
            slope=_curve(den, X_test, sigmas, min(n_test, 100), seed, SLOPE_WINDOW).slope,
            decay=float(np.mean([coefficient_decay(s.coefficients) for s in spectra])),
            participation=float(np.mean([participation_ratio(s.components[:n_vectors]).mean() for s in spectra])),
            trace_J=float(np.mean([s.effective_dimension for s in spectra])),
            spectrum=spectra[0], clean=X_test[0], fit_seconds=time.perf_counter() - t0))
    return SeparateRegularities(results, float(background_alpha), float(sigma), int(n_vectors), (image_size,) * 2)


class SeparateRegularities:
    """Result of :func:`separate_regularities`: per contour regularity, slope, decay, localization.

    See Also
    --------
    separate_regularities : The function that computes it.

    Examples
    --------
    >>> res = separate_regularities()  # doctest: +SKIP
    >>> res.summary()  # doctest: +SKIP
    {'decay_increases_with_alpha': True, 'participation_increases_with_alpha': True}
    """

    def __init__(self, results, background_alpha, sigma, n_vectors, image_shape):
        self.results, self.background_alpha, self.sigma = results, background_alpha, sigma
        self.n_vectors, self.image_shape = n_vectors, image_shape

    def table(self) -> list[dict]:
        return [{"alpha_contour": r["alpha"], "alpha_background": self.background_alpha, "slope": r["slope"],
                 "optimal_slope": r["optimal_slope"], "coefficient_decay": r["decay"],
                 "participation_ratio": r["participation"], "trace_J": r["trace_J"], "fit_seconds": r["fit_seconds"]}
                for r in self.results]

    def summary(self) -> dict:
        t = self.table()
        dec, pr = [r["coefficient_decay"] for r in t], [r["participation_ratio"] for r in t]
        return {"decay_increases_with_alpha": bool(np.all(np.diff(dec) > 0)),
                "participation_increases_with_alpha": bool(np.all(np.diff(pr) > 0))}

    def plot(self):
        from gahb.report import subplots
        fig, axes = subplots(1, 2, figsize=(9, 3.2))
        for r in self.results:
            c = np.sort(np.abs(r["spectrum"].coefficients))[::-1]
            axes[0].loglog(np.arange(1, c.size + 1), c, lw=1, label=f"alpha_1 = {r['alpha']:g}")
            axes[1].plot(r["spectrum"].eigenvalues[:64], lw=1, label=f"alpha_1 = {r['alpha']:g}")
        axes[0].set(xlabel="k (sorted)", ylabel="|<x, e_k(y)>|", title="coefficient decay")
        axes[1].set(xlabel="k", ylabel="lambda_k", title=f"eigenvalues, sigma = {self.sigma:g}")
        for ax in axes:
            ax.legend(fontsize=7)
        fig.tight_layout()
        return fig

    def plot_vectors(self, n_show: int = 8):
        shape = self.image_shape
        rows, labels = [], []
        for r in self.results:
            sp = r["spectrum"]
            rows.append([r["clean"], sp.noisy, sp.denoised] + list(sp.components[:n_show]))
            labels.append(f"alpha_1={r['alpha']:g}")
        return _vec_grid(rows, labels, shape, ["x", "y", "f(y)"] + [f"e{k}" for k in range(n_show)])

    def to_report(self, report) -> None:
        """Append the table, decay curves and eigenvector rows to a :class:`gahb.report.Report`."""
        report.add_table(self.table(), precision=3, caption=(
            f"Contour regularity alpha_1 against backgrounds of regularity {self.background_alpha:g}; coefficient "
            f"decay = exponent p of sorted c_k^2 ~ k^-p at sigma = {self.sigma:g}; participation ratio = mean "
            f"fraction of pixels occupied by the top {self.n_vectors} eigenvectors (smaller = more localized)."))
        report.add_figure(self.plot(), "regularities_decay", "Sorted coefficients of the clean image on the adaptive "
                          "basis, and the eigenvalues, per contour regularity")
        report.add_figure(self.plot_vectors(), "regularities_eigenvectors", "Per alpha_1: clean, noisy, denoised "
                          "image and the top eigenvectors (paper Fig. 17)")
        report.data["regularities"] = dict(table=self.table(), summary=self.summary(), sigma=self.sigma,
                                           background_alpha=self.background_alpha)
