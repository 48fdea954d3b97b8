"""One function per figure: run (or reuse) its experiment and write a report folder laid out like the paper.

Figures that share a computation (the two-model sweep behind Figs 1-3, 6-10 and 21) reuse it through
:class:`FigureContext`, so ``gahb figure 1 2 3`` trains the sweep once.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.utils import Bunch

from gahb.experiments._optimality_reports import _fill_c_alpha, _fill_disk, _fill_shuffled
from gahb.experiments.figures._catalogue import FIGURES, PAPER_D, PAPER_FACE_EIGENVALUES, PAPER_SHUFFLED_EIGENVALUES
from gahb.experiments.figures._configs import CONFIGS

__all__ = ["FigureContext", "run_figure"]


class FigureContext:
    """Scale, seed, device, data and a cache of computed experiments shared by the figures of one run."""

    def __init__(self, scale="cpu", quick=False, seed=0, device="cpu", data_path=None, n_jobs=1, verbose=0):
        self.scale, self.quick, self.seed, self.device = scale, bool(quick), int(seed), device
        self.data_path, self.n_jobs, self.verbose = data_path, n_jobs, verbose
        self.cache: dict = {}

    @property
    def level(self) -> str:
        return "quick" if self.quick else self.scale

    def config(self, experiment):
        return CONFIGS[experiment][self.level]

    def estimator(self, params, **extra):
        from gahb.denoiser import DiffusionDenoiser

        return DiffusionDenoiser(**{**params, **extra}, device=self.device, random_state=self.seed)

    def get(self, key, compute):
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


# ------------------------------------------------------------------------------------------------ data


def _pool(ctx, dataset, n, side):
    """(X, description): the figure's own data when --data-path is given, else the synthetic stand-in."""
    from gahb import datasets

    if ctx.data_path is None:
        b = datasets.make_dead_leaves(n, image_size=side, random_state=ctx.seed)
        return b.data.astype(np.float32), f"synthetic dead leaves {side}x{side} (stand-in)"
    if dataset in ("lsun", "lsun32"):
        b = datasets.load_lsun(ctx.data_path, image_size=side, n_samples=n)
    else:
        b = datasets.load_image_folder(ctx.data_path, image_size=side, crop="celeba" if dataset == "celeba" else "center")
    X = b.data.astype(np.float32)
    desc = f"{dataset} from {ctx.data_path} at {side}x{side}"
    dedup = ctx.config("transition").get("dedup")
    if dedup:
        keep, _ = datasets.remove_near_duplicates(X, b.image_shape, threshold=dedup)
        X, desc = X[keep], desc + f", near-duplicates above {dedup} removed"
    if X.shape[0] > n:
        X = X[np.random.default_rng(ctx.seed).permutation(X.shape[0])[:n]]
    return X, desc


def _transition(ctx, experiment, dataset):
    from gahb.experiments.generalization import generalization_curve

    def compute():
        cfg = ctx.config(experiment)
        side, sizes = cfg["image_size"], list(cfg["sizes"])
        n_held = min(100, cfg["n_psnr_images"])  # never seen by the sweep: test images of Figs 3 and 21
        X, desc = _pool(ctx, dataset, 2 * sizes[-1] + cfg["n_psnr_images"] + n_held, side)
        X, held = X[:-n_held], X[-n_held:]
        est = ctx.estimator(cfg["estimator"], image_shape=(side, side))
        res = generalization_curve(est, X, sizes, image_shape=(side, side), n_samples=cfg["n_samples"],
                                   sample_random_state=ctx.seed, random_state=ctx.seed,
                                   n_psnr_images=cfg["n_psnr_images"], n_jobs=ctx.n_jobs, verbose=ctx.verbose,
                                   keep_estimators=True)
        res.description, res.pool, res.heldout = desc, X, held
        return res

    return ctx.get((experiment, dataset if ctx.data_path else "stand-in"), compute)


# ------------------------------------------------------------------------------------------------ helpers


def _rows(pairs):
    return [dict(quantity=q, paper=p, gahb=g) for q, p, g in pairs]


def _finish(rep, fig, ctx, comparison, setup):
    rep.data["figure"] = dict(number=fig.number, title=fig.title, claim=fig.claim, scale=ctx.level,
                              setup=setup, command=_command(fig.number, ctx),
                              comparison=comparison)
    return rep.write()


def _command(number, ctx):
    """The command line that reproduces this report."""
    return (f"gahb figure {number}" + (" --quick" if ctx.quick else "") + (" --scale paper" if ctx.scale == "paper"
            else "") + (f" --data-path {ctx.data_path}" if ctx.data_path else "") + (f" --seed {ctx.seed}" if ctx.seed
                                                                                      else ""))


