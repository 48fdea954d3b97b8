"""Memorization and generalization metrics (Kadkhodaie et al. 2024, §2 and App. B; SPEC §7).

Free functions on arrays in the ``sklearn.metrics`` style. Everything that compares sets of images
is chunked over both sets with a running top-k, so 10^5 training images never need an N x M matrix.

**Which cosine.** The paper says "cosine similarity"; its code has a raw normalized inner product and a
mean-removed one (each image minus its own mean: a Pearson correlation). Raw cosine is dominated by
mean brightness (>= 0.99 between unrelated image tiles), so every function here takes
``remove_mean`` explicitly and defaults to the mean-removed variant.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.utils import Bunch

from gahb._checks import check_int, resolve_seed
from gahb._utils import psnr, to_images, to_rows
from gahb.core.random import torch_generator

__all__ = [
    "PAPER_SIGMAS",
    "paper_sigmas",
    "cosine_similarity",
    "paired_cosine_similarity",
    "nearest_neighbors",
    "nearest_similarity",
    "memorization_rate",
    "score_generalization",
    "data_baseline",
    "psnr_curve",
    "psnr_gap",
    "effective_memorization",
    "summarize",
    "memorization_scorer",
]


def paper_sigmas() -> np.ndarray:
    """The paper's 15 noise levels: sigma_255 = logspace(0.3, 2.4, 15), input PSNR 42.1 -> 0.1 dB (SPEC §6.1)."""
    return np.logspace(0.3, 2.4, 15) / 255.0


PAPER_SIGMAS = paper_sigmas()

_DEFAULT_CHUNK = 4096


def _as_rows(X, name: str) -> np.ndarray:
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.dtype == object or not np.issubdtype(X.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array; got dtype {X.dtype}.")
    if X.ndim == 1:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got a 1-D array (reshape(1, -1) for one image).")
    if X.ndim > 2:
        X = X.reshape(X.shape[0], -1)
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty.")
    return X


def _pair(X, Y, name_x="X", name_y="Y"):
    X = _as_rows(X, name_x)
    Y = X if Y is None else _as_rows(Y, name_y)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"{name_x} has {X.shape[1]} features but {name_y} has {Y.shape[1]}.")
    return X, Y


def _check_chunk(chunk_size):
    if not isinstance(chunk_size, (numbers.Integral, np.integer)) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}.")
    return int(chunk_size)


def _prepare(block: np.ndarray, remove_mean: bool, normalize: bool) -> torch.Tensor:
    t = torch.from_numpy(np.array(block, dtype=np.float64, order="C", copy=True))
    if remove_mean:
        t = t - t.mean(dim=1, keepdim=True)
    if normalize:
        # a constant image has no direction: its similarity to anything is 0, not NaN
        n = t.norm(dim=1, keepdim=True)
        t = torch.where(n == 0, 0.0, t / torch.where(n == 0, 1.0, n))
    return t


def cosine_similarity(X, Y=None, *, remove_mean: bool = True) -> np.ndarray:
    """All-pairs cosine similarity ``<x, y> / (|x| |y|)`` (dense ``(n_X, n_Y)``; use for small sets).

    Parameters
    ----------
    X : array-like of shape (n_X, n_features)
    Y : array-like of shape (n_Y, n_features), default=None
        Defaults to ``X``.
    remove_mean : bool, default=True
        Subtract each image's own mean first (Pearson correlation), as the paper's code does for
        nearest training images; ``False`` gives the raw normalized inner product.

    Returns
    -------
    S : ndarray of shape (n_X, n_Y), values in [-1, 1]

    Examples
    --------
    >>> import numpy as np
    >>> cosine_similarity(np.array([[0., 1.], [1., 0.]]), remove_mean=False)
    array([[1., 0.],
           [0., 1.]])
    """
    X, Y = _pair(X, Y)
    a = _prepare(X, remove_mean, True)
    b = _prepare(Y, remove_mean, True)
    return (a @ b.T).clamp(-1, 1).numpy()


