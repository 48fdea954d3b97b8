"""Similarities, nearest neighbours, memorization rate and the data baseline (paper Figs 2 and 6)."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from gahb.metrics._common import _DEFAULT_CHUNK, BOOLEAN, CHUNK_SIZE, POSITIVE_INT, _pair, _prepare, _real


@validate_params({"X": ["array-like"], "Y": ["array-like", None], "remove_mean": BOOLEAN},
                 prefer_skip_nested_validation=True)
def cosine_similarity(X, Y=None, *, remove_mean: bool = False) -> np.ndarray:
    """All-pairs cosine similarity ``<x, y> / (|x| |y|)`` (dense ``(n_X, n_Y)``; use for small sets).

    By default this is scikit-learn's :func:`sklearn.metrics.pairwise.cosine_similarity` (the raw normalized
    inner product), computed in float64. ``remove_mean=True`` gives the paper's primary measure, the cosine
    of mean-removed images (a Pearson correlation), which the memorization metrics use by default.

    Parameters
    ----------
    X : array-like of shape (n_X, n_features) or (n_X, [C,] H, W)
        Images as rows (image-shaped arrays are flattened).
    Y : array-like of shape (n_Y, n_features), default=None
        Defaults to ``X``.
    remove_mean : bool, default=False
        Subtract each image's own mean first (Pearson correlation), as the paper's code does for
        nearest training images. A constant image then has similarity 0 with everything.

    Returns
    -------
    S : ndarray of shape (n_X, n_Y), values in [-1, 1]

    See Also
    --------
    paired_cosine_similarity : Row ``i`` of X against row ``i`` of Y only.
    nearest_neighbors : The most similar rows, chunked for large sets.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.metrics import cosine_similarity
    >>> X = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    >>> cosine_similarity(X).round(3)
    array([[1.   , 0.714],
           [0.714, 1.   ]])
    >>> cosine_similarity(X, remove_mean=True)  # centred: the two ramps are anti-correlated
    array([[ 1., -1.],
           [-1.,  1.]])
    """
    X, Y = _pair(X, Y)
    a = _prepare(X, remove_mean, True)
    b = _prepare(Y, remove_mean, True)
    return (a @ b.T).clamp(-1, 1).numpy()


@validate_params({"X": ["array-like"], "Y": ["array-like"], "remove_mean": BOOLEAN},
                 prefer_skip_nested_validation=True)
def paired_cosine_similarity(X, Y, *, remove_mean: bool = False) -> np.ndarray:
    """Row-wise cosine similarity ``cos(X[i], Y[i])`` (model A's sample i against model B's sample i).

    Parameters
    ----------
    X, Y : array-like of shape (n_samples, n_features)
    remove_mean : bool, default=False
        See :func:`cosine_similarity`.

    Returns
    -------
    s : ndarray of shape (n_samples,)

    See Also
    --------
    cosine_similarity : All pairs.
    score_generalization : This similarity between two models' same-noise samples, with its chance level.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.metrics import paired_cosine_similarity
    >>> X = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> paired_cosine_similarity(X, np.array([[2.0, 0.0], [0.0, 1.0]])).round(3)
    array([1.   , 0.707])
    """
    X, Y = _pair(X, Y)
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must have the same number of rows; got {X.shape[0]} and {Y.shape[0]}.")
    a = _prepare(X, remove_mean, True)
    b = _prepare(Y, remove_mean, True)
    return (a * b).sum(dim=1).clamp(-1, 1).numpy()


def mismatched_similarity(X, Y, *, remove_mean: bool = False) -> np.ndarray:
    """Cosine of ``X[i]`` with ``Y[j]`` for every ``i != j``: the chance level of a same-noise comparison.

    Every mismatched pair, not one shifted pairing, so its median is as precise as the data allow (one
    pairing of 64 samples moves the median by about 0.07 from one shift to the next).
    """
    pairs = cosine_similarity(X, Y, remove_mean=remove_mean)
    return pairs[~np.eye(pairs.shape[0], pairs.shape[1], dtype=bool)]


@validate_params({"X": ["array-like"], "Y": ["array-like"], "n_neighbors": POSITIVE_INT,
                  "metric": [StrOptions({"cosine", "euclidean"})], "remove_mean": BOOLEAN, "chunk_size": CHUNK_SIZE},
                 prefer_skip_nested_validation=True)
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
        Subtract each image's mean before comparing (both metrics): with ``"cosine"`` the similarity is
        then a Pearson correlation, the paper's measure for nearest training images.
    chunk_size : int, default=4096
        Rows of each set held at once: memory is ``O(chunk_size^2)``, not ``O(n_queries * n_reference)``.

    Returns
    -------
    indices : ndarray of shape (n_queries, n_neighbors), int64
        Row indices into ``Y``, best first.
    values : ndarray of shape (n_queries, n_neighbors), float64
        Similarities (cosine, descending) or distances (euclidean, ascending).

    See Also
    --------
    nearest_similarity : The best similarity and its index only.
    memorization_rate : The fraction of samples whose nearest training image is a copy.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.metrics import nearest_neighbors
    >>> Y = np.eye(4)
    >>> idx, sim = nearest_neighbors(Y[[2, 0]], Y, metric="cosine", remove_mean=False)
    >>> idx.ravel().tolist(), sim.ravel().tolist()
    ([2, 0], [1.0, 1.0])
    """
    X, Y = _pair(X, Y, "X", "Y")
    if n_neighbors > Y.shape[0]:
        raise ValueError(f"n_neighbors={n_neighbors} exceeds the {Y.shape[0]} rows of Y.")
    chunk_size = int(chunk_size)
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
            idx = torch.arange(rs, rs + r.shape[0]).expand(score.shape[0], -1)
            if best_val is not None:
                score = torch.cat([best_val, score], dim=1)
                idx = torch.cat([best_idx, idx], dim=1)
            kk = min(k, score.shape[1])
            best_val, pos = torch.topk(score, kk, dim=1)
            best_idx = torch.gather(idx, 1, pos)
        vals = best_val if cos else (-best_val).clamp_min(0).sqrt()
        out_idx[qs : qs + q.shape[0]] = best_idx.numpy()
        out_val[qs : qs + q.shape[0]] = vals.numpy()
    return out_idx, out_val


