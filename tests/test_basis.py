"""JacobianEigenbasis and GAHBShrinkage: reconstruction, oracle formula, network = shrinkage, sklearn use."""

import numpy as np
import pytest
import torch
from _helpers import box_smoothed
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from torch import nn

from gahb import DiffusionDenoiser, GAHBShrinkage, JacobianEigenbasis
from gahb.basis import dct_basis, oracle_mse, oracle_shrinkage, pca_basis, wavelet_basis
from gahb.core import jacobian as jb

SHAPE = (8, 8)


def smooth_images(n, seed):
    return box_smoothed(n, 8, seed)


class SymmetricReLUDenoiser(nn.Module):
    """f(y) = W^T D(y) W y with D = diag(1[W y > 0]): bias-free, piecewise linear, J(y) = W^T D W symmetric."""

    def __init__(self, d, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.W = nn.Parameter(torch.randn(2 * d, d, generator=g, dtype=torch.float64) / np.sqrt(2 * d))

    def forward(self, y):
        h = y.reshape(y.shape[0], -1).to(self.W.dtype) @ self.W.T
        return (torch.relu(h) @ self.W).to(y.dtype).reshape(y.shape)


@pytest.fixture(scope="module")
def data():
    return smooth_images(128, 0), smooth_images(4, 1)


@pytest.fixture(scope="module")
def den(data):
    X, _ = data
    return DiffusionDenoiser(width=8, n_blocks=2, max_iter=150, batch_size=32, image_shape=SHAPE,
                             random_state=0).fit(X)


def test_transform_inverse_transform_round_trip(den, data):
    _, Xt = data
    eb = JacobianEigenbasis(den, method="full").fit(Xt)
    fitted = dict(vars(eb))
    res = eb.decompose(Xt)
    C = eb.transform(Xt)
    assert vars(eb).keys() == fitted.keys() and all(vars(eb)[k] is v for k, v in fitted.items())  # nothing stored
    np.testing.assert_array_equal(C, res.coefficients)
    assert C.shape == (4, 64) and res.components.shape == (4, 64, 64)
    np.testing.assert_allclose(eb.inverse_transform(C, res), Xt, atol=1e-10)
    np.testing.assert_array_equal(res.noisy, Xt)  # sigma=None: the rows are the images y
    # orthonormal per image, eigenvalues descending, trace = effective dimension
    for E, lam, tr in zip(res.components, res.eigenvalues, res.effective_dimension):
        np.testing.assert_allclose(E @ E.T, np.eye(64), atol=1e-10)
        assert np.all(np.diff(lam) <= 1e-12)
        assert abs(lam.sum() - tr) <= 1e-4 * max(1.0, abs(tr))
    assert np.all(res.homogeneity_error <= 1e-5) and np.all(res.effective_dimension_std == 0)
    assert np.all((res.asymmetry >= 0) & (res.asymmetry < 1))


def test_image_shaped_input(den, data):
    _, Xt = data
    ref = JacobianEigenbasis(den, n_components=3).fit(Xt).transform(Xt)
    eb = JacobianEigenbasis(den, n_components=3).fit(Xt.reshape(4, 8, 8))
    assert eb.n_features_in_ == 64 and eb.image_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(eb.transform(Xt.reshape(4, 1, 8, 8)), ref)
    # a torch callable needs no image_shape when X carries it
    fn = JacobianEigenbasis(den.denoiser_, n_components=3).fit(Xt.reshape(4, 8, 8)).transform(Xt)
    np.testing.assert_allclose(fn, ref, atol=1e-10)
    with pytest.raises(ValueError, match=r"images of shape \(1, 8, 8\)"):
        JacobianEigenbasis(den).fit(Xt.reshape(4, 1, 4, 16))
    with pytest.raises(ValueError, match="image_shape"):
        JacobianEigenbasis(den.denoiser_, image_shape=(4, 16)).fit(Xt.reshape(4, 8, 8))
    sh = GAHBShrinkage(basis="dct", shrinkage="hard", sigma=0.1).fit(Xt.reshape(4, 8, 8))
    assert sh.image_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(sh.transform(Xt.reshape(4, 8, 8)), sh.transform(Xt))


def test_sigma_adds_noise_and_returns_clean_coefficients(den, data):
    _, Xt = data
    eb = JacobianEigenbasis(den, n_components=5, sigma=0.1, random_state=3).fit(Xt)
    res = eb.decompose(Xt)
    C = eb.transform(Xt)
    assert C.shape == (4, 5)
    np.testing.assert_array_equal(C, res.coefficients)
    np.testing.assert_allclose(C, np.einsum("nkd,nd->nk", res.components, Xt), atol=1e-12)
    assert 0.05 < np.std(res.noisy - Xt) < 0.15
    # same random_state -> same noise; X is not modified
    X_copy = Xt.copy()
    C2 = JacobianEigenbasis(den, n_components=5, sigma=0.1, random_state=3).fit(Xt).transform(Xt)
    np.testing.assert_array_equal(C, C2)
    np.testing.assert_array_equal(Xt, X_copy)


def test_lanczos_method_agrees_with_full(den, data):
    _, Xt = data
    full = JacobianEigenbasis(den, n_components=6, method="full").fit(Xt)
    lan = JacobianEigenbasis(den, n_components=6, method="lanczos", n_probes=64, random_state=0).fit(Xt)
    f, la = full.decompose(Xt[:1]), lan.decompose(Xt[:1])
    np.testing.assert_allclose(la.eigenvalues, f.eigenvalues, atol=1e-4)
    assert abs(la.effective_dimension[0] - f.effective_dimension[0]) <= 4 * la.effective_dimension_std[0]


def test_frozen_callable_and_pipeline(den, data):
    X, Xt = data
    ref = JacobianEigenbasis(den, n_components=4).fit(Xt).transform(Xt)
    frozen = JacobianEigenbasis(FrozenEstimator(den), n_components=4).fit(Xt).transform(Xt)
    np.testing.assert_allclose(frozen, ref, atol=1e-10)
    fn = JacobianEigenbasis(den.denoiser_, n_components=4, image_shape=SHAPE).fit(Xt).transform(Xt)
    np.testing.assert_allclose(fn, ref, atol=1e-10)
    # an unfitted denoiser is trained by fit (meta-estimator), so it can sit in a Pipeline
    pipe = Pipeline([("basis", JacobianEigenbasis(DiffusionDenoiser(width=8, n_blocks=2, max_iter=5, batch_size=8,
                                                                    image_shape=SHAPE, random_state=0),
                                                  n_components=3))])
    assert pipe.fit(X).transform(Xt).shape == (4, 3)
    # after a (frozen) denoiser in a Pipeline: the basis is taken at the denoised image
    pipe2 = Pipeline([("denoise", FrozenEstimator(den)), ("basis", JacobianEigenbasis(den, n_components=3))])
    out = pipe2.fit(Xt).transform(Xt)
    np.testing.assert_allclose(out, JacobianEigenbasis(den, n_components=3).fit(Xt).transform(den.transform(Xt)))


def test_network_shrinkage_reproduces_symmetric_network():
    f = SymmetricReLUDenoiser(64)
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((5, 64))
    out = GAHBShrinkage(f, image_shape=SHAPE).fit(Y).transform(Y)
    with torch.no_grad():
        ref = f(torch.as_tensor(Y).reshape(5, 1, 8, 8)).reshape(5, -1).numpy()
    assert np.abs(out - ref).max() <= 1e-5 * np.abs(ref).max()


def test_network_shrinkage_on_trained_unet_is_symmetric_part(den, data):
    """With the trained UNet, sum_k lambda_k <y, e_k> e_k = J_s y = f(y) + (J^T - J) y / 2 exactly."""
    _, Xt = data
    Y = Xt + 0.1 * np.random.default_rng(5).standard_normal(Xt.shape)
    sh = GAHBShrinkage(den).fit(Y)
    res = sh.decompose(Y)
    out = sh.transform(Y)
    np.testing.assert_array_equal(out, res.denoised)
    np.testing.assert_array_equal(res.shrinkage_factors, res.basis.eigenvalues)  # the network's own factors
    np.testing.assert_array_equal(res.coefficients, res.basis.coefficients)
    fy = den.transform(Y)
    for i in range(len(Y)):
        y = torch.as_tensor(Y[i], dtype=torch.float32).reshape(1, 8, 8)
        J = jb.full_jacobian(den.denoiser_, y).double().numpy()
        expect = fy[i] + 0.5 * (J.T - J) @ Y[i]
        assert np.abs(out[i] - expect).max() <= 1e-5 * np.abs(fy[i]).max()


def test_oracle_shrinkage_reproduces_formula_mse():
    rng = np.random.default_rng(0)
    shape, sigma, n_draws = (4, 4), 0.2, 4000
    B = dct_basis(shape)
    x = rng.uniform(size=16)
    c = B.T @ x
    sh = GAHBShrinkage(basis="dct", shrinkage="oracle", sigma=sigma, image_shape=shape).fit(x[None])
    Y = x + sigma * rng.standard_normal((n_draws, 16))
    err = ((sh.transform(Y, X_clean=np.tile(x, (n_draws, 1))) - x) ** 2).sum(axis=1)
    lam = oracle_shrinkage(c, sigma)
    expect = oracle_mse(c, sigma)
    np.testing.assert_allclose(expect, np.sum((1 - lam) ** 2 * c**2 + lam**2 * sigma**2))
    assert abs(err.mean() - expect) <= 4 * err.std() / np.sqrt(n_draws)
    np.testing.assert_allclose(sh.decompose(Y[:1], X_clean=x[None]).shrinkage_factors[0], lam)


def test_fixed_bases_orthonormal_and_rules(data):
    X, Xt = data
    for B in (wavelet_basis(SHAPE, "haar"), wavelet_basis(SHAPE, "db2"), dct_basis(SHAPE), pca_basis(X),
              dct_basis((2, 4, 4))):
        np.testing.assert_allclose(B.T @ B, np.eye(B.shape[1]), atol=1e-10)
    np.testing.assert_allclose(dct_basis(SHAPE)[:, 0], 1 / 8)  # the DC atom first
    rng = np.random.default_rng(0)
    cols = np.arange(8)[None, None, :] < rng.integers(2, 7, size=(204, 1, 1))  # vertical step edges: sparse images
    steps = (np.where(cols, 0.8, 0.2) * np.ones((204, 8, 8))).reshape(204, -1)
    X, Xt = steps[:200], steps[200:]
    Y = Xt + 0.1 * rng.standard_normal(Xt.shape)
    for basis in ("wavelet", "dct", "pca"):
        for rule in ("hard", "soft", "oracle"):
            sh = GAHBShrinkage(basis=basis, shrinkage=rule, sigma=0.1, image_shape=SHAPE).fit(X)
            res = sh.decompose(Y, X_clean=Xt)
            out, lam = sh.transform(Y, X_clean=Xt), res.shrinkage_factors
            np.testing.assert_array_equal(out, res.denoised)
            np.testing.assert_allclose(res.coefficients, Y @ sh.basis_)
            assert res.basis is None and out.shape == Y.shape and np.all((lam >= 0) & (lam <= 1))
            assert np.mean((out - Xt) ** 2) < np.mean((Y - Xt) ** 2), (basis, rule)
    # threshold 0 keeps everything: identity
    sh = GAHBShrinkage(basis="wavelet", shrinkage="hard", sigma=0.1, threshold=0.0, image_shape=SHAPE).fit(X)
    np.testing.assert_allclose(sh.transform(Y), Y, atol=1e-12)


def test_bad_parameters(den, data):
    X, Xt = data
    with pytest.raises(ValueError, match="network"):
        GAHBShrinkage(basis="dct", shrinkage="network", image_shape=SHAPE).fit(X)
    with pytest.raises(ValueError, match="sigma"):
        GAHBShrinkage(basis="dct", shrinkage="hard", image_shape=SHAPE).fit(X)
    sh = GAHBShrinkage(basis="dct", shrinkage="oracle", sigma=0.1, image_shape=SHAPE).fit(X)
    with pytest.raises(ValueError, match="clean"):
        sh.transform(Xt)
    with pytest.raises(ValueError, match="image_shape"):
        JacobianEigenbasis(den.denoiser_).fit(X)
    with pytest.raises(ValueError, match="features"):
        JacobianEigenbasis(den).fit(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="n_components"):
        JacobianEigenbasis(den, method="lanczos", n_components=64).fit(X)
    with pytest.raises(ValueError):
        JacobianEigenbasis(den, method="eig").fit(X)
    eb = JacobianEigenbasis(den, n_components=2).fit(X)
    res = eb.decompose(Xt)
    with pytest.raises(ValueError, match="shape"):
        eb.inverse_transform(np.zeros((3, 2)), res)
    with pytest.raises(ValueError, match="X_clean"):
        JacobianEigenbasis(den, sigma=0.1).fit(X).transform(Xt, X_clean=Xt)
    with pytest.raises(ValueError, match="X_clean has shape"):
        eb.transform(Xt, X_clean=Xt[:2])
    with pytest.raises(ValueError, match="orthogonal"):
        wavelet_basis(SHAPE, "bior2.2")
    with pytest.raises(ValueError, match="level"):
        wavelet_basis(SHAPE, "haar", level=4)


def test_denoiser_comes_first_in_both_wrappers(den, data):
    X, _ = data
    import inspect

    for cls in (JacobianEigenbasis, GAHBShrinkage):
        assert list(inspect.signature(cls).parameters)[0] == "denoiser"
    assert GAHBShrinkage(den).fit(X[:2]).eigenbasis_.denoiser_ is den


def test_wavelet_basis_of_strips_and_odd_sizes():
    B = wavelet_basis((1, 16), "db2")  # a strip: 1-D wavelets, coarse to fine
    np.testing.assert_allclose(B.T @ B, np.eye(16), atol=1e-10)
    np.testing.assert_allclose(B[:, 0], 0.25)  # the coarsest scaling function of a 1-D signal is constant
    np.testing.assert_allclose(wavelet_basis((16, 1), "haar"), wavelet_basis((1, 16), "haar"))
    with pytest.warns(UserWarning, match="pixel basis"):
        B = wavelet_basis((1, 5))
    np.testing.assert_array_equal(B, np.eye(5))



def test_float64_denoiser_runs_in_float64():
    net = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False).double()
    X = np.random.default_rng(0).random((2, 64))
    eb = JacobianEigenbasis(net, image_shape=(8, 8), method="full").fit(X)
    coef = eb.transform(X)
    assert np.isfinite(coef).all() and coef.shape[0] == 2