def paired_cosine_similarity(X, Y, *, remove_mean: bool = True) -> np.ndarray:
    """Row-wise cosine similarity ``cos(X[i], Y[i])`` (model A's sample i against model B's sample i).

    Parameters
    ----------
    X, Y : array-like of shape (n_samples, n_features)
    remove_mean : bool, default=True
        See :func:`cosine_similarity`.

    Returns
    -------
    s : ndarray of shape (n_samples,); NaN where either row has a NaN.
    """
    X, Y = _pair(X, Y)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of rows; got {X.shape[0]} and {Y.shape[0]}.")
    a = _prepare(X, remove_mean, True)
    b = _prepare(Y, remove_mean, True)
    return (a * b).sum(dim=1).clamp(-1, 1).numpy()


def nearest_neighbors(X, Y, n_neighbors: int = 1, *, metric: str = "cosine", remove_mean: bool = True,
                      chunk_size: int = _DEFAULT_CHUNK):
    """Top-k nearest rows of ``Y`` for each row of ``X``, chunked over both sets.

    Parameters
    ----------
    X : array-like of shape (n_queries, n_features)
        Queries (e.g. generated samples).
    Y : array-like of shape (n_reference, n_features)
        Reference set (e.g. the training set); may be large.
    n_neighbors : int, default=1
    metric : {"cosine", "euclidean"}, default="cosine"
        ``"cosine"`` ranks by largest similarity, ``"euclidean"`` by smallest L2 distance.
    remove_mean : bool, default=True
        Subtract each image's mean before comparing (both metrics).
    chunk_size : int, default=4096
        Rows of each set held at once: memory is ``O(chunk_size^2)``, not ``O(n_queries * n_reference)``.

    Returns
    -------
    indices : ndarray of shape (n_queries, n_neighbors), int64
        Row indices into ``Y``, best first.
    values : ndarray of shape (n_queries, n_neighbors), float64
        Similarities (cosine, descending) or distances (euclidean, ascending).

    Examples
    --------
    >>> import numpy as np
    >>> Y = np.eye(4)
    >>> idx, sim = nearest_neighbors(Y[[2, 0]], Y, metric="cosine", remove_mean=False)
    >>> idx.ravel().tolist(), sim.ravel().tolist()
    ([2, 0], [1.0, 1.0])
    """
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean'; got {metric!r}.")
    X, Y = _pair(X, Y, "X", "Y")
    if not isinstance(n_neighbors, (numbers.Integral, np.integer)) or isinstance(n_neighbors, bool) or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer; got {n_neighbors!r}.")
    if n_neighbors > Y.shape[0]:
        raise ValueError(f"n_neighbors={n_neighbors} exceeds the {Y.shape[0]} rows of Y.")
    chunk_size = _check_chunk(chunk_size)
    k = int(n_neighbors)
    cos = metric == "cosine"
    out_idx = np.empty((X.shape[0], k), dtype=np.int64)
    out_val = np.empty((X.shape[0], k), dtype=np.float64)
    for qs in range(0, X.shape[0], chunk_size):
        q = _prepare(X[qs : qs + chunk_size], remove_mean, cos)
        q_sq = None if cos else (q * q).sum(dim=1, keepdim=True)
        best_val = best_idx = None
        for rs in range(0, Y.shape[0], chunk_size):
            r = _prepare(Y[rs : rs + chunk_size], remove_mean, cos)
            if cos:
                score = (q @ r.T).clamp(-1, 1)
            else:  # rank by -squared distance so that topk(largest) works for both metrics
                score = -(q_sq - 2 * q @ r.T + (r * r).sum(dim=1)[None, :]).clamp_min(0)
            score = torch.nan_to_num(score, nan=-torch.inf)
            idx = torch.arange(rs, rs + r.shape[0]).expand(score.shape[0], -1)
            if best_val is not None:
                score = torch.cat([best_val, score], dim=1)
                idx = torch.cat([best_idx, idx], dim=1)
            kk = min(k, score.shape[1])
            best_val, pos = torch.topk(score, kk, dim=1)
            best_idx = torch.gather(idx, 1, pos)
        vals = best_val if cos else (-best_val).clamp_min(0).sqrt()
        nan_rows = torch.isinf(best_val[:, 0])  # a NaN query: no meaningful neighbour
        vals[nan_rows] = float("nan")
        out_idx[qs : qs + q.shape[0]] = best_idx.numpy()
        out_val[qs : qs + q.shape[0]] = vals.numpy()
    return out_idx, out_val