def _header(rep, fig, ctx, setup):
    rep.add_text(f"**The paper's claim.** {fig.claim}")
    rep.add_text(f"**Scale: {ctx.level}.** {setup}" + ("\n\n`--quick` checks the plumbing: the models are barely "
                                                       "trained and show nothing." if ctx.quick else ""))


# ------------------------------------------------------------------------------------------------ runners


def _fig_transition(fig, ctx, rep):
    """Figs 1, 2, 7, 9, 10 and the BF-CNN Figs 11-14: panels of the two-model sweep."""
    res = _transition(ctx, fig.experiment, fig.data)
    t, s = res.to_dict(), res.summary()
    big, small = res.sizes[-1], ctx.config(fig.experiment)["small_n"]
    setup = f"{res.description}; N = {res.sizes}; two models per N on disjoint sets, sampled with the same noise."
    _header(rep, fig, ctx, setup)
    rows = []
    if fig.number in (1, 9, 11):
        from gahb.experiments.optimality import psnr_slope

        d = res[res.sizes[0]]
        inp = -20 * np.log10(res.sigmas)
        slope = psnr_slope(inp, (d["psnr_train_A"] + d["psnr_train_B"]) / 2)[0]
        rows = [("train PSNR slope at the smallest N", "about 1 (memorization)", slope),
                ("train - test gap at the smallest N (dB)", "large (no number)", s["psnr_gap_first"]),
                ("train - test gap at the largest N (dB)", "about 0 at N = 10^5 (10^4 for the BF-CNN)",
                 s["psnr_gap_last"])]
        rep.add_figure(res.plot_psnr_curves(), "psnr_curves", "Output vs input PSNR on training and held-out images "
                       "per N; dotted: identity; dashed: optimal for one image and its rescalings")
    if fig.number in (2, 12, 14):
        rows = [("memorization rate at the smallest N", "about 1 (N <= 100)", s["mem_smallest_N"]),
                ("A-vs-B median similarity at the largest N", "near 1, not a delta", s["cross_median_largest_N"]),
                ("chance similarity (A_i vs B_(i+1))", "-", s["chance_median_largest_N"]),
                ("median nearest-training similarity at the largest N", "lower than A vs B",
                 float(t["nearest_median"][-1]))]
        rep.add_figure(res.plot_histograms(), "histograms", "Blue: model A vs model B (same noise); orange: each "
                       "sample vs its nearest training image; dotted: chance")
    if fig.number in (2, 7, 12, 13):
        for n in ([small, big] if fig.number in (2, 12) else [big]):
            rep.add_figure(res.plot_samples(n), f"samples_N{n}", f"N = {n}: model A, nearest A image, A's patch "
                           "collage, model B, nearest B image (column title: A-vs-B similarity)")
        if fig.number in (7, 13):
            rows = [("A-vs-B median similarity at the largest N", "nearly identical samples",
                     s["cross_median_largest_N"]),
                    ("median nearest-training similarity at the largest N", "clearly lower",
                     float(t["nearest_median"][-1]))]
    if fig.number == 10:
        n10 = min(res.sizes, key=lambda n: abs(np.log10(n) - 2))
        rows = [(f"collage rate at N = {n}", "collages at N = 100 (shown, not counted)" if n == 100 else "-",
                 (t["collage_A"][i] + t["collage_B"][i]) / 2) for i, n in enumerate(res.sizes)]
        rows.append(("collage chance level (B's training images vs A's)", "-", float(np.nanmax(t["collage_chance"]))))
        rep.add_figure(res.plot_samples(n10), f"samples_N{n10}", f"N = {n10}: samples, nearest training image and "
                       "the sample rebuilt from its nearest training patches")
    rep.add_heading("The sweep")
    cols = [c for c in ("n_train", "mem_cosine_A", "mem_cosine_B", "nearest_median", "cross_median", "chance_median",
                        "data_baseline_median", "collage_A", "collage_B", "collage_chance", "psnr_gap") if c in t]
    rep.add_table(res.table(), cols)
    rep.data.update(summary=s, table=t)
    return setup, _rows(rows)


