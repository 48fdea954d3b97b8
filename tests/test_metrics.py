"""Metrics with known answers: identical / disjoint sets, chunked == dense, bounds and symmetry."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.distance import cdist

from gahb.metrics import (
    PAPER_SIGMAS,
    cosine_similarity,
    data_baseline,
    effective_memorization,
    memorization_rate,
    nearest_neighbors,
    paired_cosine_similarity,
    psnr_curve,
    psnr_gap,
    score_generalization,
    summarize,
)


def test_paper_sigma_grid():
    inp = -20 * np.log10(PAPER_SIGMAS)
    assert PAPER_SIGMAS.shape == (15,)
    np.testing.assert_allclose(inp[0], 42.13, atol=0.01)
    np.testing.assert_allclose(np.diff(inp), -3.0, atol=1e-9)  # exact 3 dB steps


@pytest.mark.parametrize("rule", ["cosine", "ratio"])
def test_identical_sets_rate_one(rng, rule):
    X = rng.random((30, 49))
    rate, flags = memorization_rate(X, X, rule=rule, return_flags=True)
    assert rate == 1.0 and flags.dtype == bool and flags.all()


@pytest.mark.parametrize("rule", ["cosine", "ratio"])
def test_disjoint_random_sets_rate_zero(rng, rule):
    samples, train = rng.random((40, 144)), rng.random((500, 144))
    assert memorization_rate(samples, train, rule=rule) == 0.0


def test_near_copies_are_flagged_and_others_not(rng):
    train = rng.random((50, 64))
    samples = np.vstack([train[:5] + 0.01 * rng.standard_normal((5, 64)), rng.random((5, 64))])
    for rule in ("cosine", "ratio"):
        rate, flags = memorization_rate(samples, train, rule=rule, return_flags=True)
        assert flags.tolist() == [True] * 5 + [False] * 5
        assert rate == 0.5


def test_brightness_offset_raw_vs_mean_removed(rng):
    X = rng.random((20, 64))
    Y = rng.random((20, 64)) + 3.0  # unrelated images, much brighter
    raw = paired_cosine_similarity(X, Y, remove_mean=False)
    centred = paired_cosine_similarity(X, Y, remove_mean=True)
    assert raw.min() > 0.8  # brightness dominates the raw cosine
    assert np.abs(centred).max() < 0.6
    # the same image under a brightness offset is a perfect match only once the mean is removed
    np.testing.assert_allclose(paired_cosine_similarity(X, X + 0.5, remove_mean=True), 1.0, atol=1e-12)


@pytest.mark.parametrize("chunk", [2, 7, 64, 10_000])
def test_chunked_equals_dense(rng, chunk):
    X, Y = rng.random((23, 36)), rng.random((101, 36))
    idx, sim = nearest_neighbors(X, Y, 4, chunk_size=chunk)
    dense = cosine_similarity(X, Y, remove_mean=True)
    order = np.argsort(-dense, axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(idx, order)
    np.testing.assert_allclose(sim, np.take_along_axis(dense, order, 1), atol=1e-12)
    idx_e, dist = nearest_neighbors(X, Y, 2, metric="euclidean", remove_mean=False, chunk_size=chunk)
    D = cdist(X, Y)
    np.testing.assert_array_equal(idx_e, np.argsort(D, axis=1)[:, :2])
    np.testing.assert_allclose(dist, np.sort(D, axis=1)[:, :2], atol=1e-9)
    rate_c = memorization_rate(X, Y, rule="ratio", threshold=0.9, chunk_size=chunk)
    assert rate_c == memorization_rate(X, Y, rule="ratio", threshold=0.9)


finite_imgs = arrays(np.float64, st.tuples(st.integers(1, 6), st.just(9)),
                     elements=st.floats(-10, 10, allow_nan=False, width=32))


@given(finite_imgs, finite_imgs, st.booleans())
def test_cosine_bounds_and_symmetry(X, Y, remove_mean):
    S = cosine_similarity(X, Y, remove_mean=remove_mean)
    assert S.shape == (X.shape[0], Y.shape[0])
    assert np.all(S <= 1.0) and np.all(S >= -1.0)
    np.testing.assert_allclose(S, cosine_similarity(Y, X, remove_mean=remove_mean).T, atol=1e-12)
    n = min(len(X), len(Y))
    np.testing.assert_allclose(paired_cosine_similarity(X[:n], Y[:n], remove_mean=remove_mean),
                               paired_cosine_similarity(Y[:n], X[:n], remove_mean=remove_mean), atol=1e-12)


@given(finite_imgs, finite_imgs, st.sampled_from(["cosine", "ratio"]), st.floats(0.05, 1.0))
def test_memorization_rate_bounds(samples, train, rule, threshold):
    if rule == "ratio" and len(train) < 2:
        with pytest.raises(ValueError, match="at least 2"):
            memorization_rate(samples, train, rule=rule)
        return
    rate, flags = memorization_rate(samples, train, rule=rule, threshold=threshold, return_flags=True)
    assert 0.0 <= rate <= 1.0
    assert rate == pytest.approx(flags.mean())


def test_cosine_similarity_means_what_scikit_learn_means(rng):
    """Same name, same number: the default is scikit-learn's raw cosine; remove_mean=True is a Pearson correlation."""
    from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

    X, Y = rng.random((7, 30)), rng.random((5, 30))
    np.testing.assert_allclose(cosine_similarity(X, Y), sk_cosine(X, Y), atol=1e-12)
    np.testing.assert_allclose(cosine_similarity(X), sk_cosine(X), atol=1e-12)
    np.testing.assert_allclose(paired_cosine_similarity(X[:5], Y), np.diag(sk_cosine(X[:5], Y)), atol=1e-12)
    np.testing.assert_allclose(cosine_similarity(X, Y, remove_mean=True), np.corrcoef(X, Y)[:7, 7:], atol=1e-12)


