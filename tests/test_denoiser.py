"""DiffusionDenoiser: learning, determinism, dtypes, input validation, persistence, interruption."""

import pickle
import signal
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from _helpers import ctrl_c_at_step, smooth_images
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import gahb._training as training_module
from gahb import DiffusionDenoiser
from gahb._utils import psnr

TINY = dict(width=4, n_blocks=2, max_iter=15, batch_size=8, image_shape=(8, 8), random_state=0, device="cpu")


@pytest.fixture(scope="module")
def X64():
    return np.random.default_rng(0).uniform(size=(24, 64))


@pytest.fixture(scope="module")
def fitted(X64):
    return DiffusionDenoiser(**TINY).fit(X64)


def test_learns_to_denoise():
    """Held-out PSNR at sigma = 0.1 beats the noisy input by >= 5 dB after a short fit."""
    X, X_test = smooth_images(512, size=16, seed=0), smooth_images(64, size=16, seed=1)
    den = DiffusionDenoiser(
        width=8, n_blocks=2, max_iter=1000, batch_size=32, lr_schedule="cosine", image_shape=(16, 16),
        random_state=0, device="cpu",
    ).fit(X)
    noisy = X_test + 0.1 * np.random.default_rng(7).normal(size=X_test.shape)
    gain = psnr(den.transform(noisy), X_test).mean() - psnr(noisy, X_test).mean()
    assert gain >= 5.0, f"denoising gain only {gain:.2f} dB"
    assert den.score(X_test) > psnr(noisy, X_test).mean() + 5.0
    assert den.n_iter_ == 1000 and len(den.loss_curve_) == 1000 // den.log_every
    assert np.mean(den.loss_curve_[-2:]) < np.mean(den.loss_curve_[:2])


def test_fitted_attributes(fitted, X64):
    assert fitted.image_shape_ == (1, 8, 8)
    assert fitted.device_ == torch.device("cpu")
    assert fitted.n_features_in_ == 64
    np.testing.assert_allclose(fitted.train_mean_, X64.mean(axis=0))
    assert not fitted.network_.training and not fitted.denoiser_.training
    y = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(fitted.denoiser_(y), y - fitted.network_(y))


@given(dtype=st.sampled_from([np.float32, np.float64]), n=st.integers(1, 5), scale=st.floats(0.01, 100))
def test_transform_preserves_shape_dtype_and_homogeneity(fitted, dtype, n, scale):
    Y = np.random.default_rng(n).uniform(size=(n, 64)).astype(dtype)
    out = fitted.transform(Y)
    assert out.shape == Y.shape and out.dtype == dtype
    out_scaled = fitted.transform((scale * Y).astype(dtype))
    assert np.linalg.norm(out_scaled - scale * out) <= 1e-5 * np.linalg.norm(scale * out)


