"""Dead-leaves images: random occluding ellipses, a classic model of natural-image statistics."""

from __future__ import annotations

import numbers

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.utils._param_validation import Interval, validate_params

from gahb.datasets._common import (
    POSITIVE_INT,
    RANDOM_STATE,
    box_reduce,
    bunch_or_X_y,
    check_range,
    check_rng,
    check_size,
    image_bunch,
    size_constraint,
)

__all__ = ["make_dead_leaves"]

_PER_LEAF = 6  # centre row, centre col, size, aspect, angle, grey
_CHUNK = 2048


def _leaf_count(u, lo, hi):
    return lo + np.minimum((u * (hi - lo + 1)).astype(np.int64), hi - lo)


def _leaves_chunk(u, Hg, Wg, min_leaves, max_leaves, size_range):
    """Paint one chunk at the drawing resolution ``(Hg, Wg)`` from uniforms ``u`` of shape (b, 4 + 6 * max_leaves)."""
    b = u.shape[0]
    S = float(min(Hg, Wg))
    y = (np.arange(Hg, dtype=np.float32) + 0.5)[None, :, None]
    x = (np.arange(Wg, dtype=np.float32) + 0.5)[None, None, :]
    # Background: a linear ramp between two random grey levels along a random direction.
    g0, g1, theta = u[:, 0], u[:, 1], np.pi * 2.0 * u[:, 2]
    t = (np.cos(theta)[:, None, None] * (y / Hg - 0.5) + np.sin(theta)[:, None, None] * (x / Wg - 0.5)) / np.sqrt(0.5) + 0.5
    img = (g0[:, None, None] + (g1 - g0)[:, None, None] * t).astype(np.float32)
    n_leaves = _leaf_count(u[:, 3], min_leaves, max_leaves)
    leaves = u[:, 4:].reshape(b, max_leaves, _PER_LEAF)
    log_lo, log_hi = np.log(size_range[0] * S), np.log(size_range[1] * S)
    for k in range(max_leaves):
        cy, cx, sz, asp, ang, grey = leaves[:, k].T
        cy = (1.2 * cy - 0.1) * Hg  # centres may sit slightly outside: leaves enter from the border
        cx = (1.2 * cx - 0.1) * Wg
        a = np.exp(log_lo + (log_hi - log_lo) * sz)  # log-uniform semi-major axis (scale-free sizes)
        bb = a * (0.3 + 0.7 * asp)
        ang = np.pi * ang
        c, s = np.cos(ang), np.sin(ang)
        A = c**2 / a**2 + s**2 / bb**2
        C = s**2 / a**2 + c**2 / bb**2
        B2 = 2.0 * c * s * (1.0 / a**2 - 1.0 / bb**2)
        off = np.where(k < n_leaves, 0.0, 2.0)  # an absent leaf can never satisfy q <= 1
        dx = (x - cx[:, None, None]).astype(np.float32)
        dy = (y - cy[:, None, None]).astype(np.float32)
        row_term = (C[:, None, None] * dy**2 + off[:, None, None]).astype(np.float32)
        q = (B2[:, None, None] * dy).astype(np.float32) * dx
        q += row_term
        q += (A[:, None, None] * dx**2).astype(np.float32)
        np.copyto(img, grey.astype(np.float32)[:, None, None], where=q <= 1.0)
    return img