def _fig3(fig, ctx, rep):
    from gahb.experiments.optimality import adaptive_spectrum

    res = _transition(ctx, "transition", fig.data)
    big = res.sizes[-1]
    model = res.estimators_[(big, "A")]
    x = res.heldout[0]
    sp = adaptive_spectrum(model, x, 0.15, random_state=ctx.seed)
    d = x.size
    setup = f"model A of the N = {big} run ({res.description}), held-out image, sigma = 0.15."
    _header(rep, fig, ctx, setup)
    lam = sp.eigenvalues
    rows = [(f"lambda at k/d = {k}/{PAPER_D}", v, float(np.interp(k / PAPER_D * d, np.arange(d), lam)))
            for k, v in PAPER_FACE_EIGENVALUES.items() if k in (5, 41, 101, 245)]
    rows += [("fraction of eigenvalues > 1", "about 42/6400 = 0.007", float(np.mean(lam > 1))),
             ("||J y - f(y)|| / ||f(y)||", "float precision", sp.homogeneity_error),
             ("tr J (effective dimension) / d", "-", sp.effective_dimension / d)]
    from gahb.experiments._optimality_reports import _eig_cols, _vec_grid
    from gahb.report import subplots
    f, axes = subplots(1, 2, figsize=(9, 3.2))
    axes[0].plot(np.arange(d) / d, lam, label=f"gahb ({d} pixels)")
    axes[0].plot([k / PAPER_D for k in PAPER_FACE_EIGENVALUES], list(PAPER_FACE_EIGENVALUES.values()), "kx",
                 label="paper (6400 pixels)")
    axes[0].set(xlabel="k / d", ylabel="lambda_k", title="shrinkage factors")
    axes[0].legend(fontsize=7)
    axes[1].plot(np.abs(sp.coefficients), lw=0.8)
    axes[1].set(xlabel="k", ylabel="|<x, e_k(y)>|", title="clean-image coefficients")
    f.tight_layout()
    rep.add_figure(f, "spectrum", "Eigenvalues against relative index (crosses: the paper's) and coefficients")
    ks = _eig_cols(d)
    side = int(round(np.sqrt(d)))
    rep.add_figure(_vec_grid([[x, sp.noisy, sp.denoised] + [sp.components[k] for k in ks]], ["y, f(y), e_k"],
                             (side, side), ["x", "y", "f(y)"] + [f"e{k}" for k in ks]), "eigenvectors",
                   "Clean, noisy, denoised image and eigenvectors e_k (paper Fig. 3)")
    rep.data["spectrum"] = dict(eigenvalues=lam, coefficients=sp.coefficients, homogeneity=sp.homogeneity_error)
    return setup, _rows(rows)


def _fig6(fig, ctx, rep):
    from gahb.metrics import data_baseline

    cfg = ctx.config("transition")
    n = cfg["sizes"][-1]
    X, desc = _pool(ctx, fig.data, 2 * n, cfg["image_size"])
    b = data_baseline(X[:n], X[n : 2 * n])
    setup = f"{desc}; each of {n} images of set A against its nearest image of the disjoint set B (mean removed)."
    _header(rep, fig, ctx, setup)
    from gahb.report import subplots
    f, ax = subplots(figsize=(4, 2.8))
    ax.hist(b.similarity, bins=40, color="tab:gray")
    ax.axvline(0.95, color="k", ls=":", label="0.95")
    ax.set(xlabel="nearest-neighbour cosine, A to B", ylabel="images")
    ax.legend(fontsize=7)
    f.tight_layout()
    rep.add_figure(f, "data_baseline", "Nearest similarity of each image of one training set to the other set")
    rows = [("largest similarity", "< 0.95", float(np.max(b.similarity))), ("median", "-", b.median),
            ("fraction above 0.95", "0", float(np.mean(b.similarity > 0.95)))]
    counts, edges = np.histogram(b.similarity, bins=40)
    rep.data["data_baseline"] = dict(histogram_counts=counts, histogram_edges=edges, median=b.median,
                                     max=float(np.max(b.similarity)))
    return setup, _rows(rows)


def _fig8(fig, ctx, rep):
    from gahb.experiments.trajectories import trajectory_bifurcation

    res = _transition(ctx, "transition", fig.data)
    small, big = ctx.config("transition")["small_n"], res.sizes[-1]
    setup = f"{res.description}; models A and B at N = {small} and N = {big}, 16 trajectories from the same noise."
    _header(rep, fig, ctx, setup)
    rows = []
    for n in (small, big):
        tb = trajectory_bifurcation(res.estimators_[(n, "A")], res.estimators_[(n, "B")], n_samples=16,
                                    random_state=ctx.seed)
        s = tb.summary()
        rep.add_heading(f"N = {n}")
        tb.to_report(rep, image_shape=res.image_shape, name=f"trajectories_N{n}")
        rows += [(f"N = {n}: fraction of trajectories that part", "-", s["split_fraction"]),
                 (f"N = {n}: median split step / sample length", "about 0.5 at N = 10^5" if n == big else "-",
                  s["split_relative_median"]),
                 (f"N = {n}: median final similarity", "-", s["final_similarity_median"])]
        rep.data[f"trajectories_N{n}"] = rep.data.pop("trajectories")
    return setup, _rows(rows)


