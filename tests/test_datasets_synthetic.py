"""Synthetic image classes: shapes, ranges, determinism, latent parameters and regularity."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gahb.datasets import (
    disk_tangents,
    make_c_alpha,
    make_dead_leaves,
    make_disks,
    make_ray,
    make_sines,
    render_disks,
)

RAY_IMAGE = np.linspace(0.1, 0.9, 5 * 7).reshape(5, 7)

# name -> callable(n, size, seed) returning a Bunch
GENERATORS = {
    "c_alpha": lambda n, size, seed: make_c_alpha(n, size, alpha=2.5, random_state=seed),
    "c_alpha_aa": lambda n, size, seed: make_c_alpha(n, size, alpha=1.0, blur=False, supersample=2, random_state=seed),
    "disks": lambda n, size, seed: make_disks(n, size, random_state=seed),
    "sines": lambda n, size, seed: make_sines(n, size, random_state=seed),
    "dead_leaves": lambda n, size, seed: make_dead_leaves(n, size, random_state=seed),
    "ray": lambda n, size, seed: make_ray(RAY_IMAGE, n, random_state=seed),
}
sizes = st.one_of(st.integers(4, 20), st.tuples(st.integers(4, 20), st.integers(4, 20)))


def _hw(name, size):
    if name == "ray":
        return RAY_IMAGE.shape
    return (size, size) if isinstance(size, int) else tuple(size)


@pytest.mark.parametrize("name", sorted(GENERATORS))
@given(n=st.integers(1, 5), size=sizes, seed=st.integers(0, 2**32 - 2))  # scikit-learn seeds: [0, 2**32 - 1]
def test_generator_contract(name, n, size, seed):
    gen = GENERATORS[name]
    b = gen(n, size, seed)
    H, W = _hw(name, size)
    assert b.data.shape == (n, H * W)
    assert b.images.shape == (n, H, W)
    assert b.image_shape == (H, W)
    assert b.data.dtype == np.float32
    assert np.all(np.isfinite(b.data))
    assert b.data.min() >= 0.0 and b.data.max() <= 1.0
    assert np.shares_memory(b.images, b.data)
    again = gen(n, size, seed)
    np.testing.assert_array_equal(b.data, again.data)
    other = gen(n, size, seed + 1)
    assert not np.array_equal(b.data, other.data)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_prefix_stable_and_no_global_rng(name):
    gen = GENERATORS[name]
    state = np.random.get_state()[1].copy()
    small, large = gen(3, 12, 7), gen(8, 12, 7)
    np.testing.assert_array_equal(small.data, large.data[:3])
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("gen", [make_c_alpha, make_disks])
def test_chunked_generation_equals_one_chunk(gen, monkeypatch):
    import gahb.datasets._synthetic as synth

    whole = gen(7, 12, random_state=2)
    monkeypatch.setattr(synth, "_CHUNK_FLOATS", 1)  # one image per chunk
    np.testing.assert_array_equal(gen(7, 12, random_state=2).data, whole.data)


@pytest.mark.parametrize("gen, target", [
    (lambda **kw: make_c_alpha(3, 8, random_state=0, **kw), "contours"),
    (lambda **kw: make_disks(3, 8, random_state=0, **kw), "params"),
    (lambda **kw: make_sines(3, 8, random_state=0, **kw), "params"),
    (lambda **kw: make_ray(RAY_IMAGE, 3, random_state=0, **kw), "scales"),
    (lambda **kw: make_dead_leaves(3, 8, random_state=0, **kw), "n_leaves"),
])
def test_return_X_y(gen, target):
    bunch = gen()
    X, y = gen(return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch[target])
    assert len(y) == len(X) == 3


def test_random_state_objects_accepted():
    a = make_disks(4, 16, random_state=np.random.default_rng(3))
    b = make_disks(4, 16, random_state=np.random.RandomState(3))
    assert a.data.shape == b.data.shape == (4, 256)


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda: make_c_alpha(0), ValueError),
        (lambda: make_c_alpha(2.5), TypeError),
        (lambda: make_c_alpha(2, image_size=(4, 4, 4)), ValueError),
        (lambda: make_c_alpha(2, alpha=-1), ValueError),
        (lambda: make_c_alpha(2, supersample=0), ValueError),
        (lambda: make_disks(2, image_size=3), ValueError),
        (lambda: make_disks(2, radius_range=(0, 3)), ValueError),
        (lambda: make_disks(2, random_state="x"), TypeError),
        (lambda: make_sines(2, frequency=(0, 0)), ValueError),
        (lambda: make_sines(2, frequency=3), ValueError),
        (lambda: make_ray(np.ones(5), 2), ValueError),
        (lambda: make_ray(np.full((3, 3), 2.0), 2), ValueError),
        (lambda: make_ray(np.full((3, 3), 0.8), 2, scale_range=(0, 2)), ValueError),
        (lambda: make_dead_leaves(2, min_leaves=5, max_leaves=3), ValueError),
        (lambda: make_dead_leaves(2, blur=-1), ValueError),
        (lambda: render_disks(np.ones((2, 4)), 8), ValueError),
    ],
)
def test_bad_input_raises(call, exc):
    with pytest.raises(exc):
        call()


# --------------------------------------------------------------------------- disks


@given(
    r=st.floats(2.0, 9.0),
    dy=st.floats(-3.0, 3.0),
    dx=st.floats(-3.0, 3.0),
    s=st.sampled_from([2, 4, 8]),
)
def test_disk_area_and_centre_match_parameters(r, dy, dx, s):
    cy, cx = 16.0 + dy, 16.0 + dx
    img = render_disks([[cy, cx, r, 1.0, 0.0]], 32, supersample=s).reshape(32, 32)
    area = img.sum()
    # Anti-aliasing error is a fraction of a pixel along the perimeter; a 0.1 px radius error is 0.2 pi r.
    assert abs(area - np.pi * r**2) < 0.05 * np.pi * r + 0.05
    yy, xx = np.mgrid[:32, :32] + 0.5
    assert abs((img * yy).sum() / area - cy) < 0.02
    assert abs((img * xx).sum() / area - cx) < 0.02


def test_make_disks_images_are_rendered_params():
    b = make_disks(20, 24, supersample=4, random_state=1)
    P = b.params
    assert P.shape == (20, 5)
    assert np.all((P[:, 2] >= 3) & (P[:, 2] <= (24 - 3) // 2))
    assert np.all((P[:, 0] >= P[:, 2]) & (P[:, 0] <= 24 - P[:, 2]))
    assert np.all((P[:, 3:] >= 0) & (P[:, 3:] <= 1))
    np.testing.assert_allclose(b.data, render_disks(P, 24, 4), atol=1e-6)
    # corners are background, centre pixel is foreground (radius >= 3)
    np.testing.assert_allclose(b.images[:, 0, 0], P[:, 4], atol=1e-6)
    ci, cj = P[:, 0].astype(int), P[:, 1].astype(int)
    np.testing.assert_allclose(b.images[np.arange(20), ci, cj], P[:, 3], atol=1e-6)


@pytest.mark.parametrize("s", [1, 4])
def test_disk_tangents_match_finite_differences(s):
    b = make_disks(6, 20, supersample=s, random_state=5)
    T = disk_tangents(b.params, 20, supersample=s)
    assert T.shape == (6, 5, 400)
    eps = 1e-5
    for p in range(5):
        dp = np.zeros(5)
        dp[p] = eps
        fd = (render_disks(b.params + dp, 20, s) - render_disks(b.params - dp, 20, s)) / (2 * eps)
        err = np.linalg.norm(T[:, p] - fd, axis=1)
        ref = np.linalg.norm(fd, axis=1)
        assert np.all(err <= 1e-4 * ref + 1e-8), (p, err / ref)
    # geometric tangents are non-trivial and the five span a 5-D space
    assert np.all(np.linalg.matrix_rank(T, tol=1e-6) == 5)


# --------------------------------------------------------------------------- C^alpha


def test_c_alpha_mask_follows_clipped_contour():
    b = make_c_alpha(40, (24, 18), alpha=1.0, blur=False, random_state=3)
    H = 24
    rows = np.clip(np.round(b.contours - H // 2) + H // 2, 0, H)  # continuous contour -> integer row
    for img, r, rg in zip(b.images, rows, b.intensity_ranges):
        below = np.arange(H)[:, None] >= r[None, :]
        (lo_b, hi_b), (lo_a, hi_a) = rg
        assert np.all(img[below] >= lo_b - 1e-6) and np.all(img[below] <= hi_b + 1e-6)
        assert np.all(img[~below] >= lo_a - 1e-6) and np.all(img[~below] <= hi_a + 1e-6)
    # clipping in action: some alpha = 1 contours leave the 24 rows, and those columns are one region
    assert np.any((rows == 0) | (rows == H))


def _blurred_mask(r, H, W):
    """2x2 box of the binary mask over rows i-1, i and columns j-1, j; index -1 reflects to 1."""
    M = (np.arange(H)[:, None] >= r[None, :]).astype(float)
    out = np.empty((H, W))
    for i in range(H):
        for j in range(W):
            ii, jj = [abs(i - 1), i], [abs(j - 1), j]
            out[i, j] = M[np.ix_(ii, jj)].mean()
    return M, out


def test_c_alpha_blur_is_2x2_box_of_mask():
    H = W = 16
    sharp = make_c_alpha(5, H, alpha=2.0, blur=False, random_state=0)
    soft = make_c_alpha(5, H, alpha=2.0, blur=True, random_state=0)
    np.testing.assert_array_equal(sharp.contours, soft.contours)
    rows = np.clip(np.round(sharp.contours - H // 2) + H // 2, 0, H)
    for x0, x1, r in zip(sharp.images, soft.images, rows):
        M, Mb = _blurred_mask(r, H, W)
        same = Mb == M
        np.testing.assert_allclose(x1[same], x0[same], atol=1e-6)
        assert (~same).any() and np.all(np.abs(x1 - x0)[~same] > 0)


def _spectral_slope(curves):
    n = curves.shape[1]
    P = (np.abs(np.fft.rfft(curves - curves.mean(1, keepdims=True), axis=1)) ** 2).mean(0)
    k = np.arange(2, n // 4)
    return np.polyfit(np.log(k), np.log(P[k]), 1)[0]


@pytest.mark.parametrize("alpha", [1.0, 2.0, 3.0])
def test_c_alpha_contour_spectrum_decays_as_k_to_minus_2alpha(alpha):
    b = make_c_alpha(300, (16, 128), alpha=alpha, random_state=0)
    assert abs(_spectral_slope(b.contours) + 2 * alpha) < 0.3


def _high_frequency_fraction(images, cutoff):
    x = images - images.mean(axis=(1, 2), keepdims=True)
    F = np.abs(np.fft.fft2(x)) ** 2
    H, W = images.shape[1:]
    k = np.hypot(np.fft.fftfreq(H)[:, None] * H, np.fft.fftfreq(W)[None, :] * W)
    return float(F[:, k > cutoff].sum() / F.sum())


def test_c_alpha_images_more_regular_for_larger_alpha():
    fractions = [
        _high_frequency_fraction(make_c_alpha(150, 32, alpha=a, blur=False, random_state=1).images, 4)
        for a in (0.5, 1.0, 2.0, 4.0)
    ]
    # a generator ignoring alpha would give equal fractions; above alpha ~ 2 the edge itself dominates
    assert fractions[0] > 1.3 * fractions[1] > 1.3**2 * fractions[2], fractions
    assert fractions[2] > 1.05 * fractions[3], fractions


def test_c_alpha_edges_seen_in_images_follow_alpha():
    """Image-level check, no latents used: the row of each column's largest vertical jump traces the contour."""
    tv = []
    for a in (1.0, 2.0, 3.0):
        b = make_c_alpha(200, 64, alpha=a, beta=6.0, blur=False, random_state=0)  # smooth backgrounds
        edge = np.abs(np.diff(b.images.astype(np.float64), axis=1)).argmax(axis=1) + 1
        latent = np.clip(np.round(b.contours - 32) + 32, 0, 64)
        assert np.mean(edge == latent) > 0.95  # the latent contour is where the image's edge is
        tv.append(np.abs(np.diff(edge, axis=1)).mean())
    assert tv[0] > 2.0 * tv[1] and tv[1] > 1.05 * tv[2], tv


