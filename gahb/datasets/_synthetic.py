"""Synthetic image classes of the paper: C^alpha images, disks, sines and rays (paper §3.2, Apps. C and E).

Every generator draws all its randomness from one ``numpy.random.Generator`` seeded by ``random_state``,
one fixed block of uniforms per image in image order, so ``make_x(n, random_state=s)`` is a prefix of
``make_x(m, random_state=s)`` for ``m > n``: nested training sets come for free.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from gahb.datasets._common import (
    POSITIVE_INT,
    RANDOM_STATE,
    box_reduce,
    bunch_or_X_y,
    check_int,
    check_range,
    check_rng,
    check_size,
    image_bunch,
    size_constraint,
)

__all__ = ["make_c_alpha", "make_disks", "render_disks", "disk_tangents", "make_sines", "make_ray"]

# Rows of uniforms drawn per chunk are bounded so a 10^5-image set never holds all its noise at once.
_CHUNK_FLOATS = 4_000_000


def _chunks(n: int, per_item: int):
    step = max(1, _CHUNK_FLOATS // max(per_item, 1))
    for start in range(0, n, step):
        yield start, min(n, start + step)


# --------------------------------------------------------------------------- C^alpha images

_REGULARITY = [Interval(numbers.Real, 0, None, closed="left")]


def _c_alpha_filters(H: int, W: int, alpha: float, beta: float):
    """1/|k|^alpha for the contour and radial 1/|k|^beta for the backgrounds, DC set to the k = 1 value (App. E)."""
    k = np.abs(np.fft.rfftfreq(W) * W)
    k[0] = 1.0
    f1 = k ** (-alpha)
    fy = np.fft.fftfreq(H)[:, None]
    fx = np.fft.rfftfreq(W)[None, :]
    r = np.sqrt(fy**2 + fx**2) * max(H, W)  # = |k| in integer frequencies for square images
    r[0, 0] = 1.0
    f2 = r ** (-beta)
    return f1, f2


def _minmax(B: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    bmin = B.min(axis=(1, 2), keepdims=True)
    bmax = B.max(axis=(1, 2), keepdims=True)
    unit = (B - bmin) / np.maximum(bmax - bmin, 1e-300)
    return lo[:, None, None] + (hi - lo)[:, None, None] * unit


def _c_alpha_chunk(u, H, W, s, f1, f2, blur):
    """Images (b, H, W) at the generation resolution and latents from uniforms ``u`` (b, m)."""
    b = u.shape[0]
    c = 2.0 * u[:, :W] - 1.0  # the code's U(-1, 1), not the paper text's U(-0.5, 0.5)
    b1 = 2.0 * u[:, W : W + H * W].reshape(b, H, W) - 1.0
    b2 = 2.0 * u[:, W + H * W : W + 2 * H * W].reshape(b, H, W) - 1.0
    u1, u2, flip = u[:, -3], u[:, -2], u[:, -1] >= 0.5
    C = np.fft.irfft(np.fft.rfft(c, axis=1) * f1, n=W, axis=1)
    B1 = np.fft.irfft2(np.fft.rfft2(b1) * f2, s=(H, W))
    B2 = np.fft.irfft2(np.fft.rfft2(b2) * f2, s=(H, W))
    # sqrt(s) keeps the contour's low-frequency amplitude (in output pixels) independent of supersample.
    rows = C * H * np.sqrt(s) + H // 2
    r_int = np.clip(np.round(C * H * np.sqrt(s)) + H // 2, 0, H)  # clipped, not the code's negative slicing
    mask = (np.arange(H)[None, :, None] >= r_int[:, None, :]).astype(np.float64)  # one below the contour
    if blur:
        # "blurredx2": 2x2 box filter, stride 1, reflect padding 1, the extra last row/column cropped.
        p = np.pad(mask, ((0, 0), (1, 1), (1, 1)), mode="reflect")
        mask = 0.25 * (p[:, :-1, :-1] + p[:, 1:, :-1] + p[:, :-1, 1:] + p[:, 1:, 1:])[:, :H, :W]
    # Random intensity gap: one region in [u1, 1], the other in [0, u2]; which one is a coin flip.
    lo_b, hi_b = np.where(flip, 0.0, u1), np.where(flip, u2, 1.0)
    lo_a, hi_a = np.where(flip, u1, 0.0), np.where(flip, 1.0, u2)
    img = mask * _minmax(B1, lo_b, hi_b) + (1.0 - mask) * _minmax(B2, lo_a, hi_a)
    ranges = np.stack([np.stack([lo_b, hi_b], 1), np.stack([lo_a, hi_a], 1)], 1)
    return img, rows / s, ranges


@validate_params({"n_samples": POSITIVE_INT, "image_size": size_constraint(2), "alpha": _REGULARITY,
                  "beta": _REGULARITY + [None], "blur": ["boolean"], "supersample": POSITIVE_INT,
                  "random_state": RANDOM_STATE, "return_X_y": ["boolean"]},
                 prefer_skip_nested_validation=True)
def make_c_alpha(n_samples=100, image_size=32, alpha=2.0, beta=None, blur=True, supersample=1, random_state=None, *,
                 return_X_y=False):
    """C^alpha images: two C^beta backgrounds separated by a C^alpha contour (paper Algorithm 2, App. E).

    Each image is ``x = M * B1 + (1 - M) * B2``: ``M`` is one below the contour row ``C(col)`` and zero
    above, ``C`` is white noise filtered by ``1/|k|^alpha``, ``B1``, ``B2`` are 2-D white noise filtered by
    the radial ``1/|k|^beta``, min-max rescaled to ``[u1, 1]`` and ``[0, u2]`` (``u1, u2 ~ U(0, 1)``, which
    region is brighter is a coin flip).

    Follows the official code where it differs from the paper text: noise is ``U(-1, 1)`` (paper:
    ``U(-0.5, 0.5)``), filters are ``1/|k|`` in integer frequencies with the infinite DC entry replaced
    by the ``k = 1`` value, ``beta = alpha`` by default, the contour row is ``round(C * H) + H // 2`` and
    the mask is blurred 2x2 ("blurredx2"). Departures from the code: contour rows outside
    ``[0, H]`` are clipped (the code's negative slicing flips the mask in about 0.1 % of alpha = 1
    images); non-square images use the contour amplitude ``C * H`` along ``W`` columns and the radial
    filter in cycles per pixel; the optional anti-aliasing draws the image ``supersample`` times larger
    and averages ``supersample x supersample`` blocks (the code uses a db2 wavelet low-pass), scaling the
    contour by ``sqrt(supersample)`` so its low frequencies keep the same amplitude in output pixels.

    Parameters
    ----------
    n_samples : int, default=100
        Number of images.
    image_size : int or (int, int), default=32
        Image height and width ``(H, W)``; the paper uses 80 (UNet) and 40 (BF-CNN).
    alpha : float, default=2.0
        Contour regularity: exponent of the ``1/|k|^alpha`` filter.
    beta : float or None, default=None
        Background regularity; ``None`` means ``beta = alpha`` as in the paper's code. A different value
        separates the two regularities (the paper's App. C.1, Fig. 17: contour alpha in {1.5, 2, 4},
        backgrounds beta = 8).
    blur : bool, default=True
        Blur the binary mask with a 2x2 box ("blurredx2"), giving edges about 2 pixels wide.
    supersample : int, default=1
        Draw at ``supersample`` times the size and average blocks down (anti-aliasing); 1 is off.
    random_state : int, RandomState, Generator or None, default=None
        Seed; image ``i`` depends only on the seed and ``i``.
    return_X_y : bool, default=False
        Return ``(data, contours)`` instead of the Bunch: the images and their latent contours.

    Returns
    -------
    Bunch
        ``data`` (n, H*W) float32 in [0, 1]; ``images`` (n, H, W) view of ``data``; ``image_shape``
        ``(H, W)``; ``contours`` (n, W * supersample) float64, the contour row in output pixels before
        rounding and clipping (may leave ``[0, H]``); ``intensity_ranges`` (n, 2, 2), ``[lo, hi]`` of the
        region below then above the contour; ``alpha``, ``beta``.
    (data, contours) : tuple of ndarray
        Only with ``return_X_y=True``.

    See Also
    --------
    gahb.experiments.optimality.c_alpha_optimality : The paper's PSNR-slope study on these images.
    make_disks : A low-dimensional manifold, the opposite case.

    Examples
    --------
    >>> from gahb.datasets import make_c_alpha
    >>> b = make_c_alpha(4, image_size=40, alpha=3.0, random_state=0)
    >>> b.data.shape, b.images.shape, b.contours.shape
    ((4, 1600), (4, 40, 40), (4, 40))
    """
    n, s = int(n_samples), int(supersample)
    H, W = check_size(image_size, minimum=2)
    alpha = float(alpha)
    beta = alpha if beta is None else float(beta)
    rng = check_rng(random_state)
    Hs, Ws = H * s, W * s
    f1, f2 = _c_alpha_filters(Hs, Ws, alpha, beta)
    m = Ws + 2 * Hs * Ws + 3
    images = np.empty((n, H, W), dtype=np.float32)
    contours = np.empty((n, Ws))
    ranges = np.empty((n, 2, 2))
    for a, b in _chunks(n, m):
        img, rows, rg = _c_alpha_chunk(rng.random((b - a, m)), Hs, Ws, s, f1, f2, bool(blur))
        images[a:b] = box_reduce(img, s)
        contours[a:b], ranges[a:b] = rows, rg
    bunch = image_bunch(images, generated=True, contours=contours, intensity_ranges=ranges, alpha=alpha, beta=beta)
    return bunch_or_X_y(bunch, return_X_y, "contours")


# --------------------------------------------------------------------------- disks


def _smoothstep(t):
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t), 6.0 * t * (1.0 - t)


def _check_params(params):
    P = np.asarray(params, dtype=np.float64)
    if P.ndim == 1:
        P = P[None, :]
    if P.ndim != 2 or P.shape[1] != 5:
        raise ValueError(f"params must have shape (n, 5) (centre row, centre col, radius, fg, bg); got {np.shape(params)}.")
    if not np.all(np.isfinite(P)):
        raise ValueError("params must be finite.")
    if np.any(P[:, 2] <= 0):
        raise ValueError("disk radii (params[:, 2]) must be positive.")
    return P


def _disk_coverage(P, H, W, s, grad):
    """Mean smooth coverage of each pixel's ``s x s`` sub-samples, and its derivative w.r.t. (cy, cx, r).

    A sub-sample at distance ``d`` from the centre is covered ``smoothstep(0.5 + (r - d) / w)`` with
    ``w = 1/s`` (one sub-pixel), a C^1 stand-in for the hard indicator whose pixel sum equals
    ``pi r^2`` up to ``O(w^2)``; only pixels whose sub-samples straddle the edge are evaluated.
    """
    n = P.shape[0]
    w = 1.0 / s
    cy, cx, r = P[:, 0, None, None], P[:, 1, None, None], P[:, 2, None, None]
    yc = np.arange(H)[None, :, None] + 0.5
    xc = np.arange(W)[None, None, :] + 0.5
    dpix = np.sqrt((yc - cy) ** 2 + (xc - cx) ** 2)
    half_diag = np.sqrt(2.0) * 0.5 * (1.0 - w)
    cov = (dpix + half_diag <= r - 0.5 * w).astype(np.float64)
    g = np.zeros((n, 3, H, W)) if grad else None
    band = (dpix - half_diag < r + 0.5 * w) & (cov == 0)
    k, i, j = np.nonzero(band)
    if k.size:
        off = (np.arange(s) + 0.5) * w - 0.5
        ys = (i + 0.5)[:, None, None] + off[None, :, None]
        xs = (j + 0.5)[:, None, None] + off[None, None, :]
        dy = ys - P[k, 0][:, None, None]
        dx = xs - P[k, 1][:, None, None]
        d = np.sqrt(dy**2 + dx**2)
        val, slope = _smoothstep(0.5 + (P[k, 2][:, None, None] - d) / w)
        cov[k, i, j] = val.mean(axis=(1, 2))
        if grad:
            dd = np.maximum(d, 1e-12)
            g[k, 0, i, j] = (slope * dy / dd).mean(axis=(1, 2)) / w
            g[k, 1, i, j] = (slope * dx / dd).mean(axis=(1, 2)) / w
            g[k, 2, i, j] = slope.mean(axis=(1, 2)) / w
    return cov, g


_DISK_ARGS = {"params": ["array-like"], "image_size": size_constraint(), "supersample": POSITIVE_INT}


@validate_params(_DISK_ARGS, prefer_skip_nested_validation=True)
def render_disks(params, image_size=32, supersample=4):
    """The renderer behind :func:`make_disks`: ``bg + (fg - bg) * coverage`` for given parameters.

    Parameters
    ----------
    params : array-like of shape (n, 5) or (5,)
        Centre row, centre column, radius (pixels; pixel ``(i, j)`` covers ``[i, i+1) x [j, j+1)``),
        foreground and background intensity.
    image_size : int or (int, int), default=32
        ``(H, W)``.
    supersample : int, default=4
        Sub-samples per pixel side; the edge is smoothed over one sub-pixel.

    Returns
    -------
    ndarray of shape (n, H*W), float64
        Image rows (a smooth function of ``params``).

    See Also
    --------
    make_disks : Draws random parameters and renders them.
    disk_tangents : The derivatives of this renderer.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.datasets import render_disks
    >>> img = render_disks([[16.0, 16.0, 5.0, 1.0, 0.0]], 32)  # a white disk of radius 5 on black
    >>> bool(abs(img.sum() - np.pi * 5**2) < 0.2)  # area within anti-aliasing error
    True
    """
    P = _check_params(params)
    H, W = check_size(image_size)
    cov, _ = _disk_coverage(P, H, W, int(supersample), grad=False)
    fg, bg = P[:, 3, None, None], P[:, 4, None, None]
    return (bg + (fg - bg) * cov).reshape(P.shape[0], -1)


@validate_params(_DISK_ARGS, prefer_skip_nested_validation=True)
def disk_tangents(params, image_size=32, supersample=4):
    """Tangent vectors of the 5-D disk manifold: derivatives of :func:`render_disks` w.r.t. each parameter.

    Parameters
    ----------
    params : array-like of shape (n, 5) or (5,)
        As returned by :func:`make_disks` (centre row, centre col, radius, foreground, background).
    image_size : int or (int, int), default=32
        ``(H, W)``, as given to :func:`make_disks`.
    supersample : int, default=4
        As given to :func:`make_disks`.

    Returns
    -------
    ndarray of shape (n, 5, H*W), float64
        ``T[i, p]`` is ``d image_i / d params[i, p]`` (per pixel, per unit of the parameter); the span
        of ``T[i]`` is the manifold's tangent space at image ``i`` (orthonormalise it with a QR).

    See Also
    --------
    render_disks : The renderer differentiated here.
    gahb.experiments.optimality.disk_optimality : Compares the Jacobian's top eigenvectors with this tangent space.

    Examples
    --------
    >>> from gahb.datasets import make_disks, disk_tangents
    >>> b = make_disks(3, image_size=24, random_state=0)
    >>> disk_tangents(b.params, 24).shape
    (3, 5, 576)
    """
    P = _check_params(params)
    H, W = check_size(image_size)
    cov, g = _disk_coverage(P, H, W, int(supersample), grad=True)
    contrast = (P[:, 3] - P[:, 4])[:, None, None, None]
    T = np.empty((P.shape[0], 5, H, W))
    T[:, :3] = contrast * g
    T[:, 3] = cov
    T[:, 4] = 1.0 - cov
    return T.reshape(P.shape[0], 5, H * W)


@validate_params({"n_samples": POSITIVE_INT, "image_size": size_constraint(4), "supersample": POSITIVE_INT,
                  "random_state": RANDOM_STATE, "radius_range": ["array-like", None], "return_X_y": ["boolean"]},
                 prefer_skip_nested_validation=True)
def make_disks(n_samples=100, image_size=32, supersample=4, random_state=None, *, radius_range=None,
               return_X_y=False):
    """Anti-aliased disks: a 5-D curved manifold (centre row, centre col, radius, foreground, background).

    Follows the paper code's ``circle_dataset`` with translation, scaling and random intensities on
    (paper Fig. 5, App. C.2): radius ``~ U(3, (S - 3) // 2)`` with ``S = min(H, W)``, centre ``~ U(r, H - r)`` x
    ``U(r, W - r)`` (the disk stays inside the image), foreground and background ``~ U(0, 1)``. The
    edge is anti-aliased by ``supersample x supersample`` sub-samples per pixel with a smooth one
    sub-pixel ramp (instead of the code's db2 wavelet downsampling) so that :func:`disk_tangents`, the
    exact derivative of the renderer, exists.

    Parameters
    ----------
    n_samples : int, default=100
        Number of images.
    image_size : int or (int, int), default=32
        ``(H, W)``; the paper uses 80.
    supersample : int, default=4
        Sub-samples per pixel side.
    random_state : int, RandomState, Generator or None, default=None
        Seed; image ``i`` depends only on the seed and ``i``.
    radius_range : (float, float) or None, default=None
        Range of the uniform radius in pixels. ``None``: ``(3, (S - 3) // 2)``, or for ``S < 12``
        ``(S / 8, max((S - 3) // 2, S / 4))``.
    return_X_y : bool, default=False
        Return ``(data, params)`` instead of the Bunch.

    Returns
    -------
    Bunch
        ``data`` (n, H*W) float32 in [0, 1], ``images`` (n, H, W), ``image_shape``, ``params`` (n, 5)
        float64: centre row and column (pixels from the top-left image corner), radius (pixels),
        foreground and background intensity, plus ``supersample``.
    (data, params) : tuple of ndarray
        Only with ``return_X_y=True``.

    See Also
    --------
    render_disks : Images of given parameters.
    disk_tangents : The tangent space of the disk manifold.

    Examples
    --------
    >>> from gahb.datasets import make_disks
    >>> b = make_disks(5, image_size=32, random_state=0)
    >>> b.params.shape, b.images.shape
    ((5, 5), (5, 32, 32))
    """
    n, s = int(n_samples), int(supersample)
    H, W = check_size(image_size, minimum=4)
    S = min(H, W)
    if radius_range is None:
        radius_range = (3.0, (S - 3) // 2) if S >= 12 else (S / 8, max((S - 3) // 2, S / 4))
    r_lo, r_hi = check_range(radius_range, "radius_range", low=0.0, high=S / 2)
    if r_lo <= 0:
        raise ValueError(f"radius_range must start above 0; got {radius_range!r}.")
    u = check_rng(random_state).random((n, 5))
    r = r_lo + (r_hi - r_lo) * u[:, 0]
    P = np.stack([r + (H - 2 * r) * u[:, 1], r + (W - 2 * r) * u[:, 2], r, u[:, 3], u[:, 4]], axis=1)
    images = np.empty((n, H, W), dtype=np.float32)
    for a, b in _chunks(n, H * W * 8):
        images[a:b] = render_disks(P[a:b], (H, W), s).reshape(-1, H, W)
    return bunch_or_X_y(image_bunch(images, generated=True, params=P, supersample=s), return_X_y, "params")


# --------------------------------------------------------------------------- sines and rays


@validate_params({"n_samples": POSITIVE_INT, "image_size": size_constraint(2), "random_state": RANDOM_STATE,
                  "frequency": ["array-like"], "return_X_y": ["boolean"]},
                 prefer_skip_nested_validation=True)
def make_sines(n_samples=100, image_size=32, random_state=None, *, frequency=(0, 1), return_X_y=False):
    """Unit-frequency 2-D sinusoids with random amplitude and phase: a 2-D cone (paper Fig. 20, App. C.2).

    ``x[i, j] = a * (1 + sin(2 pi (fy i / H + fx j / W) + phi)) / 2`` with ``a ~ U(0, 1)`` and
    ``phi ~ U(0, 2 pi)``, so every image lies in [0, 1] and any positive rescaling of an image with
    ``a <= 1`` is again in the set (a cone over a circle). The paper gives neither the size nor the
    orientation; the default is one vertical-stripe cycle across the width.

    Parameters
    ----------
    n_samples : int, default=100
        Number of images.
    image_size : int or (int, int), default=32
        ``(H, W)``.
    random_state : int, RandomState, Generator or None, default=None
        Seed; image ``i`` depends only on the seed and ``i``.
    frequency : (int, int), default=(0, 1)
        Whole cycles per image along rows and columns (integers, so the image is periodic).
    return_X_y : bool, default=False
        Return ``(data, params)`` instead of the Bunch.

    Returns
    -------
    Bunch
        ``data`` (n, H*W) float32, ``images`` (n, H, W), ``image_shape``, ``params`` (n, 2): amplitude
        and phase (radians).
    (data, params) : tuple of ndarray
        Only with ``return_X_y=True``.

    See Also
    --------
    make_ray : Another low-dimensional cone: rescalings of one image.

    Examples
    --------
    >>> from gahb.datasets import make_sines
    >>> make_sines(3, 16, random_state=0).images.shape
    (3, 16, 16)
    """
    n = int(n_samples)
    H, W = check_size(image_size, minimum=2)
    if len(frequency) != 2:
        raise ValueError(f"frequency must be a pair of integers (fy, fx); got {frequency!r}.")
    fy, fx = (check_int(f, "frequency", minimum=0) for f in frequency)
    if fy == 0 and fx == 0:
        raise ValueError("frequency must not be (0, 0).")
    u = check_rng(random_state).random((n, 2))
    amp, phase = u[:, 0], 2.0 * np.pi * u[:, 1]
    arg = 2.0 * np.pi * (fy * np.arange(H)[:, None] / H + fx * np.arange(W)[None, :] / W)
    images = amp[:, None, None] * 0.5 * (1.0 + np.sin(arg[None] + phase[:, None, None]))
    return bunch_or_X_y(image_bunch(images, generated=True, params=np.stack([amp, phase], axis=1)), return_X_y, "params")


@validate_params({"image": ["array-like"], "n_samples": POSITIVE_INT, "scale_range": ["array-like"],
                  "random_state": RANDOM_STATE, "return_X_y": ["boolean"]},
                 prefer_skip_nested_validation=True)
def make_ray(image, n_samples=100, scale_range=(0.0, 1.0), random_state=None, *, return_X_y=False):
    """Positive rescalings ``s * image`` of one image: a ray, a 1-D manifold (paper Fig. 19, App. C.2).

    The paper's code multiplies each clean sample by ``s ~ U(0, 1)``; ``scale_range`` changes the interval.

    Parameters
    ----------
    image : array-like of shape (H, W) or (C, H, W)
        One image with values in [0, 1].
    n_samples : int, default=100
        Number of rescaled copies.
    scale_range : (float, float), default=(0.0, 1.0)
        Uniform range of the scale ``s``; must be ``>= 0`` and keep ``s * image`` within [0, 1].
    random_state : int, RandomState, Generator or None, default=None
        Seed; copy ``i`` depends only on the seed and ``i``.
    return_X_y : bool, default=False
        Return ``(data, scales)`` instead of the Bunch.

    Returns
    -------
    Bunch
        ``data`` (n, n_pixels) float32, ``images`` (n, *image.shape), ``image_shape``, ``scales`` (n,).
    (data, scales) : tuple of ndarray
        Only with ``return_X_y=True``.

    See Also
    --------
    make_sines : A 2-D cone of sinusoids.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.datasets import make_ray
    >>> b = make_ray(np.full((4, 4), 0.5), 3, random_state=0)
    >>> bool(np.allclose(b.images[:, 0, 0], 0.5 * b.scales))
    True
    """
    x = np.asarray(image, dtype=np.float64)
    if x.ndim not in (2, 3):
        raise ValueError(f"image must have shape (H, W) or (C, H, W); got {x.shape}.")
    if not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
        raise ValueError("image values must be finite and within [0, 1].")
    n = int(n_samples)
    lo, hi = check_range(scale_range, "scale_range", low=0.0)
    if hi * x.max() > 1.0:
        raise ValueError(f"scale_range upper bound {hi} takes the image above 1 (max pixel {x.max():.3g}).")
    scales = lo + (hi - lo) * check_rng(random_state).random(n)
    return bunch_or_X_y(image_bunch(scales.reshape((n,) + (1,) * x.ndim) * x[None], scales=scales), return_X_y, "scales")