def _fig_optimality(fig, ctx, rep):
    """Figs 4, 16, 18 (C^alpha), 5 (disks): the optimality experiments, their own reports plus the comparison."""
    from gahb.experiments import optimality as opt

    key = fig.experiment
    cfg = ctx.config(key)
    common = dict(image_size=cfg["image_size"], n_train=cfg["n_train"], n_test=cfg["n_test"],
                  estimator=ctx.estimator(cfg["estimator"]), n_psnr_images=cfg["n_psnr_images"], device=ctx.device,
                  random_state=ctx.seed)
    if key == "disks":
        res = ctx.get(key, lambda: opt.disk_optimality(**common, n_eigen_images=2 if ctx.quick else 8))
        setup = f"{cfg['image_size']}x{cfg['image_size']} disks, {cfg['n_train']} training images."
        rows = [(f"lambda_{k}", p, float(res.eigenvalues[:, k].mean())) for k, p in
                enumerate(opt.PAPER_DISK_EIGENVALUES) if k < res.eigenvalues.shape[1]]
        rows.append(("PSNR slope (optimal 1)", "< 1", res.slope))
        fill = _fill_disk
    else:
        res = ctx.get(key, lambda: opt.c_alpha_optimality(cfg["alphas"], **common))
        keep = {16: (2, 4), 18: (3,)}.get(fig.number)
        if keep:
            res = Bunch(**{**res, "results": [r for r in res.results if r.alpha in keep]})
        setup = f"{cfg['image_size']}x{cfg['image_size']} C^alpha images, {cfg['n_train']} training images per alpha."
        rows = [(f"slope alpha = {r.alpha:g} (optimal {r.optimal_slope:.2f})", r.paper_slope if fig.number == 4
                 else "near optimal", r.slope) for r in res.results]
        fill = _fill_c_alpha
    _header(rep, fig, ctx, setup)
    fill(rep, res)  # the experiment's own report under the figure's header
    return setup, _rows(rows)


def _fig_manifold(fig, ctx, rep):
    """Figs 17 (separate regularities), 19 (ray), 20 (sines)."""
    from gahb.experiments.manifolds import intensity_rescaling, sine_cone
    from gahb.experiments.regularities import separate_regularities

    cfg = ctx.config(fig.experiment)
    est, side = ctx.estimator(cfg["estimator"]), cfg["image_size"]
    kw = dict(estimator=est, random_state=ctx.seed, device=ctx.device)
    if fig.number == 17:
        res = separate_regularities(image_size=side, n_train=cfg["n_train"], n_test=cfg["n_test"],
                                    n_images=2 if ctx.quick else 4, **kw)
        setup = f"{side}x{side} C^alpha images, contour alpha_1 in (1.5, 2, 4), background 8, {cfg['n_train']} images each."
        t, s = res.table(), res.summary()
        rows = [(f"alpha_1 = {r['alpha_contour']:g}: coefficient decay exponent", "faster for larger alpha_1",
                 r["coefficient_decay"]) for r in t]
        rows += [(f"alpha_1 = {r['alpha_contour']:g}: participation ratio of top eigenvectors",
                  "less localized (larger) for larger alpha_1", r["participation_ratio"]) for r in t]
        rows.append(("both orderings hold", "yes", s["decay_increases_with_alpha"] and
                     s["participation_increases_with_alpha"]))
    else:
        if fig.number == 19:
            X, desc = _pool(ctx, fig.data, 1, side)
            res = intensity_rescaling(X[0].reshape(side, side), n_test=cfg["n_test"], **kw)
            setup = f"one image ({desc}); models trained on it with and without rescaling a ~ U(0, 1)."
            m = res.models["rescaled"]
        else:
            res = sine_cone(image_size=side, n_train=cfg["n_train"], n_test=cfg["n_test"], **kw)
            setup = f"{side}x{side} zero-mean sinusoids, one cycle across the width, {cfg['n_train']} images."
            m = res.models["network"]
        k = res.dimension
        rows = [(f"cosine of the top {k} eigenvector(s) with the optimal span (min)", "about 1" if k == 1 else "-",
                 float(m.principal_cosines.min())),
                (f"lambda_{k} (optimal 0)", "non-zero", float(m.eigenvalues[k])),
                (f"energy of x beyond the top {k} eigenvector(s) (optimal 0)", "> 0", m.energy_outside),
                ("PSNR slope (optimal 1)", "-", m.curve.slope),
                ("||f(a y) - a f(y)|| / ||a f(y)||", "0 (bias-free)", m.homogeneity_error)]
    _header(rep, fig, ctx, setup)
    res.to_report(rep)
    return setup, _rows(rows)