@validate_params({"X": ["array-like"], "Y": ["array-like"], "remove_mean": BOOLEAN, "chunk_size": CHUNK_SIZE},
                 prefer_skip_nested_validation=True)
def nearest_similarity(X, Y, *, remove_mean: bool = True, chunk_size: int = _DEFAULT_CHUNK):
    """Highest cosine similarity of each row of ``X`` to any row of ``Y`` and its index.

    Parameters
    ----------
    X : array-like of shape (n_queries, n_features)
    Y : array-like of shape (n_reference, n_features)
    remove_mean : bool, default=True
        Compare mean-removed images (Pearson correlation), as :func:`nearest_neighbors`.
    chunk_size : int, default=4096
        See :func:`nearest_neighbors`.

    Returns
    -------
    similarity : ndarray of shape (n_queries,)
    index : ndarray of shape (n_queries,)

    See Also
    --------
    nearest_neighbors : The top ``k`` rows, or euclidean distances.
    data_baseline : This similarity between two training sets, summarized.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.metrics import nearest_similarity
    >>> Y = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    >>> sim, idx = nearest_similarity(np.array([[5.0, 3.0, 1.0]]), Y)
    >>> sim.round(3).tolist(), idx.tolist()
    ([1.0], [1])
    """
    idx, val = nearest_neighbors(X, Y, 1, metric="cosine", remove_mean=remove_mean, chunk_size=chunk_size)
    return val[:, 0], idx[:, 0]


@validate_params({"samples": ["array-like"], "X_train": ["array-like"], "rule": [StrOptions({"cosine", "ratio"})],
                  "threshold": [Interval(numbers.Real, None, None, closed="neither"), None],
                  "remove_mean": ["boolean", None], "return_flags": BOOLEAN, "chunk_size": CHUNK_SIZE},
                 prefer_skip_nested_validation=True)
def memorization_rate(samples, X_train, *, rule: str = "cosine", threshold: float | None = None,
                      remove_mean: bool | None = None, return_flags: bool = False,
                      chunk_size: int = _DEFAULT_CHUNK):
    """Fraction of generated samples that copy a training image.

    Both arrays must be finite: a NaN pixel is a ``ValueError`` (drop diverged samples first, e.g.
    ``samples[np.isfinite(samples).all(axis=1)]``), never a silently unflagged copy.

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
        0.95 for ``"cosine"``, 1/3 for ``"ratio"``. Must lie in [-1, 1] for ``"cosine"`` (a cosine) and in
        (0, 1] for ``"ratio"`` (a ratio of the nearest to the second-nearest distance).
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
        Fraction of the samples flagged.
    flags : ndarray of bool, shape (n_samples,)
        Only if ``return_flags``.

    See Also
    --------
    nearest_neighbors : The nearest training images themselves.
    memorization_scorer : This rate as a scikit-learn scorer.
    effective_memorization : The largest training-set size still memorized.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.metrics import memorization_rate
    >>> X = np.random.default_rng(0).random((5, 16))
    >>> memorization_rate(X, X), memorization_rate(X, X, rule="ratio")
    (1.0, 1.0)
    """
    threshold = check_threshold(rule, threshold)
    if remove_mean is None:
        remove_mean = rule == "cosine"
    samples, X_train = _pair(samples, X_train, "samples", "X_train")
    if rule == "cosine":
        idx, val = nearest_neighbors(samples, X_train, 1, metric="cosine", remove_mean=remove_mean,
                                     chunk_size=chunk_size)
        flags = val[:, 0] >= threshold
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
        flags = (d1 < threshold * d2) | (d1 <= 1e-5 * scale)
    rate = float(flags.mean())
    return (rate, flags) if return_flags else rate


