"""Patch-level nearest neighbours: samples assembled from pieces of training images (paper App. B, Fig. 10).

Between copying a whole training image and generating a new one lies the "collage": every patch of a
sample is a near-copy of a patch of some training image, but not all from the same image. The paper
compares 20 x 20 patches (stride 20) of 80 x 80 samples with the training patches at the same position,
by mean-removed correlation.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params

from gahb._checks import check_image_shape
from gahb.metrics._common import _DEFAULT_CHUNK, _pair
from gahb.metrics._similarity import nearest_neighbors


def patch_grid(image_shape, patch_size, stride=None) -> np.ndarray:
    """Top-left corners ``(row, col)`` of the ``patch_size`` patches taken every ``stride`` pixels."""
    _, H, W = check_image_shape(image_shape)
    stride = patch_size if stride is None else stride
    if patch_size > min(H, W):
        raise ValueError(f"patch_size={patch_size} is larger than the {H} x {W} images.")
    rows, cols = np.arange(0, H - patch_size + 1, stride), np.arange(0, W - patch_size + 1, stride)
    return np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1).reshape(-1, 2)


def _patches(X, shape, corners, p) -> np.ndarray:
    """(n, P, C * p * p) patches of the rows of X at the given corners."""
    imgs = np.asarray(X, dtype=np.float64).reshape((-1,) + tuple(shape))
    return np.stack([imgs[:, :, r : r + p, c : c + p].reshape(imgs.shape[0], -1) for r, c in corners], axis=1)


@validate_params(
    {
        "samples": ["array-like"],
        "X_train": ["array-like"],
        "image_shape": [tuple, list],
        "patch_size": [Interval(numbers.Integral, 2, None, closed="left")],
        "stride": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "threshold": [Interval(numbers.Real, -1, 1, closed="both")],
        "min_fraction": [Interval(numbers.Real, 0, 1, closed="right")],
        "min_std": [Interval(numbers.Real, 0, None, closed="left")],
        "match": [StrOptions({"same", "any"})],
        "remove_mean": ["boolean"],
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def patch_nearest_neighbors(samples, X_train, *, image_shape, patch_size, stride=None, threshold=0.95,
                            min_fraction=1.0, min_std=0.02, match="same", remove_mean=True,
                            chunk_size=_DEFAULT_CHUNK):
    """Nearest training patch of every patch of every sample, and the samples that are collages.

    A patch is *copied* when its nearest training patch has cosine similarity ``>= threshold``. A sample
    whose copied patches make up at least ``min_fraction`` of its informative patches (standard deviation
    ``>= min_std``; flat patches carry no identity and are left out) is a *patch copy*; it is a *collage*
    when those patches come from two or more training images, a *single-source copy* when from one.

    Parameters
    ----------
    samples : array-like of shape (n_samples, n_features)
        Generated images.
    X_train : array-like of shape (n_train, n_features)
        Training images.
    image_shape : tuple
        ``(H, W)`` or ``(C, H, W)`` of each row.
    patch_size : int
        Patch side (the paper: 20 on 80 x 80 images, a quarter of the side).
    stride : int, default=None
        Step between patches; ``None`` means ``patch_size`` (non-overlapping, as in the paper).
    threshold : float, default=0.95
        Cosine similarity at which a patch counts as copied.
    min_fraction : float, default=1.0
        Fraction of a sample's informative patches that must be copied for a patch copy.
    min_std : float, default=0.02
        Patches of a sample with a smaller standard deviation are not counted.
    match : {"same", "any"}, default="same"
        ``"same"``: compare with training patches at the same position (the paper's tool, suited to aligned
        images such as faces); ``"any"``: with training patches at every grid position.
    remove_mean : bool, default=True
        Mean-removed cosine (correlation) of patches.
    chunk_size : int, default=4096
        See :func:`nearest_neighbors`.

    Returns
    -------
    result : Bunch
        ``corners`` (P, 2) patch positions; ``similarity`` (n, P) and ``source`` (n, P) the best training
        patch's similarity and training-image index, ``source_corner`` (n, P, 2) its position;
        ``informative`` and ``copied`` (n, P) bool; ``copied_fraction`` (n,) (NaN for a sample without an
        informative patch); ``n_sources`` (n,) distinct training images among the copied patches;
        ``collage`` and ``single_source`` (n,) bool; ``collage_rate`` and ``patch_copy_rate`` (fractions of
        the samples).

    See Also
    --------
    memorization_rate : Whole-image copies.
    patch_collage_images : Each sample rebuilt from its nearest training patches.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((2, 64))      # two 8 x 8 training images
    >>> mix = X[0].reshape(8, 8).copy(); mix[4:] = X[1].reshape(8, 8)[4:]   # top from one, bottom from the other
    >>> res = patch_nearest_neighbors(mix.reshape(1, -1), X, image_shape=(8, 8), patch_size=4)
    >>> res.collage.tolist(), res.source.tolist()
    ([True], [[0, 0, 1, 1]])
    """
    samples, X_train = _pair(samples, X_train, "samples", "X_train")
    shape = check_image_shape(image_shape)
    if int(np.prod(shape)) != samples.shape[1]:
        raise ValueError(f"image_shape {tuple(image_shape)} holds {int(np.prod(shape))} pixels but the rows have "
                         f"{samples.shape[1]}.")
    corners = patch_grid(shape, int(patch_size), stride)
    p = int(patch_size)
    S, T = _patches(samples, shape, corners, p), _patches(X_train, shape, corners, p)
    n, P = S.shape[:2]
    sim, src, src_pos = np.full((n, P), np.nan), np.zeros((n, P), np.int64), np.zeros((n, P), np.int64)
    if match == "same":
        for j in range(P):
            idx, val = nearest_neighbors(S[:, j], T[:, j], 1, remove_mean=remove_mean, chunk_size=chunk_size)
            sim[:, j], src[:, j], src_pos[:, j] = val[:, 0], idx[:, 0], j
    else:
        ref = T.reshape(-1, T.shape[2])  # row k = training image k // P, position k % P
        idx, val = nearest_neighbors(S.reshape(-1, S.shape[2]), ref, 1, remove_mean=remove_mean,
                                     chunk_size=chunk_size)
        sim, src, src_pos = val[:, 0].reshape(n, P), (idx[:, 0] // P).reshape(n, P), (idx[:, 0] % P).reshape(n, P)
    informative = S.std(axis=2) >= min_std  # the inputs are finite (checked on entry)
    copied = informative & (sim >= threshold)
    n_inf = informative.sum(axis=1)
    frac = np.where(n_inf > 0, copied.sum(axis=1) / np.maximum(n_inf, 1), np.nan)
    n_sources = np.array([np.unique(src[i][copied[i]]).size for i in range(n)])
    patch_copy = np.nan_to_num(frac, nan=0.0) >= min_fraction - 1e-12
    collage, single = patch_copy & (n_sources >= 2), patch_copy & (n_sources == 1)
    return Bunch(corners=corners, patch_size=p, similarity=sim, source=src, source_corner=corners[src_pos],
                 informative=informative, copied=copied, copied_fraction=frac, n_sources=n_sources,
                 collage=collage, single_source=single, collage_rate=float(collage.mean()),
                 patch_copy_rate=float(patch_copy.mean()))


@validate_params({"result": [HasMethods(["keys"])], "X_train": ["array-like"], "image_shape": [tuple, list]},
                 prefer_skip_nested_validation=True)
def patch_collage_images(result, X_train, image_shape) -> np.ndarray:
    """Each sample rebuilt from its nearest training patches: what it was pieced together from.

    Parameters
    ----------
    result : Bunch
        The result of :func:`patch_nearest_neighbors` for these samples and ``X_train``.
    X_train : array-like of shape (n_train, n_features)
        The training images given to :func:`patch_nearest_neighbors`.
    image_shape : tuple
        ``(H, W)`` or ``(C, H, W)``.

    Returns
    -------
    collages : ndarray of shape (n_samples, n_features)
        Pixels outside every patch are NaN.

    See Also
    --------
    patch_nearest_neighbors : The patch matches these images are built from.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).random((2, 16))
    >>> res = patch_nearest_neighbors(X, X, image_shape=(4, 4), patch_size=2)
    >>> bool(np.allclose(patch_collage_images(res, X, (4, 4)), X))
    True
    """
    shape = check_image_shape(image_shape)
    T = np.asarray(X_train, dtype=np.float64).reshape((-1,) + tuple(shape))
    p = result.patch_size
    out = np.full((result.source.shape[0],) + tuple(shape), np.nan)
    for i in range(out.shape[0]):
        for j, (r, c) in enumerate(result.corners):
            rs, cs = result.source_corner[i, j]
            out[i, :, r : r + p, c : c + p] = T[result.source[i, j], :, rs : rs + p, cs : cs + p]
    return out.reshape(out.shape[0], -1)