def test_same_random_state_same_weights_and_outputs(X64):
    a = DiffusionDenoiser(**TINY).fit(X64)
    b = DiffusionDenoiser(**TINY).fit(X64)
    for (ka, va), (kb, vb) in zip(a.network_.state_dict().items(), b.network_.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    np.testing.assert_array_equal(a.transform(X64), b.transform(X64))
    c = DiffusionDenoiser(**{**TINY, "random_state": 1}).fit(X64)
    assert not np.array_equal(a.transform(X64), c.transform(X64))


def test_clone_and_fit_reproduces(fitted, X64):
    again = clone(fitted).fit(X64)
    np.testing.assert_array_equal(again.transform(X64), fitted.transform(X64))
    assert again.loss_curve_ == fitted.loss_curve_


def test_global_rng_untouched_and_input_unmodified(X64):
    X = X64.copy()
    torch_state, np_state = torch.random.get_rng_state(), np.random.get_state()
    den = DiffusionDenoiser(**TINY).fit(X)
    den.transform(X)
    den.score(X)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    np.testing.assert_array_equal(X, X64)


def test_same_number_of_steps_for_any_n():
    one = DiffusionDenoiser(**TINY).fit(np.full((1, 64), 0.5))
    many = DiffusionDenoiser(**TINY).fit(np.random.default_rng(0).uniform(size=(500, 64)))
    assert one.n_iter_ == many.n_iter_ == TINY["max_iter"]


def test_bfcnn_and_multichannel():
    X = np.random.default_rng(0).uniform(size=(10, 3 * 6 * 5))
    den = DiffusionDenoiser(architecture="bfcnn", width=4, n_layers=4, max_iter=5, image_shape=(3, 6, 5),
                            random_state=0, device="cpu").fit(X)
    assert den.image_shape_ == (3, 6, 5)
    assert den.transform(X).shape == X.shape


def test_default_image_shape_is_a_strip():
    den = DiffusionDenoiser(**{**TINY, "image_shape": None}).fit(np.random.default_rng(0).uniform(size=(5, 7)))
    assert den.image_shape_ == (1, 1, 7)


BAD_PARAMS = [
    ({"architecture": "resnet"}, ValueError, "architecture"),
    ({"max_iter": 0}, ValueError, "max_iter"),
    ({"sigma_max": -0.1}, ValueError, "sigma_max"),
    ({"width": -3}, ValueError, "width"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"learning_rate": 0.0}, ValueError, "learning_rate"),
    ({"lr_schedule": "step"}, ValueError, "lr_schedule"),
    ({"noise_distribution": "gaussian"}, ValueError, "noise_distribution"),
    ({"beta": 1.5}, ValueError, "beta"),
    ({"h0": 0.0}, ValueError, "h0"),
    ({"sigma_final": 2.0}, ValueError, "sigma_final"),
    ({"random_state": "seed"}, ValueError, "random_state"),
    ({"device": "tpu"}, ValueError, "device"),
    ({"image_shape": (7, 7)}, ValueError, "image_shape"),
    ({"image_shape": (8, 8.0)}, TypeError, "integers"),
    ({"image_shape": (2, 2, 2, 8)}, ValueError, "image_shape"),
    ({"image_shape": (0, 64)}, ValueError, "positive"),
]


@pytest.mark.parametrize("params, exc, match", BAD_PARAMS)
def test_bad_parameters_fail_before_training(monkeypatch, X64, params, exc, match):
    def no_training(*args, **kwargs):
        raise AssertionError("training started before the input was validated")

    monkeypatch.setattr(training_module, "train_loop", no_training)
    with pytest.raises(exc, match=match):
        DiffusionDenoiser(**{**TINY, **params}).fit(X64)


def _with_nan(X):
    X = X.copy()
    X[0, 0] = np.nan
    return X


def _with_inf(X):
    X = X.copy()
    X[1, 2] = np.inf
    return X


BAD_X = [
    (_with_nan, ValueError, "NaN"),
    (_with_inf, ValueError, "infinity"),
    (lambda X: X[0], ValueError, "2D array"),
    (lambda X: X.reshape(24, 1, 1, 8, 8), ValueError, "dim 5"),
    (lambda X: X[:0], ValueError, "0 sample"),
    (lambda X: X.astype(complex), ValueError, "Complex"),
    (lambda X: np.full(X.shape, "a", dtype=object), ValueError, "could not convert|argument must be"),
    (lambda X: sp.csr_matrix(X), TypeError, "Sparse data"),
]