def nearest_similarity(X, Y, *, remove_mean: bool = True, chunk_size: int = _DEFAULT_CHUNK):
    """Highest cosine similarity of each row of ``X`` to any row of ``Y`` and its index.

    Returns
    -------
    similarity : ndarray of shape (n_queries,)
    index : ndarray of shape (n_queries,)
    """
    idx, val = nearest_neighbors(X, Y, 1, metric="cosine", remove_mean=remove_mean, chunk_size=chunk_size)
    return val[:, 0], idx[:, 0]


def memorization_rate(samples, X_train, *, rule: str = "cosine", threshold: float | None = None,
                      remove_mean: bool | None = None, return_flags: bool = False,
                      chunk_size: int = _DEFAULT_CHUNK):
    """Fraction of generated samples that copy a training image.

    Parameters
    ----------
    samples : array-like of shape (n_samples, n_features)
    X_train : array-like of shape (n_train, n_features)
    rule : {"cosine", "ratio"}, default="cosine"
        ``"cosine"``: the nearest training image has cosine similarity ``>= threshold`` (default 0.95,
        the paper's de-duplication level). ``"ratio"``: the L2 distance to the nearest training image is
        below ``threshold`` (default 1/3) times the distance to the second nearest (Yoon et al. 2023,
        Gu et al. 2023); it needs at least two training images.
    threshold : float, default=None
        0.95 for ``"cosine"``, 1/3 for ``"ratio"``.
    remove_mean : bool, default=None
        ``None``: True for ``"cosine"`` (mean-removed similarity), False for ``"ratio"`` (raw distances,
        as in the papers that define it).
    return_flags : bool, default=False
        Also return the per-sample boolean flags.
    chunk_size : int, default=4096
        See :func:`nearest_neighbors`.

    Returns
    -------
    rate : float
        Fraction of the finite samples flagged (NaN if no sample is finite). NaN samples are never flagged.
    flags : ndarray of bool, shape (n_samples,)
        Only if ``return_flags``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((5, 16))
    >>> memorization_rate(X, X), memorization_rate(X, X, rule="ratio")
    (1.0, 1.0)
    """
    if rule not in ("cosine", "ratio"):
        raise ValueError(f"rule must be 'cosine' or 'ratio'; got {rule!r}.")
    if threshold is None:
        threshold = 0.95 if rule == "cosine" else 1.0 / 3.0
    if isinstance(threshold, bool) or not isinstance(threshold, (numbers.Real, np.floating)) or not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number; got {threshold!r}.")
    if rule == "ratio" and not 0 < threshold <= 1:
        raise ValueError(f"the ratio rule's threshold must lie in (0, 1]; got {threshold}.")
    if remove_mean is None:
        remove_mean = rule == "cosine"
    samples, X_train = _pair(samples, X_train, "samples", "X_train")
    finite = np.all(np.isfinite(samples), axis=1)
    if rule == "cosine":
        idx, val = nearest_neighbors(samples, X_train, 1, metric="cosine", remove_mean=remove_mean,
                                     chunk_size=chunk_size)
        flags = finite & (np.nan_to_num(val[:, 0], nan=-np.inf) >= threshold)
    else:
        if X_train.shape[0] < 2:
            raise ValueError("the 'ratio' rule needs at least 2 training images (distance to the 2nd nearest).")
        idx, dist = nearest_neighbors(samples, X_train, 2, metric="euclidean", remove_mean=remove_mean,
                                      chunk_size=chunk_size)
        # recompute the two distances directly: |q|^2 - 2 q.r + |r|^2 cancels badly near 0, and a copy of one of
        # two identical training images must still count as a copy (d1 = d2 = 0 up to rounding)
        q = np.asarray(samples, dtype=np.float64)
        if remove_mean:
            q = q - q.mean(axis=1, keepdims=True)
        d1, d2 = (np.linalg.norm(q - _centred(X_train[idx[:, j]], remove_mean), axis=1) for j in (0, 1))
        scale = np.maximum(np.linalg.norm(q, axis=1), np.finfo(np.float64).tiny)
        flags = finite & ((d1 < threshold * d2) | (d1 <= 1e-5 * scale))
    rate = float(flags[finite].mean()) if finite.any() else float("nan")
    return (rate, flags) if return_flags else rate


