"""Memorization -> generalization over the training-set size N (paper §2.2, Figs 1-2, App. B).

For each N, two copies of an estimator are fit on disjoint training sets A_N and B_N (prefixes of two
disjoint blocks, so the sets grow by inclusion), sampled with the same noise, and compared: memorization
rate against their own training set, similarity between the two models' samples, train/test PSNR
curves and their gap.
"""

from __future__ import annotations

import numbers
import os
import sys
import time

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params

from gahb._checks import RANDOM_STATE, check_rows, resolve_image_shape, resolve_seed
from gahb.experiments._curve import GeneralizationCurve
from gahb.experiments._guards import check_estimator, check_overlap, on_rows
from gahb.experiments._sweep import FitSpec, SweepCache, plan_groups, run_group, run_tasks
from gahb.metrics import (
    PAPER_SIGMAS,
    data_baseline,
    memorization_rate,
    nearest_neighbors,
    paired_cosine_similarity,
    patch_collage_images,
    patch_nearest_neighbors,
)
from gahb.metrics._denoising import check_sigmas
from gahb.metrics._similarity import mismatched_similarity

__all__ = ["generalization_curve", "GeneralizationCurve"]


# ----------------------------------------------------------------------------- the sweep


def _check_sizes(sizes):
    sizes = np.asarray(sizes).ravel()
    if sizes.size == 0 or not all(isinstance(s, (numbers.Integral, np.integer)) for s in sizes.tolist()):
        raise ValueError(f"sizes must be a non-empty list of positive integers; got {sizes!r}.")
    sizes = np.unique(sizes.astype(np.int64))
    if sizes[0] < 1:
        raise ValueError(f"sizes must be positive; got {sizes.tolist()}.")
    return sizes


_POSITIVE_INT = [Interval(numbers.Integral, 1, None, closed="left")]


