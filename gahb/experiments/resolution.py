"""How the training-set size needed to generalize grows with image size (paper App. B.4, Fig. 15, Table 1).

For each image size the network's capacity is scaled as in the paper's Table 1 (one more UNet level per
doubling of the side: 1 / 2 / 3 / 4 levels at 20 / 40 / 80 / 160 pixels), one denoiser is trained per
training-set size N, and the gap between its denoising PSNR on training and held-out images, averaged over
noise levels in [0, 1], is recorded. The paper's finding: the N at which the gap falls below a threshold
grows with the image size, but far less than in proportion to the number of pixels.
"""

from __future__ import annotations

import numbers
import time

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from gahb._checks import resolve_seed
from gahb.metrics import PAPER_SIGMAS, psnr_curve, psnr_gap

__all__ = ["resolution_study", "ResolutionStudy", "crossing_size"]


def crossing_size(sizes, gaps, threshold) -> float | None:
    """The N at which the gap first falls to ``threshold``, interpolated linearly in log N and log gap.

    ``None`` when no size reaches it; the smallest size when the first one already does.

    See Also
    --------
    resolution_study : The gaps it is applied to.

    Examples
    --------
    >>> crossing_size([1, 10, 100], [10.0, 1.0, 0.1], 0.5)  # between 10 and 100, on the log-log line
    20.0
    """
    n = np.asarray(sizes, np.float64)
    g = np.maximum(np.asarray(gaps, np.float64), 1e-12)
    below = np.nonzero(g <= threshold)[0]
    if below.size == 0:
        return None
    j = int(below[0])
    if j == 0:
        return float(n[0])
    x0, x1, y0, y1 = np.log10(n[j - 1]), np.log10(n[j]), np.log10(g[j - 1]), np.log10(g[j])
    return float(10 ** (x0 + (np.log10(threshold) - y0) * (x1 - x0) / (y1 - y0)))


def _fit_gap(estimator, X, n, n_max, image_size, n_blocks, sigmas, n_psnr, seed):
    t0 = time.perf_counter()
    est = clone(estimator).set_params(image_shape=(image_size, image_size), n_blocks=n_blocks, random_state=seed)
    est.fit(X[:n])
    test = X[n_max : n_max + n_psnr]
    train = psnr_curve(est, X[:n], sigmas=sigmas, n_images=n_psnr, random_state=seed)
    held = psnr_curve(est, test, sigmas=sigmas, n_images=n_psnr, random_state=seed)
    n_params = sum(p.numel() for p in est.network_.parameters())
    return dict(image_size=image_size, n_blocks=n_blocks, n_params=int(n_params), n_train=int(n),
                gap=psnr_gap(train, held), psnr_train=train.output_psnr, psnr_test=held.output_psnr,
                fit_seconds=time.perf_counter() - t0)


@validate_params(
    {
        "estimator": [HasMethods(["fit", "set_params"])],
        "X_by_size": [dict],
        "sizes": ["array-like"],
        "n_blocks": [None, dict],
        "threshold": [Interval(numbers.Real, 0, None, closed="neither")],
        "sigmas": [None, "array-like"],
        "n_psnr_images": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [None, numbers.Integral],
    },
    prefer_skip_nested_validation=True,
)
def resolution_study(estimator, X_by_size, sizes, *, n_blocks=None, threshold=1.0, sigmas=None, n_psnr_images=100,
                     random_state=0, n_jobs=None):
    """Train/held-out PSNR gap against training-set size N at several image sizes (paper Fig. 15).

    Parameters
    ----------
    estimator : DiffusionDenoiser
        Cloned per (image size, N) with ``image_shape``, ``n_blocks`` and ``random_state`` set.
    X_by_size : dict of int -> array-like of shape (n_images, side * side)
        The same image distribution at each side length (e.g. one generator at several resolutions).
        Needs ``max(sizes) + n_psnr_images`` rows: the first N train, the rows after ``max(sizes)`` are held out.
    sizes : array-like of int
        Training-set sizes N.
    n_blocks : dict of int -> int, default=None
        UNet levels per image side (capacity scaling); ``None`` keeps the estimator's for every size.
    threshold : float, default=1.0
        Gap (dB) whose crossing N is reported per image size.
    sigmas : array-like, default=None
        Noise levels of the PSNR curves (default the paper's 15 levels in (0, 1]).
    n_psnr_images : int, default=100
        Images per noise level and curve.
    random_state : int, default=0
        Seed of the fits and of the PSNR noise.
    n_jobs : int, default=None
        Fits in parallel through joblib.

    Returns
    -------
    result : ResolutionStudy

    See Also
    --------
    generalization_curve : Two models per N at one image size, with samples.
    crossing_size : How the crossing N is interpolated.

    Examples
    --------
    >>> from gahb import DiffusionDenoiser
    >>> from gahb.datasets import make_dead_leaves
    >>> X_by = {s: make_dead_leaves(12, image_size=s, random_state=0).data for s in (4, 8)}
    >>> res = resolution_study(DiffusionDenoiser(width=4, max_iter=5, batch_size=4), X_by, [1, 4],
    ...                        n_blocks={4: 1, 8: 2}, n_psnr_images=4, sigmas=[0.1, 0.3])
    >>> res.image_sizes, len(res.table())
    ([4, 8], 4)
    """
    from joblib import Parallel, delayed

    sizes = sorted({int(n) for n in np.asarray(sizes).ravel()})
    if not sizes or sizes[0] < 1:
        raise ValueError(f"sizes must be positive integers; got {sizes}.")
    sigmas = PAPER_SIGMAS if sigmas is None else np.asarray(sigmas, np.float64).ravel()
    data = {}
    for side, X in sorted(X_by_size.items()):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != int(side) ** 2:
            raise ValueError(f"X_by_size[{side}] must have shape (n, {int(side) ** 2}); got {X.shape}.")
        if X.shape[0] < sizes[-1] + n_psnr_images:
            raise ValueError(f"X_by_size[{side}] has {X.shape[0]} images; N={sizes[-1]} plus {n_psnr_images} held-out "
                             "images are needed.")
        data[int(side)] = X
    blocks = {s: (n_blocks or {}).get(s, estimator.get_params().get("n_blocks")) for s in data}
    seed = resolve_seed(random_state)
    t0 = time.perf_counter()
    tasks = [delayed(_fit_gap)(estimator, data[s], n, sizes[-1], s, blocks[s], sigmas, n_psnr_images, seed)
             for s in data for n in sizes]
    rows = Parallel(n_jobs=n_jobs)(tasks)
    return ResolutionStudy(rows, sizes, threshold, sigmas, time.perf_counter() - t0)