@given(finite_imgs, st.floats(0.1, 100))
def test_cosine_scale_invariance(X, scale):
    Y = X[::-1]
    np.testing.assert_allclose(cosine_similarity(X * scale, Y), cosine_similarity(X, Y), atol=1e-9)


def test_nan_is_rejected_not_skipped(rng):
    train = rng.random((10, 16))
    samples = train[:4].copy()
    samples[1] = np.nan
    with pytest.raises(ValueError, match="samples contains NaN or infinity in 1 of 4 rows"):
        memorization_rate(samples, train)
    hidden = train.copy()
    hidden[0, 3] = np.nan  # one NaN pixel used to hide a copy of image 0 (rate 0.0, no error)
    with pytest.raises(ValueError, match="X_train contains NaN"):
        memorization_rate(train[:1], hidden)
    with pytest.raises(ValueError, match="A contains NaN"):
        score_generalization(samples, train[:4])
    assert summarize([np.nan, np.nan])["n_nan"] == 2  # a summary of scores still counts undefined ones


def test_score_generalization_arrays_and_chance(rng):
    A = rng.random((32, 64))
    same = score_generalization(A, A.copy())
    assert same.median == pytest.approx(1.0) and same.q25 == pytest.approx(1.0)
    assert abs(same.chance) < 0.05  # median over A_i vs A_j, j != i (992 pairs of unrelated noise images)
    other = score_generalization(A, rng.random((32, 64)))
    assert abs(other.median) < 0.3
    assert other.q25 <= other.median <= other.q75


def test_data_baseline_subset_is_one(rng):
    X2 = rng.random((40, 25))
    res = data_baseline(X2[[3, 7, 11]], X2)
    np.testing.assert_allclose(res.similarity, 1.0, atol=1e-12)
    np.testing.assert_array_equal(res.index, [3, 7, 11])


def test_psnr_curve_identity_matches_input_psnr(rng):
    X = rng.random((50, 256))
    res = psnr_curve(lambda y: y, X, image_shape=(16, 16), n_images=300, random_state=0)
    # identity denoiser: output PSNR = input PSNR up to the spread of per-image noise energy
    np.testing.assert_allclose(res.output_psnr, res.input_psnr, atol=0.1)
    assert res.output_psnr.shape == (15,)


def test_psnr_curve_is_reproducible(rng):
    X = rng.random((5, 16))
    a = psnr_curve(lambda y: 0.5 * y, X, image_shape=(4, 4), n_images=20, random_state=3).output_psnr
    b = psnr_curve(lambda y: 0.5 * y, X, image_shape=(4, 4), n_images=20, random_state=3).output_psnr
    np.testing.assert_array_equal(a, b)


def test_psnr_gap_and_effective_memorization():
    assert psnr_gap(np.array([30.0, 20.0]), np.array([10.0, 20.0])) == 10.0
    assert effective_memorization([1, 10, 100, 1000], [1.0, 0.95, 0.2, 0.0]) == 10
    assert effective_memorization([1, 10, 100], [1.0, 0.5, 1.0]) == 1  # must hold at every smaller N
    assert effective_memorization([10, 1], [1.0, 0.2], epsilon=0.1) == 0
    assert effective_memorization([1, 10], [1.0, np.nan]) == 1


def test_bad_inputs_raise(rng):
    X = rng.random((5, 16))
    with pytest.raises(ValueError, match="features"):
        memorization_rate(X, rng.random((5, 9)))
    with pytest.raises(ValueError, match="2-D"):
        nearest_neighbors(X[0], X)
    with pytest.raises(ValueError, match="rule"):
        memorization_rate(X, X, rule="l2")
    with pytest.raises(ValueError, match="at least 2"):
        memorization_rate(X, X[:1], rule="ratio")
    with pytest.raises(ValueError, match="n_neighbors"):
        nearest_neighbors(X, X[:2], 3)
    with pytest.raises(ValueError, match="chunk_size"):
        nearest_neighbors(X, X, chunk_size=0)
    with pytest.raises(ValueError, match="same grid"):
        psnr_gap([1.0, 2.0], [1.0])
    with pytest.raises(TypeError):
        memorization_rate(np.array([["a", "b"]]), X)
    import torch

    # two raw networks are neither fitted samplers nor sample arrays: say so, not "dtype object"
    with pytest.raises(TypeError, match="implementing 'sample' or an array-like"):
        score_generalization(torch.nn.Conv2d(1, 1, 3), torch.nn.Conv2d(1, 1, 3))


def test_inputs_not_modified(rng):
    X, Y = rng.random((6, 16)), rng.random((9, 16))
    X0, Y0 = X.copy(), Y.copy()
    memorization_rate(X, Y, rule="ratio")
    nearest_neighbors(X, Y, 2)
    score_generalization(X, Y[:6])
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_ratio_rule_flags_copies_of_duplicated_training_images():
    """A sample copying one of two identical training images is a copy (d1 = d2 = 0), in float32 too."""
    rng = np.random.default_rng(3)
    X = rng.random((6, 4096))
    X[1] = X[0]
    assert memorization_rate(X, X, rule="ratio") == 1.0
    X144 = rng.random((6, 144))
    X144[1] = X144[0]
    assert memorization_rate(X144.astype(np.float32), X144, rule="ratio") == 1.0
    with pytest.raises(ValueError, match="threshold"):
        memorization_rate(X144, X144, threshold="high")
    with pytest.raises(TypeError, match="threshold must be a number, not a bool"):
        memorization_rate(X144, X144, threshold=True)
