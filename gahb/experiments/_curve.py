"""The result of a memorization -> generalization sweep: per-size arrays, summary table, figures, report."""

from __future__ import annotations

import numpy as np

from gahb.metrics import effective_memorization, psnr_gap, summarize

__all__ = ["GeneralizationCurve"]


class GeneralizationCurve:
    """Result of :func:`generalization_curve`: per-size arrays, a summary table and plots.

    Attributes
    ----------
    sizes : list of int
    per_size : list of dict
        Everything measured at each N: samples and nearest training images of both models, per-sample
        similarities, memorization flags, PSNR curves, timings.
    wall_seconds : float
        Wall time of the fits (training, sampling and PSNR curves).
    data_warnings : list of str
        The :class:`gahb.exceptions.NearDuplicateWarning` messages of the sweep (overlapping training sets or
        held-out images); ``to_report`` puts them first.
    n_cached_ : int
        Fits loaded from ``cache_dir`` instead of trained (set by :func:`generalization_curve`).
    fit_info_ : dict
        ``(N, role) -> {"device", "visible_gpus", "trained_with", "fit_seconds", "cpu_seconds", "from_cache"}``:
        where each fit ran (its device and the worker's ``CUDA_VISIBLE_DEVICES``) and which fits shared its
        network (``vectorize``).
    estimators_ : dict
        ``(N, role) -> fitted estimator``, with ``keep_estimators=True``.

    See Also
    --------
    generalization_curve : Computes it.
    gahb.report.Report : ``to_report`` writes the study into one.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import MemorizingDenoiser
    >>> from gahb.experiments import generalization_curve
    >>> X = np.random.default_rng(0).random((8, 16))
    >>> res = generalization_curve(MemorizingDenoiser(beta=1.0), X, [1, 4], n_samples=4, sigmas=[], verbose=0)
    >>> res.sizes, res[4]["samples_A"].shape, res.summary()["effective_memorization_cosine"]
    ([1, 4], (4, 16), 4)
    """

    def __init__(self, sizes, per_size, image_shape, sigmas, epsilon, threshold, remove_mean, wall_seconds,
                 n_samples, data_warnings=()):
        self.sizes = list(sizes)
        self.per_size = per_size
        self.image_shape = image_shape
        self.sigmas = sigmas
        self.epsilon = epsilon
        self.threshold = threshold
        self.remove_mean = remove_mean
        self.wall_seconds = wall_seconds
        self.n_samples = n_samples
        self.data_warnings = list(data_warnings)

    def __repr__(self):
        return f"GeneralizationCurve(sizes={self.sizes}, wall_seconds={self.wall_seconds:.1f})"

    def __getitem__(self, n):
        """The per-size dict of training-set size ``n``."""
        for d in self.per_size:
            if d["n_train"] == n:
                return d
        raise KeyError(f"no size {n}; sizes are {self.sizes}.")

    def table(self) -> list[dict]:
        """One summary row (dict of scalars) per N; see :meth:`to_dict` for the column meanings."""
        rows = []
        for d in self.per_size:
            cross, chance = summarize(d["cross_similarity"]), summarize(d["chance_similarity"])
            near = summarize(np.concatenate([d["nearest_similarity_A"], d["nearest_similarity_B"]]))
            row = {
                "n_train": d["n_train"],
                "mem_cosine_A": d["mem_cosine_A"], "mem_cosine_B": d["mem_cosine_B"],
                "mem_ratio_A": d["mem_ratio_A"], "mem_ratio_B": d["mem_ratio_B"],
                "nearest_median": near["median"],
                "cross_median": cross["median"], "cross_q25": cross["q25"], "cross_q75": cross["q75"],
                "cross_raw_median": summarize(d["cross_similarity_raw"])["median"],
                "chance_median": chance["median"],
                "data_baseline_median": summarize(d["data_baseline_similarity"])["median"],
            }
            if "collage_A" in d:
                row.update(collage_A=d["collage_A"], collage_B=d["collage_B"], collage_chance=d["collage_chance"])
            gaps = [psnr_gap(d[f"psnr_train_{r}"], d[f"psnr_test_{r}"]) for r in "AB" if f"psnr_train_{r}" in d]
            row["psnr_gap"] = float(np.mean(gaps)) if gaps else float("nan")
            n_nan = sum(int(np.sum(~np.all(np.isfinite(d[f"samples_{r}"]), axis=1))) for r in "AB")
            row["n_nan_samples"] = n_nan
            if "converged_A" in d:
                row["n_not_converged"] = int(sum(np.sum(~np.asarray(d[f"converged_{r}"], bool)) for r in "AB"))
            if "n_steps_A" in d:
                row["sampler_steps_median"] = float(np.median(np.concatenate([d["n_steps_A"], d["n_steps_B"]])))
            row["fit_seconds"] = d["fit_seconds_A"] + d["fit_seconds_B"]
            row["cpu_seconds"] = d["cpu_seconds_A"] + d["cpu_seconds_B"]
            rows.append(row)
        return rows

    def to_dict(self) -> dict:
        """Summary table as a dict of arrays (column -> values over N).

        Columns: ``n_train``; ``mem_cosine_A/B`` (fraction of samples whose nearest own-training image has
        cosine >= threshold), ``mem_ratio_A/B`` (the 1/3 distance-ratio rule, NaN at N = 1);
        ``nearest_median`` (median nearest-training similarity, both models pooled); ``cross_median``,
        ``cross_q25``, ``cross_q75`` (model A vs model B, same noise), ``cross_raw_median`` (without mean
        removal); ``chance_median`` (A_i vs B_j, every j != i); ``data_baseline_median`` (each image of A_N to its
        nearest in B_N); ``collage_A/B`` (fraction of samples pieced from patches of two or more of their
        own model's training images, :func:`gahb.metrics.patch_nearest_neighbors`) and ``collage_chance``
        (the same for B's training images against A's: the chance level); ``psnr_gap`` (Delta(N) in dB, mean over the noise grid and both models);
        ``n_nan_samples``; sampler statistics; ``fit_seconds``.
        """
        rows = self.table()
        return {k: np.array([r.get(k, np.nan) for r in rows]) for k in rows[0]}

    def to_frame(self):
        """Summary table as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("to_frame() needs pandas; use to_dict() or table() without it.") from exc
        return pd.DataFrame(self.table())

    def effective_memorization(self, epsilon=None, rule: str = "cosine") -> int:
        """Largest N whose memorization rate (both models) stays >= 1 - epsilon (0 if none)."""
        eps = self.epsilon if epsilon is None else epsilon
        rates = [min(d[f"mem_{rule}_A"], d[f"mem_{rule}_B"]) for d in self.per_size]
        if rule == "ratio":
            rates = [1.0 if d["n_train"] == 1 else r for d, r in zip(self.per_size, rates)]
        return effective_memorization(self.sizes, rates, epsilon=eps)

    def summary(self) -> dict:
        """Headline numbers: effective memorization, first/last-size figures, and whether Delta(N) shrinks."""
        t = self.to_dict()
        gap = t["psnr_gap"]
        fin = gap[np.isfinite(gap)]
        return {
            "sizes": self.sizes,
            "effective_memorization_cosine": self.effective_memorization(rule="cosine"),
            "effective_memorization_ratio": self.effective_memorization(rule="ratio"),
            "epsilon": self.epsilon,
            "mem_smallest_N": float(min(t["mem_cosine_A"][0], t["mem_cosine_B"][0])),
            "cross_median_largest_N": float(t["cross_median"][-1]),
            "chance_median_largest_N": float(t["chance_median"][-1]),
            "psnr_gap_first": float(fin[0]) if fin.size else float("nan"),
            "psnr_gap_last": float(fin[-1]) if fin.size else float("nan"),
            "psnr_gap_decreasing": bool(fin.size > 1 and fin[-1] < fin[0]),
            "wall_seconds": self.wall_seconds,
            "cpu_seconds": float(np.sum(t["cpu_seconds"])),
        }

    # ------------------------------------------------------------------ plots (matplotlib, lazily)

    def plot_samples(self, n_train, n_show: int = 8):
        """Figure: rows = A samples, their nearest A images (and patch collage), B samples, nearest B images."""
        from gahb.report import plot_image_grid

        d = self[n_train]
        k = min(n_show, d["samples_A"].shape[0])
        rows = [d["samples_A"][:k], d["nearest_images_A"][:k], d["samples_B"][:k], d["nearest_images_B"][:k]]
        labels = ["A", "A nearest", "B", "B nearest"]
        if "patch_images_A" in d:
            rows.insert(2, d["patch_images_A"][:k])
            labels.insert(2, "A patches")
        cols = [f"{c:.2f}" for c in d["cross_similarity"][:k]]
        shape = None if self.image_shape is None else self.image_shape[1:] if self.image_shape[0] == 1 else self.image_shape
        return plot_image_grid(rows, shape, row_labels=labels, col_labels=cols,
                               title=f"N = {n_train} (column title: cosine A vs B)")

    def plot_histograms(self, sizes=None):
        """Figure: per N, histograms of model-vs-model (blue) and sample-vs-nearest-training (orange) cosine."""
        from gahb.report import subplots

        sizes = self.sizes if sizes is None else list(sizes)
        fig, axes = subplots(1, len(sizes), figsize=(2.4 * len(sizes), 2.2), squeeze=False, sharey=False)
        lo = min(0.0, *(np.nanmin(np.concatenate([self[n]["cross_similarity"], self[n]["nearest_similarity_A"]]))
                        for n in sizes))
        bins = np.linspace(max(lo, -1.0), 1.0, 41)
        for ax, n in zip(axes[0], sizes):
            d = self[n]
            near = np.concatenate([d["nearest_similarity_A"], d["nearest_similarity_B"]])
            ax.hist(d["cross_similarity"][np.isfinite(d["cross_similarity"])], bins=bins, color="tab:blue",
                    alpha=0.7, density=True, label="A vs B")
            ax.hist(near[np.isfinite(near)], bins=bins, color="tab:orange", alpha=0.7, density=True,
                    label="nearest train")
            ax.axvline(np.nanmedian(d["chance_similarity"]), color="gray", ls=":", lw=1, label="chance")
            ax.set_title(f"N = {n}", fontsize=9)
            ax.set_yticks([])
            ax.set_xlabel("cosine" + (" (mean removed)" if self.remove_mean else ""), fontsize=7)
        axes[0, 0].legend(fontsize=6, loc="upper left")
        fig.tight_layout()
        return fig

    def plot_psnr_curves(self, sizes=None):
        """Figure: per N, output vs input PSNR on training and held-out images (paper Fig. 1)."""
        from gahb.report import subplots

        sizes = [n for n in (self.sizes if sizes is None else sizes) if "psnr_train_A" in self[n]]
        if not sizes:
            raise ValueError("this result has no PSNR curves (sigmas was empty or the estimator has no transform).")
        inp = -20 * np.log10(self.sigmas)
        fig, axes = subplots(1, len(sizes), figsize=(2.4 * len(sizes), 2.4), squeeze=False, sharey=True)
        for ax, n in zip(axes[0], sizes):
            d = self[n]
            ax.plot(inp, (d["psnr_train_A"] + d["psnr_train_B"]) / 2, "o-", ms=3, label="train")
            ax.plot(inp, (d["psnr_test_A"] + d["psnr_test_B"]) / 2, "s-", ms=3, label="test")
            ax.plot(inp, inp, ":", color="gray", lw=1, label="identity")
            if self.image_shape is not None:  # one image and its rescalings: MSE = sigma^2 / d per pixel
                ax.plot(inp, inp + 10 * np.log10(np.prod(self.image_shape)), "--", color="k", lw=0.8,
                        label="optimal, one image (ray)")
            ax.set_title(f"N = {n}", fontsize=9)
            ax.set_xlabel("input PSNR (dB)", fontsize=7)
            ax.invert_xaxis()
        axes[0, 0].set_ylabel("output PSNR (dB)", fontsize=7)
        axes[0, 0].legend(fontsize=6)
        fig.tight_layout()
        return fig

    def plot_summary(self):
        """Figure: memorization rate, cross-model similarity (with chance and data baseline) and Delta(N)."""
        from gahb.report import subplots

        t = self.to_dict()
        n = t["n_train"]
        fig, (a1, a2) = subplots(1, 2, figsize=(7.5, 2.8))
        a1.plot(n, (t["mem_cosine_A"] + t["mem_cosine_B"]) / 2, "o-", label=f"memorization (cos >= {self.threshold})")
        a1.plot(n, (t["mem_ratio_A"] + t["mem_ratio_B"]) / 2, "^-", label="memorization (ratio < 1/3)")
        a1.plot(n, t["cross_median"], "s-", label="A vs B (median)")
        a1.fill_between(n, t["cross_q25"], t["cross_q75"], alpha=0.2, color="tab:green")
        a1.plot(n, t["chance_median"], ":", color="gray", label="chance")
        a1.plot(n, t["data_baseline_median"], "--", color="k", lw=1, label="data baseline")
        a1.set_xscale("log")
        a1.set_xlabel("training-set size N")
        a1.legend(fontsize=6)
        gap = t["psnr_gap"]
        ok = np.isfinite(gap)
        a2.plot(n[ok], np.maximum(gap[ok], 1e-3), "o-")
        a2.set_xscale("log")
        a2.set_yscale("log")
        a2.set_xlabel("training-set size N")
        a2.set_ylabel("PSNR gap train - test (dB)")
        fig.tight_layout()
        return fig

    def to_report(self, report, show_sizes=None) -> None:
        """Append the study (table, figures, headline numbers) to a :class:`gahb.report.Report`."""
        summ = self.summary()
        if self.data_warnings:
            report.add_heading("Warning: overlapping data")
            report.add_text("\n".join(f"- **{msg}**" for msg in self.data_warnings))
            report.data["warnings"] = list(self.data_warnings)
        report.add_heading("Summary")
        report.add_text(
            f"- effective memorization (rate >= {1 - self.epsilon:.2f}, cosine rule): N = "
            f"{summ['effective_memorization_cosine']}; ratio rule: N = {summ['effective_memorization_ratio']}\n"
            f"- memorization rate at the smallest N: {summ['mem_smallest_N']:.3f}\n"
            f"- median A-vs-B similarity at the largest N: {summ['cross_median_largest_N']:.3f} "
            f"(chance {summ['chance_median_largest_N']:.3f})\n"
            f"- PSNR gap: {summ['psnr_gap_first']:.2f} dB at the smallest N -> {summ['psnr_gap_last']:.2f} dB at "
            f"the largest\n- sweep wall time (fits, sampling, PSNR curves): {self.wall_seconds:.0f} s"
        )
        cols = ["n_train", "mem_cosine_A", "mem_cosine_B", "mem_ratio_A", "mem_ratio_B", "nearest_median",
                "cross_median", "cross_q25", "cross_q75", "chance_median", "cross_raw_median",
                "data_baseline_median", "psnr_gap", "n_nan_samples", "fit_seconds", "cpu_seconds"]
        rows = self.table()
        extra = [c for c in ("collage_A", "collage_B", "collage_chance", "n_not_converged", "sampler_steps_median")
                 if c in rows[0]]
        report.add_table(rows, cols[:-2] + extra + cols[-2:])
        report.add_text(
            "Similarities are cosines" + (" of mean-removed images (Pearson correlation)" if self.remove_mean else "")
            + f"; `mem_*` = fraction of {self.n_samples} samples copying a training image of their own model "
            f"(cosine >= {self.threshold}, or L2 distance to the nearest < 1/3 of that to the 2nd nearest); "
            "`cross` = model A's sample i against model B's sample i (same noise); `chance` = A_i against "
            "B_j for every j != i (different noise); `data_baseline` = each image of A_N against its nearest in B_N; `collage` = fraction of "
            "samples whose patches all copy patches (same cosine threshold) of two or more of their model's training "
            "images, `collage_chance` = the same for B's training images against A's; `psnr_gap` = mean over "
            "the noise grid of train minus held-out output PSNR; `fit_seconds` = wall time of the two fits "
            "(training, sampling, PSNR curves), `cpu_seconds` = their CPU time."
        )
        report.add_figure(self.plot_summary(), "summary", "Memorization rate, A-vs-B similarity and PSNR gap vs N")
        report.add_figure(self.plot_histograms(), "histograms",
                          "Blue: A vs B same-noise similarity; orange: each sample vs its nearest training image "
                          "(paper Fig. 2)")
        if "psnr_train_A" in self.per_size[0]:
            report.add_figure(self.plot_psnr_curves(), "psnr_curves",
                              "Denoising PSNR on training vs held-out images (paper Fig. 1)")
        report.add_heading("Samples per N")
        for n in self.sizes if show_sizes is None else show_sizes:
            report.add_figure(self.plot_samples(n), f"samples_N{n}",
                              f"N = {n}: model A, its nearest training image, model B, its nearest training image")
        report.data["summary"] = summ
        report.data["table"] = self.to_dict()
