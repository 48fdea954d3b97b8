"""Pixel shuffling, blockwise near-duplicate removal and disjoint splits."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gahb.datasets import disjoint_split, remove_near_duplicates, shuffle_pixels, unshuffle_pixels

# --------------------------------------------------------------------------- shuffle


@given(n=st.integers(1, 6), p=st.integers(1, 50), seed=st.integers(0, 2**31))
def test_shuffle_round_trip_and_fixed_permutation(n, p, seed):
    X = np.random.default_rng(seed).random((n, p))
    X0 = X.copy()
    Xs, perm = shuffle_pixels(X, random_state=seed)
    np.testing.assert_array_equal(X, X0)  # input untouched
    assert sorted(perm.tolist()) == list(range(p))
    np.testing.assert_array_equal(Xs, X[:, perm])
    np.testing.assert_array_equal(unshuffle_pixels(Xs, perm), X)
    Xs2, perm2 = shuffle_pixels(X[::-1], permutation=perm)  # the same permutation on another set
    np.testing.assert_array_equal(perm2, perm)
    np.testing.assert_array_equal(Xs2, Xs[::-1])
    np.testing.assert_array_equal(shuffle_pixels(X, random_state=seed)[1], perm)


def test_shuffle_seeds_differ_and_errors():
    X = np.zeros((2, 100))
    assert not np.array_equal(shuffle_pixels(X, random_state=0)[1], shuffle_pixels(X, random_state=1)[1])
    with pytest.raises(ValueError, match="permutation"):
        shuffle_pixels(X, permutation=np.zeros(100, dtype=int))
    with pytest.raises(ValueError, match="permutation"):
        unshuffle_pixels(X, np.arange(99))
    with pytest.raises(ValueError, match="2-D"):
        shuffle_pixels(np.zeros(5))


# --------------------------------------------------------------------------- near duplicates


def _smooth_images(n, side, rng):
    """Random smooth images (sums of a few low-frequency cosines): distinct but not white noise."""
    i, j = np.mgrid[:side, :side] / side
    out = np.zeros((n, side, side))
    for _ in range(4):
        fy, fx = rng.integers(0, 4, size=(2, n))
        ph = rng.random((2, n)) * 2 * np.pi
        a = rng.standard_normal(n)
        out += a[:, None, None] * np.cos(2 * np.pi * fy[:, None, None] * i + ph[0, :, None, None]) * np.cos(
            2 * np.pi * fx[:, None, None] * j + ph[1, :, None, None]
        )
    return out.reshape(n, -1)


def _dense_reference(X, side, size, threshold):
    f = side // size
    Z = X.reshape(-1, size, f, size, f).mean(axis=(2, 4)).reshape(len(X), -1)
    Z = Z - Z.mean(axis=1, keepdims=True)
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)
    G = np.abs(Z @ Z.T)
    dup = (np.tril(G, k=-1) > threshold).any(axis=1)
    return np.flatnonzero(~dup)


def test_planted_near_duplicates_all_found():
    rng = np.random.default_rng(0)
    X = rng.random((400, 256))  # white noise 16x16: pairwise |corr| ~ 0.06, never near 0.95
    planted = np.sort(rng.choice(np.arange(200, 400), size=40, replace=False))
    sources = rng.integers(0, 200, size=40)
    for t, s in zip(planted, sources):
        base = X[s] if t % 2 else 1.0 - X[s]  # anti-correlated copies count too (|corr|)
        X[t] = np.clip(0.7 * base + 0.1 + 0.02 * rng.standard_normal(256), 0, 1)
    X0 = X.copy()
    keep, n_dropped = remove_near_duplicates(X, (16, 16), threshold=0.95, block_size=64)
    np.testing.assert_array_equal(X, X0)
    assert n_dropped == 40
    np.testing.assert_array_equal(np.setdiff1d(np.arange(400), keep), planted)


@given(block_size=st.integers(1, 300), threshold=st.sampled_from([0.5, 0.8, 0.95]), seed=st.integers(0, 1000))
def test_blockwise_equals_dense(block_size, threshold, seed):
    rng = np.random.default_rng(seed)
    X = _smooth_images(150, 16, rng)  # few distinct frequency patterns: many correlated pairs
    X /= X.std(axis=1, keepdims=True)
    for t in range(75, 150):  # noisy copies of earlier images (or copies): chains, |corr| around 0.95
        X[t] = X[rng.integers(0, t)] + rng.uniform(0, 0.6) * rng.standard_normal(256)
    keep, n_dropped = remove_near_duplicates(X, (16, 16), threshold=threshold, size=8, block_size=block_size)
    ref = _dense_reference(X, 16, 8, threshold)
    np.testing.assert_array_equal(keep, ref)
    assert n_dropped == 150 - len(ref)


def test_pooling_to_size_and_channels():
    rng = np.random.default_rng(1)
    X = _smooth_images(90, 40, rng).reshape(30, 3 * 40 * 40)
    X /= X.std(axis=1, keepdims=True)
    # white noise of half the signal's std: corr 0.89 at full size, 0.97 after 2x2 pooling
    X[29] = X[3] + 0.5 * rng.standard_normal(X.shape[1])
    keep, n = remove_near_duplicates(X, (3, 40, 40), threshold=0.95, size=20)
    assert n == 1 and 29 not in keep
    keep_full, n_full = remove_near_duplicates(X, (3, 40, 40), threshold=0.95, size=None)
    assert n_full == 0  # unpooled, the same noise hides the copy


def test_flat_images_never_dropped_and_errors():
    X = np.zeros((4, 64))
    X[2] = 0.5
    X[3] = np.linspace(0, 1, 64)
    keep, n = remove_near_duplicates(X, (8, 8))
    assert n == 0 and keep.tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="threshold"):
        remove_near_duplicates(X, (8, 8), threshold=1.5)
    with pytest.raises(ValueError, match="pixels"):
        remove_near_duplicates(X, (8, 9))
    with pytest.raises(ValueError, match="block_size"):
        remove_near_duplicates(X, (8, 8), block_size=0)


def test_dedup_memory_is_blockwise():
    n, side, bs = 6000, 8, 512
    X = np.random.default_rng(2).random((n, side * side)).astype(np.float32)
    tracemalloc.start()
    try:
        remove_near_duplicates(X, (side, side), size=None, block_size=bs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    dense = 4 * n * n  # one float32 N x N matrix: 144 MB
    assert peak < dense / 8, (peak, dense)


@pytest.mark.slow
def test_dedup_memory_at_fifty_thousand_images():
    n, side = 50_000, 20
    X = np.random.default_rng(3).random((n, side * side), dtype=np.float32)
    X[n - 1] = X[0]
    tracemalloc.start()
    try:
        keep, dropped = remove_near_duplicates(X, (side, side), block_size=4096)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert dropped == 1 and keep[-1] == n - 2
    assert peak < 0.05 * 4 * n * n  # the dense float32 matrix would be 9.3 GiB


# --------------------------------------------------------------------------- disjoint split


@given(M=st.integers(2, 60), seed=st.integers(0, 2**31), shuffle=st.booleans(), data=st.data())
def test_disjoint_split(M, seed, shuffle, data):
    n = data.draw(st.integers(1, M // 2))
    X = np.arange(M * 2, dtype=float).reshape(M, 2)
    X0 = X.copy()
    ia, ib = disjoint_split(X, n, shuffle=shuffle, random_state=seed, return_indices=True)
    assert len(ia) == len(ib) == n and not set(ia) & set(ib)
    Xa, Xb = disjoint_split(X, n, shuffle=shuffle, random_state=seed)
    np.testing.assert_array_equal(Xa, X[ia])
    np.testing.assert_array_equal(Xb, X[ib])
    np.testing.assert_array_equal(X, X0)
    # nested across n for a fixed seed
    ia1, ib1 = disjoint_split(X, 1, shuffle=shuffle, random_state=seed, return_indices=True)
    assert set(ia1) <= set(ia) and set(ib1) <= set(ib)
    if not shuffle:
        assert ia.tolist() == list(range(n)) and ib.tolist() == list(range(M - n, M))


def test_disjoint_split_errors_and_seeds():
    X = np.zeros((10, 3))
    with pytest.raises(ValueError, match="2n=12"):
        disjoint_split(X, 6)
    with pytest.raises(ValueError):
        disjoint_split(X, 0)
    a = disjoint_split(X, 5, random_state=0, return_indices=True)[0]
    b = disjoint_split(X, 5, random_state=1, return_indices=True)[0]
    assert not np.array_equal(a, b)