@validate_params(
    {
        "estimator": [HasMethods(["fit", "sample"])],
        "X": ["array-like"],
        "sizes": ["array-like"],
        "X_B": ["array-like", None],
        "image_shape": ["array-like", None],
        "n_samples": _POSITIVE_INT,
        "sample_random_state": RANDOM_STATE,
        "random_state": RANDOM_STATE,
        "shuffle": ["boolean"],
        "sigmas": ["array-like", None],
        "n_psnr_images": _POSITIVE_INT,
        "threshold": [Interval(numbers.Real, -1, 1, closed="both")],
        "remove_mean": ["boolean"],
        "epsilon": [Interval(numbers.Real, 0, 1, closed="left")],
        "n_jobs": [numbers.Integral, None],
        "verbose": ["verbose"],
        "keep_estimators": ["boolean"],
        "patch_size": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "vectorize": [StrOptions({"auto"}), "boolean", Interval(numbers.Integral, 1, None, closed="left")],
        "threads_per_fit": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "cache_dir": [str, os.PathLike, None],
    },
    prefer_skip_nested_validation=False,  # the estimators fitted inside validate their own parameters
)
def generalization_curve(estimator, X, sizes, *, X_B=None, image_shape=None, n_samples: int = 64, sample_random_state=0,
                         random_state=0, shuffle: bool = True, sigmas=None, n_psnr_images: int = 300,
                         threshold: float = 0.95, remove_mean: bool = True, epsilon: float = 0.1,
                         n_jobs=None, verbose: int = 1, keep_estimators: bool = False, patch_size=None,
                         vectorize="auto", threads_per_fit=None, cache_dir=None):
    """Train two models on disjoint sets of each size N and measure memorization vs generalization.

    Every argument (and the estimator's own parameters) is checked before the first fit.

    Parameters
    ----------
    estimator : estimator with ``fit(X)`` and ``sample(n_samples, random_state=...)``
        For example :class:`gahb.DiffusionDenoiser`; it is cloned twice per size. ``transform`` (denoise rows)
        enables the PSNR curves. Its own integer ``random_state`` seeds the fits of model A and
        ``random_state + 1`` those of model B, so the two models share no initial weights or training noise.
    X : array-like of shape (n_images, n_features)
        Image pool in [0, 1]. Needs ``2 * max(sizes)`` rows; rows beyond that (up to ``n_psnr_images``) are
        the held-out set of the PSNR curves, otherwise each model is tested on the other model's block.
    X_B : array-like of shape (n_images_B, n_features), default=None
        A separate pool for model B (e.g. tiles of other photos, so that A and B share no scene); model A
        then draws from ``X`` only and the held-out images come from ``X`` after A's block.
    sizes : list of int
        Training-set sizes N.
    image_shape : tuple, default=None
        Kept in the result for plotting (``(H, W)`` or ``(C, H, W)``).
    n_samples : int, default=64
        Samples per model; sample ``i`` of every model gets the same noise (``sample_random_state``).
    sample_random_state : int, RandomState instance, Generator or None, default=0
        Seed of the sampling noise, shared by every model.
    random_state : int, RandomState instance, Generator or None, default=0
        Seed of the split of ``X`` into the two blocks (with ``shuffle``) and of the PSNR noise.
    shuffle : bool, default=True
        Permute ``X`` before splitting; ``False`` takes A = first rows, B = next rows.
    sigmas : array-like, default=None
        Noise grid of the PSNR curves (default :data:`gahb.metrics.PAPER_SIGMAS`); an empty list skips them.
    n_psnr_images : int, default=300
        Images per noise level in each PSNR curve (training images tiled when N is smaller).
    threshold : float in [-1, 1], default=0.95
        Cosine threshold of the memorization rule.
    remove_mean : bool, default=True
        Mean-removed cosine similarities (the primary variant; raw cross-model similarity is reported too).
    epsilon : float in [0, 1), default=0.1
        Tolerance of the effective memorization (largest N with rate >= 1 - epsilon).
    n_jobs : int, default=None
        Fits (or groups of jointly trained fits, see ``vectorize``) run in parallel through joblib, so any
        joblib backend runs the sweep: ``with sweep_engine("dask")`` or ``with sweep_engine("ray")`` (see
        :func:`gahb.experiments.sweep_engine`), or your own ``joblib.parallel_config``. ``None`` means 1
        unless inside a ``parallel_config`` context. A fit whose estimator has ``device="auto"`` uses the
        GPU its worker was given (see :func:`gahb.experiments.worker_device`).
    verbose : int, default=1
        0 silent; 1 a progress bar (tqdm) on stderr; 2 also one line per finished fit.
    keep_estimators : bool, default=False
        Keep the fitted models in ``result.estimators_``.
    patch_size : int or None, default=None
        Side of the patches of the patch-level ("collage") memorization (paper Fig. 10,
        :func:`gahb.metrics.patch_nearest_neighbors`); ``None`` uses half the image side (the paper's tool
        on 40 x 40 images: four 20 x 20 patches). Skipped when ``image_shape`` is not given.
    vectorize : "auto", bool or int, default="auto"
        Train several models as one network (:func:`gahb.fit_vectorized`: each keeps its own data, initial
        weights, minibatches, noise and Adam state). ``True``: all models A in one network, all models B in
        another (two tasks); an int ``k``: at most ``k`` models per network; ``False``: one model per task.
        ``"auto"`` vectorizes a :class:`gahb.DiffusionDenoiser` on a GPU (where one small model leaves the
        GPU mostly idle) and, on the CPU, where it measured faster: below 0.4 GFLOP of training per model
        and step (:func:`gahb.core.cost.training_flops`; 8 x 8 images at width 16, not the 12 x 12 default;
        see the sweeps section of the scale guide). Settings only a single fit offers (``precision``,
        ``validation_fraction``, checkpoints, ...) turn it off. The grouping never depends on ``n_jobs``, so
        the results do not either.
    threads_per_fit : int, default=None
        Torch threads of each fit (or group), set inside its worker and restored afterwards. The thread
        count changes the order of float sums, so pinning it makes a sweep give the same bits on any engine
        and with any ``n_jobs``; ``None`` leaves each worker's own setting.
    cache_dir : str or path, default=None
        Store every finished fit in this folder at once (safetensors with JSON metadata, written
        atomically: samples, PSNR curves and the model). A rerun of the same sweep (same data, settings
        and seeds, and the same largest N, which fixes the split) loads the finished fits and trains only the missing ones, so a killed
        sweep continues where it stopped. A folder holding another sweep's fits raises ``ValueError``
        before any training (settings that change only float rounding, such as the device, ``n_jobs``,
        ``threads_per_fit`` or ``vectorize``, may differ). Needs integer seeds. Nothing is ever deleted.

    Returns
    -------
    result : GeneralizationCurve

    Warns
    -----
    NearDuplicateWarning
        Before any fit, when the largest training sets A and B share near-duplicates (median similarity of
        each A image to its nearest B image at or above ``threshold``) or when the held-out images of the
        PSNR curves have near-duplicates in them; kept in ``result.data_warnings`` and in the report.

    See Also
    --------
    GeneralizationCurve : The result: table, summary, figures and report.
    gahb.metrics.memorization_rate, gahb.metrics.score_generalization : The per-size measures.
    gahb.TrainingSubset : The training-set size as a hyper-parameter of scikit-learn's own tools.

    Examples
    --------
    The perfect memorizer (the known answer: its samples are training images at every N), in a second:

    >>> import numpy as np
    >>> from gahb import MemorizingDenoiser
    >>> from gahb.experiments import generalization_curve
    >>> X = np.random.default_rng(0).random((40, 16))
    >>> res = generalization_curve(MemorizingDenoiser(image_shape=(4, 4), beta=1.0), X, [1, 10], n_samples=8,
    ...                            sigmas=[], verbose=0)
    >>> [row["mem_cosine_A"] for row in res.table()], res.effective_memorization()
    ([1.0, 1.0], 10)

    A network sweep takes minutes (``gahb transition`` runs this one in about 3 on two cores);
    ``cache_dir`` stores every finished fit, so a rerun after a kill continues:

    >>> from gahb import DiffusionDenoiser
    >>> from gahb.datasets import make_dead_leaves
    >>> X = make_dead_leaves(20300, image_size=12, random_state=0).data  # doctest: +SKIP
    >>> est = DiffusionDenoiser(width=16, n_blocks=2, max_iter=2000, batch_size=32, learning_rate=2e-3,
    ...                         lr_schedule="cosine", beta=0.5, image_shape=(12, 12), random_state=0)
    >>> res = generalization_curve(est, X, [1, 10, 100, 1000, 10000], n_jobs=2,
    ...                            cache_dir="fits")  # doctest: +SKIP
    """
    from joblib import delayed

    X = check_rows(X, "X", finite=True)
    check_estimator(estimator, X.shape[1])
    sizes = _check_sizes(sizes)
    n_max = int(sizes[-1])
    if X_B is not None:
        X_B = check_rows(X_B, "X_B", finite=True)
        if X_B.shape[1] != X.shape[1]:
            raise ValueError(f"X_B must have {X.shape[1]} features like X; got shape {X_B.shape}.")
        if min(X.shape[0], X_B.shape[0]) < n_max:
            raise ValueError(f"the largest size N={n_max} needs N images in X and in X_B; they have "
                             f"{X.shape[0]} and {X_B.shape[0]}.")
    elif X.shape[0] < 2 * n_max:
        raise ValueError(f"the largest size N={n_max} needs 2*N = {2 * n_max} images in X; X has {X.shape[0]}.")
    if image_shape is not None:
        image_shape = resolve_image_shape(image_shape, X.shape[1])
    # checked here, before any fit, not inside the workers after training
    sigmas = PAPER_SIGMAS if sigmas is None else check_sigmas(sigmas, allow_empty=True)
    if patch_size is not None and (image_shape is None or patch_size > min(image_shape[1:])):
        raise ValueError(f"patch_size must be an integer from 2 to the image side (and needs image_shape); "
                         f"got {patch_size!r}.")
    per_group = _models_per_group(vectorize, estimator, len(sizes), X.shape[1])
    params = estimator.get_params() if hasattr(estimator, "get_params") else {}
    int_seed = _is_int(params.get("random_state"))
    if cache_dir is not None:
        if not (_is_int(random_state) and _is_int(sample_random_state) and (int_seed or "random_state" not in params)):
            raise ValueError("cache_dir needs integer random_state, sample_random_state and estimator random_state, "
                             "so that a rerun draws the same splits, weights and noise.")
        if keep_estimators and not (hasattr(estimator, "save") and hasattr(type(estimator), "load")):
            raise ValueError("keep_estimators=True with cache_dir needs an estimator with save() and load().")
    seed = resolve_seed(random_state)
    sample_seed = resolve_seed(sample_random_state)
    rng = np.random.default_rng(seed)
    order = rng.permutation(X.shape[0]) if shuffle else np.arange(X.shape[0])
    if X_B is None:
        block_A, block_B = X[order[:n_max]], X[order[n_max : 2 * n_max]]
        extra = X[order[2 * n_max : 2 * n_max + n_psnr_images]]
    else:
        order_B = rng.permutation(X_B.shape[0]) if shuffle else np.arange(X_B.shape[0])
        block_A, block_B = X[order[:n_max]], X_B[order_B[:n_max]]
        extra = X[order[n_max : n_max + n_psnr_images]]

    baseline = data_baseline(block_A, block_B, remove_mean=remove_mean)  # the largest N's: warned on, then scored
    overlap = check_overlap(baseline, block_A, block_B, extra, threshold, remove_mean)

    # Model B gets its own fit seed (estimator's random_state + 1), so A and B share neither initial weights nor
    # minibatches nor training noise: agreement of their samples then comes from the data, not from the seed.
    fit_seeds = {"A": int(params["random_state"]), "B": int(params["random_state"]) + 1} if int_seed else {"A": None, "B": None}
    specs = [FitSpec(int(n), role, block[:n], extra if extra.shape[0] else other[:n_psnr_images], fit_seeds[role])
             for role, block, other in (("A", block_A, block_B), ("B", block_B, block_A)) for n in sizes]

    t0 = time.perf_counter()
    outputs, cache = {}, None
    if cache_dir is not None:
        cache = SweepCache(cache_dir, _settings(estimator, fit_seeds, n_samples, sample_seed, seed, shuffle, sigmas,
                                                n_psnr_images))
        finished = cache.open(specs)  # raises before any training if the folder holds another sweep
        for spec in specs:
            if spec.key in finished:
                outputs[spec.key] = cache.load(spec, finished[spec.key], estimator if keep_estimators else None)
    groups = plan_groups([s for s in specs if s.key not in outputs], per_group)
    common = dict(vectorize=per_group > 1, n_samples=n_samples, sample_seed=sample_seed, sigmas=sigmas,
                  n_psnr=n_psnr_images, psnr_seed=seed, keep=keep_estimators, threads=threads_per_fit, cache=cache)
    tasks = [delayed(run_group)(estimator, group, i, **common) for i, group in enumerate(groups)]
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(specs), initial=len(outputs), desc="fits (2 per N)", unit="fit", file=sys.stderr)

    def collect(results):
        for key, out in results:
            outputs[key] = out
            if bar is not None:
                bar.update(1)
                if verbose > 1:
                    bar.write(f"N={key[0]} model {key[1]}: fit {out['fit_seconds']:.1f} s, "
                              f"sample {out['sample_seconds']:.1f} s")

    try:
        run_tasks(tasks, n_jobs, collect)
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0

    patch = None
    if image_shape is not None:
        patch = dict(image_shape=image_shape, patch_size=int(patch_size or max(2, min(image_shape[1:]) // 2)),
                     threshold=threshold, remove_mean=remove_mean)
    per_size = [_score_size(int(n), block_A[:n], block_B[:n], outputs[(int(n), "A")], outputs[(int(n), "B")],
                            threshold, remove_mean, patch, baseline if n == n_max else None) for n in sizes]
    res = GeneralizationCurve(sizes=sizes.tolist(), per_size=per_size, image_shape=image_shape,
                              sigmas=np.asarray(sigmas), epsilon=epsilon, threshold=threshold,
                              remove_mean=remove_mean, wall_seconds=wall, n_samples=int(n_samples),
                              data_warnings=overlap)
    res.n_cached_ = sum(bool(out.get("from_cache")) for out in outputs.values())
    res.fit_info_ = {k: {name: out.get(name) for name in ("device", "visible_gpus", "trained_with", "fit_seconds",
                                                          "cpu_seconds", "from_cache")}
                     for k, out in sorted(outputs.items())}
    if keep_estimators:
        res.estimators_ = {k: v["estimator"] for k, v in outputs.items()}
    return res


def _is_int(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)


# Where one network of many models trains faster than one model at a time on the CPU (bench_sweep.py, one
# thread per worker, 10 models of width 16, batch 32): 1.34x at 0.27 GFLOP per model and step (8 x 8 images),
# 0.97x at 0.61 GFLOP (12 x 12), 0.94x at 1.08 GFLOP (16 x 16). On a GPU one small model leaves it mostly idle.
_CPU_VECTORIZE_FLOPS = 0.4e9


def _models_per_group(vectorize, estimator, n_sizes, n_features) -> int:
    """How many models one network trains: 1 (no vectorization), ``n_sizes`` (all A, all B) or ``k``."""
    from gahb._vectorized import unsupported
    from gahb.denoiser import DiffusionDenoiser

    if isinstance(vectorize, str):  # "auto"
        if not isinstance(estimator, DiffusionDenoiser) or unsupported(estimator) is not None:
            return 1
        return n_sizes if _vectorizing_pays(estimator, n_features) else 1
    is_bool = isinstance(vectorize, (bool, np.bool_))
    k = (n_sizes if vectorize else 1) if is_bool else int(vectorize)
    if k > 1 or (is_bool and vectorize):
        if not isinstance(estimator, DiffusionDenoiser):
            raise ValueError(f"vectorize trains DiffusionDenoiser models only; got {type(estimator).__name__} "
                             "(use vectorize=False).")
        reason = unsupported(estimator)
        if reason is not None:
            raise ValueError(reason)
    return k


def _vectorizing_pays(estimator, n_features) -> bool:
    """On a GPU always; on the CPU below ``_CPU_VECTORIZE_FLOPS`` of training per model and step."""
    import torch

    from gahb._networks import build_module
    from gahb.core.cost import training_flops

    device = str(estimator.device)
    if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
        return True
    shape = resolve_image_shape(estimator.image_shape, n_features)
    net = build_module(estimator.architecture, shape[0], estimator.width, estimator.n_blocks, estimator.n_layers, 0)
    return training_flops(net, shape, estimator.batch_size) < _CPU_VECTORIZE_FLOPS


def _settings(estimator, fit_seeds, n_samples, sample_seed, seed, shuffle, sigmas, n_psnr) -> dict:
    """What a cached fit must share with this sweep (the training images are checked per fit)."""
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    return {"estimator": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
            "params": {k: v for k, v in params.items() if k not in ("device", "verbose")},
            "fit_seeds": fit_seeds, "n_samples": int(n_samples), "sample_random_state": sample_seed,
            "random_state": seed, "shuffle": bool(shuffle), "sigmas": sigmas, "n_psnr_images": int(n_psnr)}


def _score_size(n, X_A, X_B, out_A, out_B, threshold, remove_mean, patch=None, baseline=None):
    """All metrics of one size N from the two models' samples (``baseline``: the data baseline of these X_A
    and X_B when it is already known)."""
    d = {"n_train": n}
    sA, sB = out_A["samples"], out_B["samples"]
    okA, okB = np.isfinite(sA).all(axis=1), np.isfinite(sB).all(axis=1)
    for role, s, Xt, ok in (("A", sA, X_A, okA), ("B", sB, X_B, okB)):
        idx, sim = np.full(ok.shape, -1), np.full(ok.shape, np.nan)
        if ok.any():
            i, v = nearest_neighbors(s[ok], Xt, 1, metric="cosine", remove_mean=remove_mean)
            idx[ok], sim[ok] = i[:, 0], v[:, 0]
        flags = ok & (np.nan_to_num(sim, nan=-np.inf) >= threshold)  # memorization_rate's cosine rule, same search
        d[f"mem_cosine_{role}"] = float(flags[ok].mean()) if ok.any() else float("nan")
        d[f"mem_ratio_{role}"] = (memorization_rate(s[ok], Xt, rule="ratio") if n >= 2 and ok.any()
                                  else float("nan"))
        d[f"nearest_index_{role}"] = idx
        d[f"nearest_similarity_{role}"] = sim
        d[f"nearest_images_{role}"] = np.where(ok[:, None], Xt[np.maximum(idx, 0)], np.nan)
        d[f"flags_{role}"] = flags
        d[f"samples_{role}"] = s
    pair = okA & okB
    d["cross_similarity"] = on_rows(pair, lambda a, b: paired_cosine_similarity(a, b, remove_mean=remove_mean), sA, sB)
    d["cross_similarity_raw"] = on_rows(pair, lambda a, b: paired_cosine_similarity(a, b), sA, sB)
    d["chance_similarity"] = (mismatched_similarity(sA[pair], sB[pair], remove_mean=remove_mean)
                              if pair.sum() > 1 else np.full(1, np.nan))
    d["data_baseline_similarity"] = (data_baseline(X_A, X_B, remove_mean=remove_mean) if baseline is None
                                      else baseline).similarity
    if patch is not None:
        for role, s, Xt, ok in (("A", sA, X_A, okA), ("B", sB, X_B, okB)):
            d[f"collage_{role}"] = d[f"patch_copy_{role}"] = float("nan")
            d[f"patch_fraction_{role}"] = np.full(ok.shape, np.nan)
            d[f"patch_images_{role}"] = np.full(s.shape, np.nan)
            if ok.any():  # diverged samples are left out, as in every metric above
                pnn = patch_nearest_neighbors(s[ok], Xt, **patch)
                d[f"collage_{role}"], d[f"patch_copy_{role}"] = pnn.collage_rate, pnn.patch_copy_rate
                d[f"patch_fraction_{role}"][ok] = pnn.copied_fraction
                d[f"patch_images_{role}"][ok] = patch_collage_images(pnn, Xt, patch["image_shape"])
        # chance level: training images of B (never seen by A) pieced from A's training patches
        d["collage_chance"] = patch_nearest_neighbors(X_B[: sA.shape[0]], X_A, **patch).collage_rate
        d["patch_size"] = patch["patch_size"]
    for role, out in (("A", out_A), ("B", out_B)):
        for key in ("psnr_train", "psnr_test", "n_steps", "converged", "diverged"):
            if key in out:
                d[f"{key}_{role}"] = out[key]
        d[f"fit_seconds_{role}"] = out["fit_seconds"]
        d[f"sample_seconds_{role}"] = out["sample_seconds"]
        d[f"cpu_seconds_{role}"] = out["cpu_seconds"]
    return d
