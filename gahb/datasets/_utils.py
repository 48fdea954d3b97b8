"""Dataset utilities: pixel shuffling control, near-duplicate removal, disjoint training sets."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from gahb._checks import check_rows, resolve_image_shape
from gahb.datasets._common import POSITIVE_INT, RANDOM_STATE, area_resize, check_rng

__all__ = ["shuffle_pixels", "unshuffle_pixels", "remove_near_duplicates", "disjoint_split"]


def _check_X(X, name="X"):
    return check_rows(X, name, finite=True)


def _check_permutation(permutation, n_features):
    p = np.asarray(permutation)
    if p.ndim != 1 or p.dtype.kind not in "iu" or p.size != n_features or not np.array_equal(np.sort(p), np.arange(n_features)):
        raise ValueError(f"permutation must be a permutation of range({n_features}) (integers, each once).")
    return p


@validate_params({"X": ["array-like"], "random_state": RANDOM_STATE, "permutation": ["array-like", None]},
                 prefer_skip_nested_validation=True)
def shuffle_pixels(X, random_state=None, permutation=None):
    """Apply one fixed random permutation to the pixels of every image (the paper's "shuffled faces").

    The same permutation is applied to every row, so the data set keeps its statistics up to a
    relabelling of pixels while losing all spatial structure (paper Fig. 21, App. C.3). Columns
    (features) are permuted; for ``(C, H, W)`` images this mixes channels too.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_pixels) or (n_samples, [C,] H, W)
        Images (image-shaped arrays are flattened to rows). Not modified.
    random_state : int, RandomState, Generator or None, default=None
        Seed of the permutation; ignored when ``permutation`` is given.
    permutation : array-like of shape (n_pixels,) or None, default=None
        A permutation returned by an earlier call, to shuffle another set (e.g. test images) the same way.

    Returns
    -------
    X_shuffled : ndarray of shape (n_samples, n_pixels)
        ``X[:, permutation]`` (a copy).
    permutation : ndarray of shape (n_pixels,)
        The permutation; :func:`unshuffle_pixels` inverts it.

    See Also
    --------
    unshuffle_pixels : The inverse.
    gahb.experiments.optimality.shuffled_control : The paper's shuffled-pixel control experiment.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.datasets import shuffle_pixels, unshuffle_pixels
    >>> X = np.arange(12.0).reshape(2, 6)
    >>> Xs, perm = shuffle_pixels(X, random_state=0)
    >>> bool(np.array_equal(unshuffle_pixels(Xs, perm), X))
    True
    """
    X = _check_X(X)
    if permutation is None:
        permutation = check_rng(random_state).permutation(X.shape[1])
    else:
        permutation = _check_permutation(permutation, X.shape[1])
    return X[:, permutation], permutation


@validate_params({"X": ["array-like"], "permutation": ["array-like"]}, prefer_skip_nested_validation=True)
def unshuffle_pixels(X, permutation):
    """Undo :func:`shuffle_pixels`: put each pixel back (works on images and on basis vectors alike).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_pixels)
        Shuffled rows (e.g. shuffled images or eigenvectors of a model trained on them).
    permutation : array-like of shape (n_pixels,)
        The permutation returned by :func:`shuffle_pixels`.

    Returns
    -------
    ndarray of shape (n_samples, n_pixels)
        Rows in the original pixel order (a copy).

    See Also
    --------
    shuffle_pixels : The permutation undone here.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.datasets import shuffle_pixels, unshuffle_pixels
    >>> Xs, perm = shuffle_pixels(np.arange(4.0).reshape(1, 4), random_state=1)
    >>> unshuffle_pixels(Xs, perm)
    array([[0., 1., 2., 3.]])
    """
    X = _check_X(X)
    p = _check_permutation(permutation, X.shape[1])
    out = np.empty_like(X)
    out[:, p] = X
    return out


def _correlation_features(X, image_shape, size, chunk=8192):
    """Rows of unit-norm, mean-removed, area-pooled images (float32); zero rows for flat images."""
    C, H, W = resolve_image_shape(image_shape, X.shape[1])
    out_hw = (H, W) if size is None else (min(size, H), min(size, W))
    d = C * out_hw[0] * out_hw[1]
    Z = np.empty((X.shape[0], d), dtype=np.float32)
    for a in range(0, X.shape[0], chunk):
        x = area_resize(np.asarray(X[a : a + chunk], dtype=np.float64).reshape(-1, C, H, W), out_hw).reshape(-1, d)
        x = x - x.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        # a flat image has no defined correlation: a zero row never passes the threshold
        Z[a : a + chunk] = np.where(norm > 1e-12 * np.sqrt(d), x / np.maximum(norm, 1e-300), 0.0)
    return Z


@validate_params({"X": ["array-like"], "image_shape": ["array-like"],
                  "threshold": [Interval(numbers.Real, 0, 1, closed="left")],
                  "size": [None] + POSITIVE_INT, "block_size": POSITIVE_INT},
                 prefer_skip_nested_validation=True)
def remove_near_duplicates(X, image_shape, threshold=0.95, size=20, block_size=4096):
    """Indices of the images kept by the paper's near-duplicate removal, computed blockwise.

    As in the paper's code (Fig. 6 caption: "images with similarity score higher than 0.95 are
    removed"): each image is average-pooled to ``size x size``, its mean is
    removed, and image ``j`` is dropped when ``|corr(i, j)| > threshold`` for **any** earlier image
    ``i < j`` (whether or not ``i`` itself is dropped), so of every near-duplicate pair the later one
    goes. The correlation matrix is never formed whole: ``block_size x block_size`` blocks of its lower
    triangle are computed one at a time (memory ``O(N d + block_size^2)``), which gives exactly the
    indices of the dense computation. Flat images (zero variance after pooling) have no defined
    correlation and are never dropped.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_pixels)
        Images as rows, in the order that decides which of a pair is kept. Not modified.
    image_shape : (int, int) or (int, int, int)
        ``(H, W)`` or ``(C, H, W)`` of each row.
    threshold : float, default=0.95
        Absolute correlation above which a pair counts as a near duplicate. The paper's 0.95 is for
        80 x 80 faces; small images need a higher value (measured at 16 x 16 on Fashion-MNIST: 0.95
        dropped 65 % of one training set's candidates, 0.99 dropped 4-5 %).
    size : int or None, default=20
        Side of the area-pooled images compared (pooling never upsamples); ``None`` compares full images.
    block_size : int, default=4096
        Rows per block; peak memory of the correlation blocks is ``4 * block_size^2`` bytes.

    Returns
    -------
    keep : ndarray of shape (n_kept,)
        Sorted indices of the kept images.
    n_dropped : int
        ``n_samples - n_kept``.

    See Also
    --------
    disjoint_split : Two training sets from the images kept.
    gahb.metrics.data_baseline : How close two sets still are after de-duplication.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.datasets import remove_near_duplicates
    >>> X = np.random.default_rng(0).random((5, 64))
    >>> X[3] = 0.5 * X[1] + 0.1  # a rescaled copy: correlation 1
    >>> keep, n_dropped = remove_near_duplicates(X, (8, 8))
    >>> keep.tolist(), n_dropped
    ([0, 1, 2, 4], 1)
    """
    X = _check_X(X)
    bs = int(block_size)
    Z = _correlation_features(X, image_shape, size)
    n = Z.shape[0]
    dup = np.zeros(n, dtype=bool)
    for j0 in range(0, n, bs):
        j1 = min(n, j0 + bs)
        for i0 in range(0, j1, bs):
            rows = j0 + np.flatnonzero(~dup[j0:j1])  # rows already dropped need no more evidence
            if rows.size == 0:
                break
            i1 = min(j1, i0 + bs)
            G = Z[rows] @ Z[i0:i1].T
            np.abs(G, out=G)
            if i1 > rows[0]:  # block touches the diagonal: only i < j counts
                G[np.arange(i0, i1)[None, :] >= rows[:, None]] = 0.0
            dup[rows] |= (G > threshold).any(axis=1)
            del G
    keep = np.flatnonzero(~dup)
    return keep, int(n - keep.size)


@validate_params({"X": ["array-like"], "n": POSITIVE_INT, "random_state": RANDOM_STATE, "shuffle": ["boolean"],
                  "return_indices": ["boolean"]},
                 prefer_skip_nested_validation=True)
def disjoint_split(X, n, random_state=None, *, shuffle=True, return_indices=False):
    """Two non-overlapping training sets of ``n`` images each, nested across ``n``.

    With ``shuffle=False`` this is the rule of the paper's code (paper §2.2): set A is the first ``n`` rows and set
    B the last ``n`` rows. With ``shuffle=True`` the same rule is applied to a random permutation of the
    rows drawn from ``random_state`` alone, so for a fixed seed the sets for a smaller ``n`` are subsets
    of those for a larger ``n`` (A and B are prefixes of two fixed orders).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_pixels)
        Candidate images (e.g. after :func:`remove_near_duplicates`). Not modified.
    n : int
        Size of each set; ``2 * n <= n_samples``.
    random_state : int, RandomState, Generator or None, default=None
        Seed of the permutation (unused when ``shuffle=False``).
    shuffle : bool, default=True
        Permute the rows first.
    return_indices : bool, default=False
        Return the row indices ``(idx_a, idx_b)`` instead of the rows.

    Returns
    -------
    X_a, X_b : ndarray of shape (n, n_pixels)
        The two sets (copies); or ``idx_a, idx_b`` of shape (n,) with ``return_indices=True``.

    See Also
    --------
    remove_near_duplicates : Run first, so that the two sets share no near copy.
    gahb.experiments.generalization_curve : Splits its pool the same way for every size.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.datasets import disjoint_split
    >>> ia, ib = disjoint_split(np.zeros((10, 4)), 3, shuffle=False, return_indices=True)
    >>> ia.tolist(), ib.tolist()
    ([0, 1, 2], [7, 8, 9])
    """
    X = _check_X(X)
    n = int(n)
    M = X.shape[0]
    if 2 * n > M:
        raise ValueError(f"two disjoint sets of n={n} need 2n={2 * n} images but X has only {M}.")
    order = check_rng(random_state).permutation(M) if shuffle else np.arange(M)
    idx_a, idx_b = order[:n], order[M - n :]
    if return_indices:
        return idx_a, idx_b
    return X[idx_a], X[idx_b]
