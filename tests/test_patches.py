"""patch_nearest_neighbors: a collage of training patches is flagged (rate 1), fresh images are not (rate 0)."""

import numpy as np
import pytest

from gahb.datasets import make_dead_leaves
from gahb.metrics import patch_collage_images, patch_nearest_neighbors


@pytest.fixture(scope="module")
def train():
    return make_dead_leaves(200, image_size=16, random_state=0).data.astype(np.float64)


def _collage(train, n, rng):
    """Images whose four 8 x 8 quadrants come from four different training images."""
    imgs = train.reshape(-1, 16, 16)
    out = np.empty((n, 16, 16))
    for i in range(n):
        src = rng.choice(len(imgs), 4, replace=False)
        for q, (r, c) in enumerate([(0, 0), (0, 8), (8, 0), (8, 8)]):
            out[i, r : r + 8, c : c + 8] = imgs[src[q], r : r + 8, c : c + 8]
    return out.reshape(n, -1)


def test_collage_of_training_patches_has_rate_one(train):
    X = _collage(train, 12, np.random.default_rng(1))
    res = patch_nearest_neighbors(X, train, image_shape=(16, 16), patch_size=8)
    assert res.collage_rate == 1.0 and res.patch_copy_rate == 1.0
    assert np.all(res.n_sources >= 2)
    rebuilt = patch_collage_images(res, train, (16, 16))
    np.testing.assert_allclose(rebuilt[res.informative.all(axis=1)], X[res.informative.all(axis=1)])


def test_fresh_images_have_rate_zero(train):
    for fresh in (make_dead_leaves(212, image_size=16, random_state=0).data[200:],  # same generator, unseen images
                  make_dead_leaves(12, image_size=16, random_state=99).data):  # another seed
        res = patch_nearest_neighbors(fresh, train, image_shape=(16, 16), patch_size=8)
        assert res.collage_rate == 0.0 and res.patch_copy_rate == 0.0


def test_whole_copies_are_single_source_not_collages(train):
    res = patch_nearest_neighbors(train[:5], train, image_shape=(16, 16), patch_size=8, match="any")
    assert res.single_source.all() and not res.collage.any()
    assert res.source[res.copied].tolist() == np.repeat(np.arange(5), 4)[res.copied.ravel()].tolist()


def test_bad_arguments(train):
    with pytest.raises(ValueError, match="image_shape"):
        patch_nearest_neighbors(train[:2], train, image_shape=(8, 8), patch_size=4)
    with pytest.raises(ValueError, match="larger"):
        patch_nearest_neighbors(train[:2], train, image_shape=(16, 16), patch_size=17)
    with pytest.raises(ValueError, match="patch_size"):
        patch_nearest_neighbors(train[:2], train, image_shape=(16, 16), patch_size=1)