def check_threshold(rule: str, threshold) -> float:
    """The memorization threshold of ``rule`` (its default for None), range-checked: a cosine lies in [-1, 1],
    the distance ratio in (0, 1]; anything else would flag every sample or none."""
    if threshold is None:
        return 0.95 if rule == "cosine" else 1.0 / 3.0
    if isinstance(threshold, (bool, np.bool_)):  # a Real to validate_params, but True would read as 1.0
        raise TypeError(f"threshold must be a number, not a bool; got {threshold}.")
    if rule == "cosine" and not -1 <= threshold <= 1:
        raise ValueError(f"the cosine rule's threshold is a cosine similarity and must lie in [-1, 1]; got "
                         f"{threshold}.")
    if rule == "ratio" and not 0 < threshold <= 1:
        raise ValueError(f"the ratio rule's threshold must lie in (0, 1]; got {threshold}.")
    return float(threshold)


def _centred(rows, remove_mean: bool) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float64)
    return rows - rows.mean(axis=1, keepdims=True) if remove_mean else rows


@validate_params({"values": ["array-like"]}, prefer_skip_nested_validation=True)
def summarize(values) -> dict:
    """NaN-aware summary of a similarity array: median, quartiles, mean and the NaN count.

    Parameters
    ----------
    values : array-like
        Any shape; flattened. NaN and infinite values are left out of the statistics and counted.

    Returns
    -------
    summary : dict
        ``median``, ``q25``, ``q75``, ``mean`` (NaN when no value is finite), ``n`` and ``n_nan``.

    See Also
    --------
    score_generalization : Returns these statistics for two models' same-noise samples.

    Examples
    --------
    >>> from gahb.metrics import summarize
    >>> summarize([0.2, 0.4, float("nan"), 0.9])
    {'median': 0.4, 'q25': 0.30000000000000004, 'q75': 0.65, 'mean': 0.5, 'n': 4, 'n_nan': 1}
    """
    v = _real(values, "values").ravel()
    fin = v[np.isfinite(v)]
    if fin.size == 0:
        q25 = med = q75 = mean = float("nan")
    else:
        q25, med, q75 = (float(x) for x in np.quantile(fin, [0.25, 0.5, 0.75]))
        mean = float(fin.mean())
    return {"median": med, "q25": q25, "q75": q75, "mean": mean, "n": int(v.size), "n_nan": int(v.size - fin.size)}


@validate_params({"X1": ["array-like"], "X2": ["array-like"], "remove_mean": BOOLEAN, "chunk_size": CHUNK_SIZE},
                 prefer_skip_nested_validation=True)
def data_baseline(X1, X2, *, remove_mean: bool = True, chunk_size: int = _DEFAULT_CHUNK):
    """Nearest similarity of each image of ``X1`` to the images of ``X2`` (paper Fig. 6, data-vs-data).

    How close two disjoint training sets already are: a model similarity at this level is no evidence
    of copying.

    Parameters
    ----------
    X1, X2 : array-like of shape (n1, n_features) and (n2, n_features)
        Two training sets (e.g. the A and B sets of one size).
    remove_mean : bool, default=True
        Compare mean-removed images (Pearson correlation).
    chunk_size : int, default=4096
        See :func:`nearest_neighbors`.

    Returns
    -------
    result : Bunch
        ``similarity`` (per image of X1), ``index`` (its nearest in X2) and :func:`summarize` statistics.

    See Also
    --------
    nearest_similarity : The per-image values without the summary.
    gahb.datasets.remove_near_duplicates : Drops pairs above a threshold before the sets are split.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.metrics import data_baseline
    >>> rng = np.random.default_rng(0)
    >>> res = data_baseline(rng.random((50, 64)), rng.random((50, 64)))
    >>> bool(res.median < 0.5), res.n
    (True, 50)
    """
    X1, X2 = _pair(X1, X2, "X1", "X2")
    sim, idx = nearest_similarity(X1, X2, remove_mean=remove_mean, chunk_size=chunk_size)
    return Bunch(similarity=sim, index=idx, **summarize(sim))
