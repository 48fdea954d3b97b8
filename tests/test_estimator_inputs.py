"""Image-shaped inputs, MemorizingDenoiser's shared sampler, TrainingSubset delegation, the exceptions module."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from gahb import DiffusionDenoiser, JacobianEigenbasis, MemorizingDenoiser, TrainingSubset
from gahb.core.operators import BlockAverage
from gahb.exceptions import SampleDivergenceWarning

TINY = dict(width=4, n_blocks=2, max_iter=10, batch_size=8, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).uniform(size=(24, 64))


@pytest.mark.parametrize("shape, image_shape", [((8, 8), None), ((8, 8), (8, 8)), ((1, 8, 8), (1, 8, 8)),
                                                ((1, 8, 8), (8, 8)), ((1, 8, 8), None)])
def test_images_in_rows_out_same_model(X, shape, image_shape):
    """(n, H, W) and (n, C, H, W) give the model that rows with image_shape give; outputs stay rows."""
    rows = DiffusionDenoiser(image_shape=(8, 8), **TINY).fit(X)
    imgs = X.reshape((-1,) + shape)
    copy = imgs.copy()
    den = DiffusionDenoiser(image_shape=image_shape, **TINY).fit(imgs)
    np.testing.assert_array_equal(imgs, copy)  # the input is untouched
    assert den.image_shape_ == (1, 8, 8) and den.n_features_in_ == 64
    out = den.transform(imgs)
    assert out.shape == (24, 64)
    np.testing.assert_array_equal(out, rows.transform(X))
    np.testing.assert_array_equal(den.transform(X), out)
    assert den.score(imgs) == rows.score(X)


def test_multichannel_images_and_disagreeing_shapes(X):
    imgs = X.reshape(24, 4, 4, 4)
    den = DiffusionDenoiser(**TINY).fit(imgs)
    assert den.image_shape_ == (4, 4, 4) and den.transform(imgs).shape == (24, 64)
    with pytest.raises(ValueError, match=r"images of shape \(4, 4, 4\) .* image_shape is \(8, 8\)"):
        DiffusionDenoiser(image_shape=(8, 8), **TINY).fit(imgs)
    with pytest.raises(ValueError, match=r"images of shape \(1, 8, 8\) .* image_shape is \(4, 4, 4\)"):
        den.transform(X.reshape(24, 8, 8))
    with pytest.raises(ValueError, match="dim 5"):
        den.transform(imgs[:, None])
    with pytest.raises(ValueError, match="features"):
        den.transform(X[:, :32])


def test_memorizing_denoiser_takes_images_and_shares_sample_and_reconstruct(X):
    imgs = X[:6].reshape(6, 8, 8)
    mem = MemorizingDenoiser(beta=1.0, device="cpu").fit(imgs)
    assert mem.image_shape_ == (1, 8, 8) and mem.n_features_in_ == 64
    np.testing.assert_allclose(mem.transform(imgs + 0.01), X[:6], atol=0.02)
    S, info = mem.sample(4, random_state=3, return_info=True)
    assert mem.sample_info_ is info and info["random_state"] == 3 and info["converged"].all()
    rms = np.sqrt(((S[:, None] - X[None, :6]) ** 2).mean(-1))
    assert rms.min(axis=1).max() < 0.05  # every sample is a training image
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    assert mem.sample(2, random_state=gens).shape == (2, 64)
    op = BlockAverage((8, 8), 2)
    c = op.measure_rows(imgs[:2])
    R = mem.reconstruct(c, op, random_state=0)
    np.testing.assert_allclose(op.measure_rows(R), c, atol=1e-5)
    mem.denoiser_ = lambda y: 3 * y  # runs away, as in the trained model's tests
    with pytest.warns(SampleDivergenceWarning):
        mem.sample(1, random_state=0)
    with pytest.raises(ValueError, match="sigma_final"):
        MemorizingDenoiser(sigma_final=2.0).fit(X)


def test_training_subset_delegates(X):
    ts = TrainingSubset(MemorizingDenoiser(device="cpu"), n_train=5).fit(X.reshape(24, 8, 8))
    assert ts.n_train_ == 5 and ts.n_features_in_ == 64 and ts.estimator_.image_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(ts.estimator_.denoiser_.X_train.numpy(), X[:5])
    assert ts.sample(2, random_state=0).shape == (2, 64)
    eb = TrainingSubset(JacobianEigenbasis(lambda y: 0.5 * y, image_shape=(8, 8)))
    assert not hasattr(eb, "sample") and not hasattr(eb, "score") and hasattr(eb, "transform")
    with pytest.raises(ValueError, match="n_train=30 exceeds the 24 rows"):
        TrainingSubset(MemorizingDenoiser(), n_train=30).fit(X)
    with pytest.raises(ValueError, match="'n_train' parameter"):
        TrainingSubset(MemorizingDenoiser(), n_train=0).fit(X)
    with pytest.raises(ValueError, match="'estimator' parameter"):
        TrainingSubset("memorizer").fit(X)
    assert not hasattr(TrainingSubset(MemorizingDenoiser()), "n_features_in_")  # unfitted


def test_measure_rows_takes_images(X):
    op = BlockAverage((8, 8), 2)
    np.testing.assert_array_equal(op.measure_rows(X.reshape(24, 8, 8)), op.measure_rows(X))
    np.testing.assert_array_equal(op.measure_rows(X.reshape(24, 1, 8, 8)), op.measure_rows(X))
    with pytest.raises(ValueError, match="shape"):
        op.measure_rows(X.reshape(24, 4, 16))


def test_exceptions_module_is_light():
    code = "import sys, gahb.exceptions; assert 'torch' not in sys.modules and 'sklearn' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
