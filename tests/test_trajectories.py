"""trajectory_bifurcation: a model never parts from itself; two differently trained models part at a finite step."""

import numpy as np
import pytest

from gahb import DiffusionDenoiser
from gahb.datasets import make_dead_leaves
from gahb.experiments import trajectory_bifurcation


@pytest.fixture(scope="module")
def data():
    return make_dead_leaves(4, image_size=8, random_state=0).data


def _model(X, seed):
    return DiffusionDenoiser(width=8, n_blocks=1, max_iter=100, batch_size=16, image_shape=(8, 8), beta=1.0, h0=0.2,
                             max_sample_steps=30, random_state=seed).fit(X)


def test_identical_models_never_split(data):
    m = _model(data[:1], 0)
    res = trajectory_bifurcation(m, m, n_samples=4, random_state=1)
    assert res.split_steps.tolist() == [-1, -1, -1, -1]
    np.testing.assert_allclose(res.similarity, 1.0, atol=1e-6)
    assert res.summary()["split_fraction"] == 0.0 and res.summary()["split_step_median"] is None


def test_differently_trained_models_split_at_a_finite_step(data):
    # two models trained on different images (N = 1 each): their trajectories part
    a, b = _model(data[:1], 0), _model(data[1:2], 7)
    res = trajectory_bifurcation(a, b, n_samples=4, random_state=1, threshold=0.9)
    s = res.summary()
    assert res.split_fraction >= 0.5 and s["split_step_median"] is not None and np.isfinite(s["split_step_median"])
    assert np.all(res.split_steps <= res.similarity.shape[0] - 1)
    for i, t in enumerate(res.split_steps):  # from the split on, the states stay apart; before it they met
        if t >= 0:
            assert np.all(res.similarity[t:, i] < 0.9) and (t == 0 or res.similarity[t - 1, i] >= 0.9)
        else:
            assert res.similarity[-1, i] >= 0.9


def test_split_is_a_final_parting():
    from gahb.experiments.trajectories import _split_step

    sim = np.array([[0.5, 1.0, 1.0, 0.5], [0.95, 1.0, 0.95, 0.5], [0.95, 0.5, 0.95, 0.5], [0.5, 0.5, 0.95, 0.5]])
    # columns: met, then parted for good at 3; parted at 2; never parted; apart from the start
    assert _split_step(sim, 0.9).tolist() == [3, 2, -1, 0]