def _centred(rows, remove_mean: bool) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    return rows - rows.mean(axis=1, keepdims=True) if remove_mean else rows


def summarize(values) -> dict:
    """NaN-aware summary of a similarity array: median, quartiles, mean and the NaN count."""
    v = np.asarray(values, dtype=np.float64).ravel()
    fin = v[np.isfinite(v)]
    if fin.size == 0:
        q25 = med = q75 = mean = float("nan")
    else:
        q25, med, q75 = (float(x) for x in np.quantile(fin, [0.25, 0.5, 0.75]))
        mean = float(fin.mean())
    return {"median": med, "q25": q25, "q75": q75, "mean": mean, "n": int(v.size), "n_nan": int(v.size - fin.size)}


def _draw(model, n_samples, seed, sample_kwargs):
    if hasattr(model, "sample"):
        return np.asarray(model.sample(n_samples, random_state=seed, **(sample_kwargs or {})), dtype=np.float64)
    raise TypeError(f"{type(model).__name__} has no sample method; pass a fitted estimator or a sample array.")


def score_generalization(A, B, *, n_samples: int = 64, random_state=0, remove_mean: bool = True,
                         sample_kwargs: dict | None = None):
    """Similarity between the samples of two models drawn with the same noise (paper Fig. 2, blue).

    Parameters
    ----------
    A, B : fitted estimators with ``sample(n_samples, random_state=...)``, or arrays of shape (n, n_features)
        With estimators both are sampled with the same ``random_state`` (hence the same noise); with
        arrays, row ``i`` of ``A`` is compared with row ``i`` of ``B``.
    n_samples : int, default=64
        Samples drawn per estimator (ignored for arrays).
    random_state : int, RandomState or None, default=0
        Seed shared by both models.
    remove_mean : bool, default=True
        See :func:`cosine_similarity`.
    sample_kwargs : dict, default=None
        Extra keyword arguments for ``sample``.

    Returns
    -------
    result : Bunch
        ``similarity`` (per pair), ``median``, ``q25``, ``q75``, ``mean``, ``n_nan``; ``chance``: the same
        statistics for mismatched pairs (``A[i]`` against ``B[i+1]``), the level two unrelated samples reach;
        ``samples_A``, ``samples_B``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((8, 16))
    >>> float(score_generalization(X, X).median)
    1.0
    """
    if hasattr(A, "sample") or hasattr(B, "sample"):
        seed = resolve_seed(random_state)
        if not isinstance(n_samples, (numbers.Integral, np.integer)) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
        A = _draw(A, n_samples, seed, sample_kwargs) if hasattr(A, "sample") else A
        B = _draw(B, n_samples, seed, sample_kwargs) if hasattr(B, "sample") else B
    A, B = _pair(A, B, "A", "B")
    sim = paired_cosine_similarity(A, B, remove_mean=remove_mean)
    if A.shape[0] > 1:
        chance = paired_cosine_similarity(A, np.roll(B, -1, axis=0), remove_mean=remove_mean)
    else:
        chance = np.full(1, np.nan)
    out = Bunch(similarity=sim, chance_similarity=chance, samples_A=A, samples_B=B, **summarize(sim))
    out["chance"] = summarize(chance)["median"]
    return out


def data_baseline(X1, X2, *, remove_mean: bool = True, chunk_size: int = _DEFAULT_CHUNK):
    """Nearest similarity of each image of ``X1`` to the images of ``X2`` (paper Fig. 6, data-vs-data).

    How close two disjoint training sets already are: a model similarity at this level is no evidence
    of copying.

    Returns
    -------
    result : Bunch
        ``similarity`` (per image of X1), ``index`` (its nearest in X2) and :func:`summarize` statistics.
    """
    sim, idx = nearest_similarity(X1, X2, remove_mean=remove_mean, chunk_size=chunk_size)
    return Bunch(similarity=sim, index=idx, **summarize(sim))


