"""The empirical optimal denoiser: exact posterior mean, and its samples are training images."""

import numpy as np
import pytest
import torch

from gahb import MemorizingDenoiser
from gahb.core.optimal import EmpiricalOptimalDenoiser
from gahb.metrics import memorization_rate, score_generalization


def _dense_posterior_mean(y, X, sigma):
    d2 = ((y[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    logits = -d2 / (2 * sigma[:, None] ** 2)
    w = np.exp(logits - logits.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return w @ X


@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_posterior_mean_matches_dense_softmax(rng, chunk):
    X = rng.random((37, 36))
    y = X[:5] + 0.2 * rng.standard_normal((5, 36))
    sigma = np.array([0.05, 0.2, 0.5, 1.0, 3.0])
    f = EmpiricalOptimalDenoiser(X, (6, 6), chunk_size=chunk)
    out = f(torch.tensor(y, dtype=torch.float64).reshape(5, 1, 6, 6), torch.tensor(sigma))
    np.testing.assert_allclose(out.reshape(5, -1).numpy(), _dense_posterior_mean(y, X, sigma), atol=1e-10)


def test_limits_small_and_large_sigma(rng):
    X = rng.random((20, 16))
    f = EmpiricalOptimalDenoiser(X, (4, 4))
    y = torch.tensor(X[7] + 0.01 * rng.standard_normal(16), dtype=torch.float32).reshape(1, 1, 4, 4)
    np.testing.assert_allclose(f(y, 1e-3).reshape(-1).numpy(), X[7], atol=1e-6)  # -> nearest training image
    np.testing.assert_allclose(f(y, 1e4).reshape(-1).numpy(), X.mean(0), atol=1e-5)  # -> training mean


def test_blind_call_and_requires_sigma(rng):
    X = rng.random((15, 16))
    f = EmpiricalOptimalDenoiser(X, (4, 4))
    assert f.requires_sigma is True
    y = torch.tensor(X[:3] + 0.02 * rng.standard_normal((3, 16)), dtype=torch.float32).reshape(3, 1, 4, 4)
    out = f(y)
    assert out.shape == y.shape and out.dtype == torch.float32
    np.testing.assert_allclose(out.reshape(3, -1).numpy(), X[:3], atol=1e-4)


def test_bad_inputs(rng):
    with pytest.raises(ValueError, match="2-D"):
        EmpiricalOptimalDenoiser(rng.random(16))
    with pytest.raises(ValueError, match="finite"):
        EmpiricalOptimalDenoiser(np.full((2, 4), np.nan))
    f = EmpiricalOptimalDenoiser(rng.random((3, 16)), (4, 4))
    with pytest.raises(ValueError, match="values per image"):
        f(torch.zeros(1, 1, 3, 3), 0.1)
    with pytest.raises(ValueError, match="one value per image"):
        f(torch.zeros(2, 1, 4, 4), torch.tensor([0.1, 0.2, 0.3]))


@pytest.mark.parametrize("beta", [1.0, 0.1])
def test_memorizer_samples_reproduce_training_images(rng, beta):
    """The whole pipeline with a known answer: sampler + exact posterior mean + metrics -> rate 1."""
    X = rng.random((25, 64)).astype(np.float32)
    est = MemorizingDenoiser(image_shape=(8, 8), beta=beta).fit(X)
    samples, info = est.sample(24, random_state=0, return_info=True)
    assert samples.shape == (24, 64) and samples.dtype == np.float32
    assert info["converged"].all() and not info["diverged"].any()
    assert memorization_rate(samples, X, rule="cosine") == 1.0
    assert memorization_rate(samples, X, rule="ratio") == 1.0
    # several distinct training images, not one collapsed mode
    assert len(set(np.argmin(((samples[:, None] - X[None]) ** 2).sum(-1), axis=1).tolist())) >= 5


def test_memorizers_on_disjoint_sets_disagree_same_seed_reproduces(rng):
    X = rng.random((40, 64))
    a = MemorizingDenoiser(image_shape=(8, 8), beta=1.0).fit(X[:20])
    b = MemorizingDenoiser(image_shape=(8, 8), beta=1.0).fit(X[20:])
    np.testing.assert_array_equal(a.sample(8, random_state=3), a.sample(8, random_state=3))
    res = score_generalization(a, b, n_samples=16, random_state=0)
    assert res.median < 0.5  # each copies its own training set: the two models do not agree


def test_memorizer_transform_denoises(rng):
    X = rng.random((30, 64))
    est = MemorizingDenoiser(image_shape=(8, 8)).fit(X)
    noisy = X[:5] + 0.05 * rng.standard_normal((5, 64))
    X0 = noisy.copy()
    out = est.transform(noisy)
    np.testing.assert_array_equal(noisy, X0)
    assert np.mean((out - X[:5]) ** 2) < 0.1 * np.mean((noisy - X[:5]) ** 2)