def _fig15(fig, ctx, rep):
    from gahb.experiments.resolution import resolution_study

    cfg = ctx.config("resolution")
    n = cfg["sizes"][-1] + cfg["n_psnr_images"]
    pools = {s: _pool(ctx, fig.data, n, s) for s in cfg["image_sizes"]}
    X_by = {s: X for s, (X, _) in pools.items()}
    res = resolution_study(ctx.estimator(cfg["estimator"]), X_by, cfg["sizes"], n_blocks=cfg["n_blocks"],
                           threshold=cfg["threshold"], n_psnr_images=cfg["n_psnr_images"], random_state=ctx.seed,
                           n_jobs=ctx.n_jobs)
    levels = [cfg["n_blocks"][s] for s in cfg["image_sizes"]]
    setup = (f"{'; '.join(d for _, d in pools.values())}; UNet levels {levels} (one more per doubling of the side, "
             f"as Table 1); N = {list(cfg['sizes'])}; one model per (size, N).")
    _header(rep, fig, ctx, setup)
    cross = res.crossings()
    rows = [(f"N where the gap reaches {cfg['threshold']:g} dB at {s}x{s}", "grows with size, sublinearly",
             "not reached" if c is None else c) for s, c in cross.items()]
    res.to_report(rep)
    return setup, _rows(rows)


def _fig21(fig, ctx, rep):
    from gahb.experiments.optimality import shuffled_control

    res = _transition(ctx, "transition", fig.data)
    big = res.sizes[-1]
    cfg = ctx.config("transition")
    side = cfg["image_size"]
    X = res.pool
    sh = shuffled_control(X[:big], res.heldout, (side, side), sigma=0.3,
                          estimator=ctx.estimator(cfg["estimator"]), base_model=res.estimators_[(big, "A")],
                          n_psnr_images=min(100, cfg["n_psnr_images"]), device=ctx.device, random_state=ctx.seed)
    setup = f"{res.description}; model A of N = {big} against the same training on shuffled pixels, sigma = 0.3."
    _header(rep, fig, ctx, setup)
    _fill_shuffled(rep, sh)
    d = side * side
    lam_s, lam_o = sh.shuffled.spectrum.eigenvalues, sh.original.spectrum.eigenvalues
    rows = [(f"shuffled lambda at k/d = {k}/{PAPER_D} (unshuffled)", v, f"{np.interp(k / PAPER_D * d, np.arange(d), lam_s):.3f}"
             f" ({np.interp(k / PAPER_D * d, np.arange(d), lam_o):.3f})") for k, v in PAPER_SHUFFLED_EIGENVALUES.items()]
    rows += [("mean PSNR loss from shuffling (dB)", "large (no number)", sh.psnr_loss),
             ("PSNR slope shuffled / original", "much lower", f"{sh.shuffled.curve.slope:.3f} / "
                                                              f"{sh.original.curve.slope:.3f}")]
    return setup, _rows(rows)


_RUNNERS = {1: _fig_transition, 2: _fig_transition, 3: _fig3, 4: _fig_optimality, 5: _fig_optimality, 6: _fig6,
            7: _fig_transition, 8: _fig8, 9: _fig_transition, 10: _fig_transition, 11: _fig_transition,
            12: _fig_transition, 13: _fig_transition, 14: _fig_transition, 15: _fig15, 16: _fig_optimality,
            17: _fig_manifold, 18: _fig_optimality, 19: _fig_manifold, 20: _fig_manifold, 21: _fig21}


def run_figure(number: int, output_dir, ctx: FigureContext):
    """Compute figure ``number`` (reusing ``ctx``'s cache) and write its report folder; returns the two paths."""
    from gahb.report import Report

    fig = FIGURES[number]
    t0 = time.perf_counter()
    rep = Report(output_dir, f"Figure {number}: {fig.title}")
    setup, rows = _RUNNERS[number](fig, ctx, rep)
    # the comparison goes right after the header, before the experiment's own tables and panels
    head = 2
    rep.parts[head:head] = ["## The paper's numbers beside gahb's", _table(rows)]
    rep.data["figure_seconds"] = time.perf_counter() - t0
    return _finish(rep, fig, ctx, rows, setup)


def _table(rows):
    from gahb.report import markdown_table

    return markdown_table(rows, ["quantity", "paper", "gahb"], precision=3)