@pytest.mark.parametrize("make, exc, match", BAD_X)
def test_bad_X_fails_before_training(monkeypatch, X64, make, exc, match):
    monkeypatch.setattr(training_module, "train_loop", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(exc, match=match):
        DiffusionDenoiser(**TINY).fit(make(X64))


def test_transform_before_fit_and_wrong_features(fitted):
    with pytest.raises(NotFittedError):
        DiffusionDenoiser(**TINY).transform(np.zeros((2, 64)))
    with pytest.raises(ValueError, match="features"):
        fitted.transform(np.zeros((2, 63)))
    with pytest.raises(ValueError, match="NaN"):
        fitted.transform(np.full((2, 64), np.nan))


def test_pickle_roundtrip(fitted, X64):
    back = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(back.transform(X64), fitted.transform(X64))
    assert back.get_params() == fitted.get_params()


def test_unpickle_gpu_model_on_cpu(fitted, X64, monkeypatch):
    """A pickle made on a CUDA machine names device 'cuda'; it must load on a CPU-only machine."""
    state = fitted.__getstate__()
    state["device_"] = "cuda:0"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    back = DiffusionDenoiser.__new__(DiffusionDenoiser)
    back.__setstate__(state)
    assert back.device_ == torch.device("cpu")
    np.testing.assert_array_equal(back.transform(X64), fitted.transform(X64))


def test_save_load_roundtrip(fitted, X64, tmp_path):
    path = tmp_path / "model.safetensors"
    fitted.save(path)
    back = DiffusionDenoiser.load(path, device="cpu")
    np.testing.assert_array_equal(back.transform(X64), fitted.transform(X64))
    np.testing.assert_array_equal(back.train_mean_, fitted.train_mean_)
    assert back.get_params()["image_shape"] == (8, 8)
    assert back.n_iter_ == fitted.n_iter_ and back.loss_curve_ == pytest.approx(fitted.loss_curve_)


def test_save_accepts_numpy_integer_parameters(X64, tmp_path):
    den = DiffusionDenoiser(**{**TINY, "image_shape": (np.int64(8), np.int64(8)), "width": np.int64(4),
                               "random_state": np.int64(3)}).fit(X64)
    den.save(tmp_path / "m.safetensors")
    back = DiffusionDenoiser.load(tmp_path / "m.safetensors")
    assert back.get_params()["random_state"] == 3 and back.get_params()["image_shape"] == (8, 8)
    np.testing.assert_array_equal(back.transform(X64), den.transform(X64))


def test_load_rejects_malformed_files(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ValueError, match="not a gahb model file"):
        DiffusionDenoiser.load(bad)
    with pytest.raises(ValueError, match="no such model file"):
        DiffusionDenoiser.load(tmp_path / "missing.safetensors")
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(ValueError, match="not a gahb model file"):
        DiffusionDenoiser.load(other)
    listed = tmp_path / "list.safetensors"
    save_file({"w": torch.zeros(2)}, str(listed), metadata={"gahb": "[1, 2]"})
    with pytest.raises(ValueError, match="not written by DiffusionDenoiser.save"):
        DiffusionDenoiser.load(listed)


def test_ctrl_c_keeps_a_usable_model(monkeypatch, X64):
    """Ctrl-C (SIGINT) during step 4 lets that step finish, then training stops with a usable model."""
    ctrl_c_at_step(monkeypatch, 4)
    with pytest.warns(RuntimeWarning, match="interrupted after 4"):
        den = DiffusionDenoiser(**TINY).fit(X64)
    assert den.n_iter_ == 4 and not den.network_.training
    assert np.isfinite(den.transform(X64)).all()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back


def test_verbose_progress_bar(X64, capsys):
    DiffusionDenoiser(**{**TINY, "verbose": 1}).fit(X64)
    assert "training denoiser" in capsys.readouterr().err


def test_learning_rate_schedules():
    from gahb.core.training import lr_factor

    assert lr_factor(0, 1000, "halving") == 1.0
    assert lr_factor(100, 1000, "halving") == 0.5
    assert lr_factor(999, 1000, "halving") == 0.5**9
    assert lr_factor(500, 1000, "cosine") == pytest.approx(0.5)
    assert lr_factor(999, 1000, "constant") == 1.0


def test_quadratic_noise_levels():
    from gahb.core.training import sample_sigma

    s = sample_sigma(200_000, 1.0, "quadratic", torch.Generator().manual_seed(0), "cpu")
    assert float(s.mean()) == pytest.approx(1 / 3, abs=0.005)  # E[u^2] = 1/3
    u = sample_sigma(200_000, 2.0, "uniform", torch.Generator().manual_seed(0), "cpu")
    assert float(u.mean()) == pytest.approx(1.0, abs=0.01) and float(u.max()) <= 2.0


def test_no_warnings_on_readonly_input(fitted, X64):
    X = X64.copy()
    X.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted.transform(X)