def _denoise_fn(denoiser, image_shape, device):
    if hasattr(denoiser, "transform") and hasattr(denoiser, "fit"):
        return lambda rows: np.asarray(denoiser.transform(rows), dtype=np.float64)
    if callable(denoiser):
        if image_shape is None:
            raise ValueError("image_shape is required when the denoiser is a torch callable.")
        from gahb._checks import resolve_image_shape

        def fn(rows):
            shape = resolve_image_shape(tuple(image_shape), rows.shape[1])
            with torch.no_grad():
                y = to_images(rows, shape, device=device)
                return to_rows(denoiser(y), np.float64)

        return fn
    raise TypeError("denoiser must be a fitted estimator with transform() or a callable on (B, C, H, W) tensors.")


def psnr_curve(denoiser, X, *, sigmas=None, n_images: int | None = 300, random_state=0, image_shape=None,
               batch_size: int = 256, device="cpu"):
    """Output PSNR of a denoiser against input noise level (paper Fig. 1), averaged per image.

    Parameters
    ----------
    denoiser : fitted estimator with ``transform`` (e.g. ``DiffusionDenoiser``), or a torch callable
        A callable maps noisy ``(B, C, H, W)`` tensors to denoised ones (needs ``image_shape``).
    X : array-like of shape (n, n_features)
        Clean images in [0, 1] (training images for the train curve, held-out ones for the test curve).
    sigmas : array-like, default=None
        Noise standard deviations on the [0, 1] scale; default :data:`PAPER_SIGMAS` (input PSNR 42.1 -> 0.1 dB
        in 3 dB steps).
    n_images : int or None, default=300
        Images evaluated per level: the first ``n_images`` rows, tiled (fresh noise per copy) when X has
        fewer, as in the paper's code. ``None`` uses X as is.
    random_state : int, default=0
        Seed of the added noise (the same noise for train and test sets of the same size).
    image_shape : tuple, default=None
        Needed for a torch callable only.
    batch_size : int, default=256
    device : str, default="cpu"
        For a torch callable.

    Returns
    -------
    result : Bunch
        ``sigma``, ``input_psnr`` (= -20 log10 sigma), ``output_psnr`` (mean over images of the per-image PSNR),
        ``output_psnr_std``.
    """
    X = _as_rows(X, "X").astype(np.float64, copy=False)
    sigmas = PAPER_SIGMAS if sigmas is None else np.asarray(sigmas, dtype=np.float64).ravel()
    if sigmas.size == 0 or not np.all(np.isfinite(sigmas)) or np.any(sigmas <= 0):
        raise ValueError("sigmas must be a non-empty array of positive finite numbers.")
    if n_images is not None:
        if not isinstance(n_images, (numbers.Integral, np.integer)) or n_images < 1:
            raise ValueError(f"n_images must be a positive integer or None; got {n_images!r}.")
        reps = -(-int(n_images) // X.shape[0])
        X = np.tile(X, (reps, 1))[: int(n_images)]
    batch_size = check_int(batch_size, "batch_size")
    fn = _denoise_fn(denoiser, image_shape, device)
    gen = torch_generator(resolve_seed(random_state))
    means, stds = [], []
    for s in sigmas:
        vals = []
        for b in range(0, X.shape[0], batch_size):
            clean = X[b : b + batch_size]
            noise = torch.randn(clean.shape, generator=gen, dtype=torch.float64).numpy()
            out = fn((clean + s * noise).astype(np.float32))
            vals.append(psnr(out, clean))
        v = np.concatenate(vals)
        means.append(float(np.nanmean(v)))
        stds.append(float(np.nanstd(v)))
    return Bunch(sigma=sigmas, input_psnr=-20 * np.log10(sigmas), output_psnr=np.array(means),
                 output_psnr_std=np.array(stds))


def psnr_gap(train_curve, test_curve) -> float:
    """Generalization gap Delta(N): mean over the noise grid of PSNR_train - PSNR_test (SPEC §6.3), in dB.

    Accepts two :func:`psnr_curve` results or two arrays of output PSNRs on the same grid.
    """
    a = np.asarray(getattr(train_curve, "output_psnr", train_curve), dtype=np.float64)
    b = np.asarray(getattr(test_curve, "output_psnr", test_curve), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"train and test curves must be on the same grid; got shapes {a.shape} and {b.shape}.")
    return float(np.nanmean(a - b))


def effective_memorization(sizes, rates, *, epsilon: float = 0.1) -> int:
    """Largest training-set size N up to which the memorization rate stays >= 1 - epsilon.

    Parameters
    ----------
    sizes : array-like of int
        Training-set sizes of a sweep.
    rates : array-like of float
        Memorization rate at each size (NaN counts as failing).
    epsilon : float, default=0.1

    Returns
    -------
    n : int
        The largest N such that every size ``<= N`` has rate ``>= 1 - epsilon``; 0 if the smallest fails.

    Examples
    --------
    >>> effective_memorization([1, 10, 100, 1000], [1.0, 0.95, 0.2, 0.0])
    10
    """
    sizes = np.asarray(sizes).ravel()
    rates = np.asarray(rates, dtype=np.float64).ravel()
    if sizes.shape != rates.shape:
        raise ValueError(f"sizes and rates must have the same length; got {sizes.size} and {rates.size}.")
    if not 0 <= epsilon < 1:
        raise ValueError(f"epsilon must lie in [0, 1); got {epsilon}.")
    order = np.argsort(sizes, kind="stable")
    best = 0
    for n, r in zip(sizes[order], rates[order]):
        if not (np.isfinite(r) and r >= 1 - epsilon):
            break
        best = int(n)
    return best


class _MemorizationScorer:
    """Scorer ``(estimator, X, y=None) -> memorization rate`` of the estimator's samples against ``X``."""

    def __init__(self, n_samples, rule, threshold, remove_mean, random_state, sample_kwargs):
        self.n_samples = n_samples
        self.rule = rule
        self.threshold = threshold
        self.remove_mean = remove_mean
        self.random_state = random_state
        self.sample_kwargs = sample_kwargs

    def __call__(self, estimator, X, y=None, **kwargs):
        samples = _draw(estimator, self.n_samples, resolve_seed(self.random_state), self.sample_kwargs)
        X = _as_rows(X, "X")
        if self.rule == "ratio" and X.shape[0] < 2:
            return float("nan")
        return memorization_rate(samples, X, rule=self.rule, threshold=self.threshold, remove_mean=self.remove_mean)

    def __repr__(self):
        return f"memorization_scorer(n_samples={self.n_samples}, rule={self.rule!r})"


def memorization_scorer(n_samples: int = 32, *, rule: str = "cosine", threshold: float | None = None,
                        remove_mean: bool | None = None, random_state=0, sample_kwargs: dict | None = None):
    """A scikit-learn scorer: memorization rate of a fitted sampler's samples against the images scored.

    Use it with :func:`sklearn.model_selection.learning_curve` (the train score is the memorization rate
    against the training subset of each size; the test score, against held-out images, is the rate of
    "copies" of images never seen, i.e. chance) or with ``GridSearchCV`` over
    :class:`gahb.experiments.generalization.TrainingSubset`'s ``n_train``.

    Parameters
    ----------
    n_samples : int, default=32
        Samples drawn per scoring call.
    rule, threshold, remove_mean
        See :func:`memorization_rate`. The ``"ratio"`` rule scores NaN on fewer than 2 images.
    random_state : int, default=0
        Sampling seed (the same noise for every model scored).
    sample_kwargs : dict, default=None
        Extra arguments for ``estimator.sample``.

    Returns
    -------
    scorer : callable ``scorer(estimator, X, y=None) -> float``

    Examples
    --------
    >>> from sklearn.model_selection import learning_curve  # doctest: +SKIP
    >>> learning_curve(est, X, train_sizes=[10, 100], scoring=memorization_scorer(16))  # doctest: +SKIP
    """
    if rule not in ("cosine", "ratio"):
        raise ValueError(f"rule must be 'cosine' or 'ratio'; got {rule!r}.")
    if not isinstance(n_samples, (numbers.Integral, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
    return _MemorizationScorer(int(n_samples), rule, threshold, remove_mean, random_state, sample_kwargs)
