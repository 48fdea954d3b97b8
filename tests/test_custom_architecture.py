"""DiffusionDenoiser(architecture=<your torch module>): class or instance, checks, warnings, persistence."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone

from gahb import DiffusionDenoiser, JacobianEigenbasis
from gahb.exceptions import NotBiasFreeWarning


class TwoConv(torch.nn.Sequential):
    """Bias-free: homogeneous of degree 1."""

    def __init__(self, bias=False):
        super().__init__(torch.nn.Conv2d(1, 6, 3, padding=1, bias=bias), torch.nn.ReLU(),
                         torch.nn.Conv2d(6, 1, 3, padding=1, bias=bias))


class ZeroBias(TwoConv):
    """Has biases, but they start at zero: homogeneous at initialisation, not after training."""

    def __init__(self):
        super().__init__(bias=True)
        for m in self:
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.zeros_(m.bias)


class NeedsArgs(torch.nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)

    def forward(self, y):
        return self.conv(y)


FAST = dict(max_iter=20, batch_size=8, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).uniform(size=(16, 8, 8))


def _fit(X, architecture, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotBiasFreeWarning)  # a bias-free module never warns
        return DiffusionDenoiser(architecture=architecture, **{**FAST, **params}).fit(X)


def test_class_is_built_reproducibly_without_touching_the_global_rng(X):
    state = torch.random.get_rng_state()
    a, b = _fit(X, TwoConv), _fit(X, TwoConv)
    assert torch.equal(state, torch.random.get_rng_state())
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    c = _fit(X, TwoConv, random_state=1)
    assert not np.array_equal(a.transform(X), c.transform(X))
    assert isinstance(a.network_, TwoConv) and a.n_iter_ == 20 and a.image_shape_ == (1, 8, 8)


def test_instance_is_copied_never_modified(X):
    net = TwoConv()
    before = copy.deepcopy(net.state_dict())
    den = _fit(X, net)
    assert den.network_ is not net and den.architecture is net
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.training  # its mode is left alone too
    # the instance's weights are the starting point: the same instance gives the same model
    np.testing.assert_array_equal(_fit(X, net).transform(X), den.transform(X))
    assert not all(torch.equal(before[k], v) for k, v in den.network_.state_dict().items())  # it trained


def test_clone_pickle_and_deepcopy(X):
    for arch in (TwoConv, TwoConv()):
        den = _fit(X, arch)
        ref = den.transform(X)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(den)).transform(X), ref)
        np.testing.assert_array_equal(copy.deepcopy(den).transform(X), ref)
        np.testing.assert_array_equal(clone(den).fit(X).transform(X), ref)


def test_save_needs_the_module_again_on_load(X, tmp_path):
    den = _fit(X, TwoConv)
    path = tmp_path / "custom.safetensors"
    den.save(path)
    with pytest.raises(ValueError, match="custom architecture .*TwoConv.*architecture="):
        DiffusionDenoiser.load(path)
    for arch in (TwoConv, TwoConv()):
        loaded = DiffusionDenoiser.load(path, device="cpu", architecture=arch)
        np.testing.assert_array_equal(loaded.transform(X), den.transform(X))
        assert loaded.n_iter_ == den.n_iter_ and loaded.get_params()["architecture"] is arch
    with pytest.raises(ValueError, match="damaged or incompatible"):
        DiffusionDenoiser.load(path, architecture=NeedsArgs(1))  # other weights
    with pytest.raises(TypeError, match="torch.nn.Module"):
        DiffusionDenoiser.load(path, architecture="unet")
    builtin = tmp_path / "unet.safetensors"
    DiffusionDenoiser(width=4, n_blocks=1, max_iter=2, batch_size=4, random_state=0).fit(X).save(builtin)
    with pytest.raises(ValueError, match="built-in architecture"):
        DiffusionDenoiser.load(builtin, architecture=TwoConv)


def test_wrong_modules_fail_before_training(X, monkeypatch):
    import gahb._training as training_module

    monkeypatch.setattr(training_module, "train_loop", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(ValueError, match=r"same shape .* maps \(2, 1, 8, 8\) to \(2, 3, 8, 8\)"):
        DiffusionDenoiser(architecture=torch.nn.Conv2d(1, 3, 3, padding=1, bias=False), **FAST).fit(X)
    with pytest.raises(ValueError, match="failed on a batch of shape"):
        DiffusionDenoiser(architecture=torch.nn.Conv2d(3, 3, 3, padding=1, bias=False), **FAST).fit(X)
    with pytest.raises(TypeError, match="without arguments.*pass an instance"):
        DiffusionDenoiser(architecture=NeedsArgs, **FAST).fit(X)
    with pytest.raises(TypeError, match="torch.nn.Module subclass"):
        DiffusionDenoiser(architecture=dict, **FAST).fit(X)
    with pytest.raises(ValueError, match="'architecture' parameter"):
        DiffusionDenoiser(architecture=3, **FAST).fit(X)


def test_not_bias_free_warns_before_or_after_training(X):
    with pytest.warns(NotBiasFreeWarning, match="before training") as record:
        DiffusionDenoiser(architecture=TwoConv(bias=True), **FAST).fit(X)
    assert len(record) == 1  # warned once
    with pytest.warns(NotBiasFreeWarning, match="after training") as record:
        DiffusionDenoiser(architecture=ZeroBias, **FAST).fit(X)
    assert len(record) == 1


def test_a_custom_model_samples_and_has_an_adaptive_basis(X):
    den = _fit(X, TwoConv)
    assert den.sample(2, random_state=0, on_divergence="ignore").shape == (2, 64)
    res = JacobianEigenbasis(den, n_components=4).fit(X[:2]).decompose(X[:2])
    assert res.eigenvalues.shape == (2, 4) and np.all(res.homogeneity_error < 1e-4)