class ResolutionStudy:
    """Result of :func:`resolution_study`: one row per (image size, N), crossings and the Fig. 15 plot.

    See Also
    --------
    resolution_study : The function that computes it.

    Examples
    --------
    >>> res = resolution_study(est, X_by_size, [1, 10, 100, 1000])  # doctest: +SKIP
    >>> res.crossings()  # doctest: +SKIP
    {8: 31.6, 16: 120.5, 32: 270.1}
    """

    def __init__(self, rows, sizes, threshold, sigmas, wall_seconds):
        self.rows, self.sizes, self.threshold = rows, list(sizes), float(threshold)
        self.sigmas, self.wall_seconds = np.asarray(sigmas), wall_seconds

    @property
    def image_sizes(self) -> list[int]:
        return sorted({r["image_size"] for r in self.rows})

    def gaps(self, image_size) -> np.ndarray:
        return np.array([r["gap"] for r in self.rows if r["image_size"] == image_size])

    def crossings(self) -> dict:
        """Image side -> N at which the gap reaches ``threshold`` (``None``: not within the sizes)."""
        return {s: crossing_size(self.sizes, self.gaps(s), self.threshold) for s in self.image_sizes}

    def table(self) -> list[dict]:
        return [{k: r[k] for k in ("image_size", "n_blocks", "n_params", "n_train", "gap", "fit_seconds")}
                for r in self.rows]

    def plot(self):
        """Figure: PSNR gap against N on log-log axes, one curve per image size, with the threshold."""
        from gahb.report import subplots
        fig, ax = subplots(figsize=(4.2, 3.2))
        for s in self.image_sizes:
            params = next(r["n_params"] for r in self.rows if r["image_size"] == s)
            ax.plot(self.sizes, np.maximum(self.gaps(s), 1e-3), "o-", ms=4,
                    label=f"{s}x{s} ({params / 1e3:.0f}k params)")
        ax.axhline(self.threshold, color="gray", ls=":", lw=1, label=f"threshold {self.threshold:g} dB")
        ax.set(xscale="log", yscale="log", xlabel="training-set size N", ylabel="PSNR gap train - test (dB)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        return fig

    def to_report(self, report) -> None:
        """Append the table, the crossing sizes and the figure to a :class:`gahb.report.Report`."""
        cross = self.crossings()
        report.add_table([dict(image_size=s, n_blocks=next(r["n_blocks"] for r in self.rows if r["image_size"] == s),
                               crossing_N=("> %d" % self.sizes[-1]) if c is None else c) for s, c in cross.items()],
                         precision=1, caption=f"N at which the gap falls to {self.threshold:g} dB "
                                              "(interpolated in log N, log gap):")
        report.add_table(self.table(), precision=3)
        report.add_figure(self.plot(), "resolution", "Train - test PSNR gap against N per image size (paper Fig. 15)")
        report.data["resolution"] = dict(rows=self.table(), crossings={str(k): v for k, v in cross.items()},
                                         threshold=self.threshold, sizes=self.sizes, wall_seconds=self.wall_seconds)