@validate_params(
    {
        "n_samples": POSITIVE_INT,
        "image_size": size_constraint(2),
        "random_state": RANDOM_STATE,
        "min_leaves": [Interval(numbers.Integral, 0, None, closed="left")],
        "max_leaves": POSITIVE_INT,
        "size_range": ["array-like"],
        "oversample": POSITIVE_INT,
        "blur": [Interval(numbers.Real, 0, None, closed="left")],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def make_dead_leaves(
    n_samples=100,
    image_size=12,
    random_state=None,
    *,
    min_leaves=3,
    max_leaves=8,
    size_range=(0.08, 0.45),
    oversample=4,
    blur=0.6,
    return_X_y=False,
):
    """Dead-leaves images: 3 to 8 occluding ellipses of random grey levels on a random background.

    A classic model of natural images (Matheron; Lee, Mumford & Huang 2001): objects at random
    positions and scales occlude one another, so images have sharp edges between smooth regions.
    Each image has a background that ramps linearly between two grey levels ``U(0, 1)`` along a random
    direction, then ``K ~ U{min_leaves, ..., max_leaves}`` ellipses painted in turn, each hiding what is
    under it: centre uniform over the image extended by 10 % on each side, semi-major axis
    log-uniform in ``size_range`` times the image side, aspect ratio ``U(0.3, 1)``, random angle,
    grey level ``U(0, 1)``. Drawn at ``oversample`` times the size, box-averaged down (anti-aliasing),
    then blurred by a Gaussian of standard deviation ``blur`` output pixels. This is the embedded
    default data of the ``gahb transition`` command: at 12 x 12 it gave the clearest memorization ->
    generalization contrast of the data sets measured at CPU scale (cross-model similarity 0.976
    against a chance level of 0.04 at N = 10^4; the "Prototype measurements" section of the transition
    guide in the documentation). Not in the paper.

    Parameters
    ----------
    n_samples : int, default=100
        Number of images.
    image_size : int or (int, int), default=12
        Output ``(H, W)``.
    random_state : int, RandomState, Generator or None, default=None
        Seed; image ``i`` depends only on the seed and ``i``.
    min_leaves, max_leaves : int, default=3, 8
        Range of the number of ellipses per image.
    size_range : (float, float), default=(0.08, 0.45)
        Semi-major axis range as a fraction of the image side (log-uniform).
    oversample : int, default=4
        Drawing resolution factor before box averaging.
    blur : float, default=0.6
        Gaussian blur standard deviation in output pixels (0 turns it off).
    return_X_y : bool, default=False
        Return ``(data, n_leaves)`` instead of the Bunch.

    Returns
    -------
    Bunch
        ``data`` (n, H*W) float32 in [0, 1], ``images`` (n, H, W), ``image_shape``, ``n_leaves`` (n,).
    (data, n_leaves) : tuple of ndarray
        Only with ``return_X_y=True``.

    See Also
    --------
    gahb.experiments.generalization_curve : The memorization -> generalization sweep run on these images.
    shuffle_pixels : The same images without spatial structure.

    Examples
    --------
    >>> from gahb.datasets import make_dead_leaves
    >>> b = make_dead_leaves(1000, image_size=12, random_state=0)
    >>> b.data.shape
    (1000, 144)
    """
    n, lo_k, hi_k, o = int(n_samples), int(min_leaves), int(max_leaves), int(oversample)
    H, W = check_size(image_size, minimum=2)
    if hi_k < lo_k:
        raise ValueError(f"max_leaves={hi_k} must be >= min_leaves={lo_k}.")
    s_lo, s_hi = check_range(size_range, "size_range", low=0.0)
    if s_lo <= 0:
        raise ValueError(f"size_range must satisfy 0 < low <= high; got {size_range!r}.")
    rng = check_rng(random_state)
    m = 4 + _PER_LEAF * hi_k
    images = np.empty((n, H, W), dtype=np.float32)
    n_leaves = np.empty(n, dtype=np.int64)
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        u = rng.random((b - a, m))
        n_leaves[a:b] = _leaf_count(u[:, 3], lo_k, hi_k)
        img = box_reduce(_leaves_chunk(u, H * o, W * o, lo_k, hi_k, (s_lo, s_hi)), o)
        if blur > 0:
            img = gaussian_filter(img, sigma=(0, float(blur), float(blur)), mode="reflect")
        images[a:b] = img
    return bunch_or_X_y(image_bunch(images, n_leaves=n_leaves), return_X_y, "n_leaves")