def test_c_alpha_beta_controls_backgrounds_only():
    a = make_c_alpha(5, 16, alpha=2.0, beta=2.0, random_state=4)
    b = make_c_alpha(5, 16, alpha=2.0, beta=6.0, random_state=4)
    np.testing.assert_array_equal(a.contours, b.contours)
    assert not np.allclose(a.data, b.data)
    assert b.beta == 6.0 and a.beta == a.alpha == 2.0


# --------------------------------------------------------------------------- sines, rays, dead leaves


def test_sines_are_a_cone_in_a_three_dimensional_span():
    b = make_sines(50, (10, 12), frequency=(1, 2), random_state=0)
    s = np.linalg.svd(b.data.astype(np.float64), compute_uv=False)
    assert s[2] > 1e-2 * s[0] and s[3] < 1e-5 * s[0]
    amp, phase = b.params.T
    i, j = np.mgrid[:10, :12]
    expect = amp[:, None, None] * 0.5 * (1 + np.sin(2 * np.pi * (i / 10 + 2 * j / 12) + phase[:, None, None]))
    np.testing.assert_allclose(b.images, expect, atol=1e-6)


def test_ray_is_positive_rescaling():
    img = np.random.default_rng(0).random((2, 4, 5)) * 0.5
    b = make_ray(img, 30, scale_range=(0.5, 2.0), random_state=0)
    assert b.images.shape == (30, 2, 4, 5) and b.image_shape == (2, 4, 5)
    assert np.all((b.scales >= 0.5) & (b.scales <= 2.0))
    np.testing.assert_allclose(b.images, b.scales[:, None, None, None] * img[None], rtol=1e-6)
    assert np.linalg.matrix_rank(b.data.astype(np.float64), tol=1e-4) == 1


def test_dead_leaves_structure():
    b = make_dead_leaves(400, 12, random_state=0)
    assert np.all((b.n_leaves >= 3) & (b.n_leaves <= 8))
    assert set(np.unique(b.n_leaves)) == set(range(3, 9))
    assert np.median(b.data.std(axis=1)) > 0.05  # occlusion edges, not flat images
    sharp = make_dead_leaves(50, 12, blur=0, random_state=0)
    blurred = make_dead_leaves(50, 12, blur=1.5, random_state=0)
    assert np.abs(np.diff(blurred.images, axis=2)).mean() < np.abs(np.diff(sharp.images, axis=2)).mean()
