"""fit_vectorized: every model equals its own fit (same seed, same draws), split-out models are normal estimators."""

import pickle

import numpy as np
import pytest
import torch

from gahb import DiffusionDenoiser, fit_vectorized

SEEDS = (0, 5, 9)


def _est(seed, **kw):
    params = dict(width=8, n_blocks=2, max_iter=20, batch_size=16, image_shape=(8, 8), device="cpu", beta=1.0,
                  h0=0.05, max_sample_steps=30)
    params.update(kw)
    return DiffusionDenoiser(**params, random_state=seed)


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    Xs = [rng.random((n, 64)).astype(np.float32) for n in (3, 10, 40)]  # each model its own set and size
    single = [_est(s).fit(X) for s, X in zip(SEEDS, Xs)]
    joint = fit_vectorized([_est(s) for s in SEEDS], Xs)
    return Xs, single, joint


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


def test_weights_equal_individual_fits_after_20_steps(fitted):
    _, single, joint = fitted
    for a, b in zip(joint, single):
        sa, sb = a.network_.state_dict(), b.network_.state_dict()
        assert sa.keys() == sb.keys()
        for key in sb:  # conv weights, BN gains and running standard deviations
            assert _rel(sa[key], sb[key]) <= 1e-5, key
        # the loss curves agree too: same batches and noise, so only rounding differs
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)
        assert a.n_iter_ == b.n_iter_ == 20
        np.testing.assert_array_equal(a.train_mean_, b.train_mean_)


def test_models_differ_from_each_other(fitted):
    """Not a trivial pass: the three models really got different seeds and data."""
    _, _, joint = fitted
    w = [m.network_.state_dict()["encoder.0.0.weight"] for m in joint]
    assert _rel(w[0], w[1]) > 0.1 and _rel(w[1], w[2]) > 0.1


def test_split_out_models_sample_like_individual_ones(fitted, tmp_path):
    Xs, single, joint = fitted
    for a, b, X in zip(joint, single, Xs):
        sa, sb = a.sample(6, random_state=3), b.sample(6, random_state=3)
        np.testing.assert_allclose(sa, sb, atol=1e-4, rtol=0)
        np.testing.assert_allclose(a.transform(X[:4]), b.transform(X[:4]), atol=1e-4, rtol=0)
    a = joint[1]
    a.save(tmp_path / "m.safetensors")
    loaded = DiffusionDenoiser.load(tmp_path / "m.safetensors", device="cpu")
    np.testing.assert_array_equal(loaded.sample(4, random_state=1), a.sample(4, random_state=1))
    again = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(again.sample(4, random_state=1), a.sample(4, random_state=1))
    assert again.get_params()["random_state"] == SEEDS[1]


def _no_training(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr("gahb._vectorized.train_stacked", boom)


def test_mixed_architectures_refused_before_training(monkeypatch):
    _no_training(monkeypatch)
    Xs = [np.random.default_rng(0).random((5, 64))] * 2
    with pytest.raises(ValueError, match="width=16 but estimator 0 has width=8"):
        fit_vectorized([_est(0), _est(1, width=16)], Xs)
    with pytest.raises(ValueError, match="architecture='bfcnn'"):
        fit_vectorized([_est(0), _est(1, architecture="bfcnn")], Xs)
    with pytest.raises(ValueError, match="max_iter"):
        fit_vectorized([_est(0), _est(1, max_iter=21)], Xs)
    with pytest.raises(ValueError, match="one training set per estimator"):
        fit_vectorized([_est(0), _est(1)], Xs[:1])
    with pytest.raises(TypeError, match="DiffusionDenoiser"):
        fit_vectorized([_est(0), object()], Xs)
    with pytest.raises(ValueError, match="same image shape"):
        fit_vectorized([_est(0, image_shape=None), _est(1, image_shape=None)],
                       [np.ones((3, 64)), np.ones((3, 16))])
    with pytest.raises(ValueError, match="NaN|infinity"):
        fit_vectorized([_est(0), _est(1)], [Xs[0], np.full((3, 64), np.nan)])


def test_user_data_untouched_and_unfitted_until_fit():
    X = np.random.default_rng(1).random((6, 64))
    copy = X.copy()
    a, b = fit_vectorized([_est(0, max_iter=3), _est(1, max_iter=3)], [X, X])
    np.testing.assert_array_equal(X, copy)
    assert a.network_.training is False and a.device_ == torch.device("cpu")
    assert len(a.loss_curve_) == 1 and np.all(np.isfinite(a.loss_curve_))  # one window of log_every=50


class _TinyNet(torch.nn.Module):
    """A user's own bias-free network (no biases, ReLU): fit_vectorized stacks it like the built-in ones."""

    def __init__(self):
        super().__init__()
        self.a = torch.nn.Conv2d(1, 6, 3, padding=1, bias=False)
        self.b = torch.nn.Conv2d(6, 1, 3, padding=1, bias=False)

    def forward(self, y):
        return self.b(torch.relu(self.a(y)))


@pytest.mark.parametrize("architecture", [_TinyNet, _TinyNet()])
def test_custom_module_architecture(architecture):
    rng = np.random.default_rng(2)
    Xs = [rng.random((n, 64)) for n in (2, 9)]
    single = [_est(s, architecture=architecture).fit(X) for s, X in zip((0, 1), Xs)]
    joint = fit_vectorized([_est(s, architecture=architecture) for s in (0, 1)], Xs)
    for a, b in zip(joint, single):
        for key, w in b.network_.state_dict().items():
            assert _rel(a.network_.state_dict()[key], w) <= 1e-5, key


def test_rescaled_training_draws_like_the_single_fit():
    """rescale="uniform" (paper Fig. 19) draws its factors between sigma and the noise, in both loops."""
    rng = np.random.default_rng(3)
    Xs = [rng.random((n, 64)) for n in (3, 12)]
    kw = dict(rescale="uniform", log_every=7)
    single = [_est(s, **kw).fit(X) for s, X in zip((0, 1), Xs)]
    joint = fit_vectorized([_est(s, **kw) for s in (0, 1)], Xs)
    for a, b in zip(joint, single):
        assert len(a.loss_curve_) == len(b.loss_curve_) == 3  # windows of 7, 7 and 6 steps
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)
        for key, w in b.network_.state_dict().items():
            assert _rel(a.network_.state_dict()[key], w) <= 1e-5, key


@pytest.mark.parametrize("setting", [dict(precision="bf16"), dict(validation_fraction=0.2),
                                     dict(channels_last=True), dict(warm_start=True)])
def test_single_fit_only_settings_refused(setting, monkeypatch):
    _no_training(monkeypatch)
    name = next(iter(setting))
    with pytest.raises(ValueError, match=f"fit_vectorized trains with {name}="):
        fit_vectorized([_est(0, **setting), _est(1, **setting)], [np.ones((4, 64))] * 2)
