"""Known answers of the low-dimensional-manifold experiments: the sine cone's optimal denoiser is exactly the
projection onto two sinusoids; intensity-rescaling training keeps f(a y) = a f(y) and draws its scales in the
documented order; SubspaceProjection analysed by the Jacobian tools gives eigenvalues 1, 1, 0, ..."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from gahb import DiffusionDenoiser
from gahb.core.nn import build_network, init_weights_
from gahb.core.optimal import SubspaceProjection
from gahb.core.random import torch_generator
from gahb.datasets import make_sines
from gahb.experiments import intensity_rescaling, sine_cone
from gahb.experiments.manifolds import sine_plane
from gahb.experiments.optimality import adaptive_spectrum

TINY = DiffusionDenoiser(architecture="bfcnn", width=8, n_layers=4, max_iter=30, batch_size=16)


@pytest.mark.parametrize("frequency", [(0, 1), (1, 0), (1, 1)])
def test_zero_mean_sines_lie_exactly_in_the_plane(frequency):
    X = make_sines(50, 12, random_state=0, frequency=frequency).data.astype(np.float64)
    X -= X.mean(axis=1, keepdims=True)
    U = sine_plane((12, 12), frequency)
    np.testing.assert_allclose(U @ U.T, np.eye(2), atol=1e-12)
    np.testing.assert_allclose((X @ U.T) @ U, X, atol=1e-6)  # float32 data


def test_sine_cone_optimal_denoiser_is_the_two_dimensional_projection():
    U = sine_plane((12, 12), (0, 1))
    proj = SubspaceProjection(U, (12, 12)).double()
    y = np.random.default_rng(0).standard_normal((3, 144))
    out = proj(torch.as_tensor(y).reshape(3, 1, 12, 12)).reshape(3, -1).numpy()
    np.testing.assert_allclose(out, (y @ U.T) @ U, atol=1e-12)
    x = make_sines(1, 12, random_state=3).data[0].astype(np.float64)
    sp = adaptive_spectrum(proj, x - x.mean(), 0.08, image_shape=(12, 12))
    np.testing.assert_allclose(sp.eigenvalues[:2], 1.0, atol=1e-6)
    np.testing.assert_allclose(sp.eigenvalues[2:], 0.0, atol=1e-6)
    Q, _ = np.linalg.qr(sp.components[:2].T)
    np.testing.assert_allclose(np.linalg.svd(Q.T @ U.T, compute_uv=False), 1.0, atol=1e-6)
    res = sine_cone(image_size=8, n_train=64, n_test=4, estimator=TINY, sigmas=[0.05, 0.1, 0.2])
    opt = res.table()[-1]
    assert opt["model"] == "optimal projection"
    assert opt["lambda_0"] == pytest.approx(1, abs=1e-6) and opt["lambda_1"] == pytest.approx(1, abs=1e-6)
    assert abs(opt["lambda_2"]) < 1e-6 and opt["energy_outside"] < 1e-10 and opt["min_cos_to_span"] > 1 - 1e-9
    assert res.offset == pytest.approx(10 * np.log10(64 / 2))


def test_rescaling_training_keeps_homogeneity():
    img = np.random.default_rng(0).random((8, 8))
    res = intensity_rescaling(img, estimator=TINY, sigmas=[0.05, 0.1], n_test=8, compare_plain=False)
    m = res.models["rescaled"]
    assert m.homogeneity_error < 1e-5
    den = clone(TINY).set_params(rescale="uniform", image_shape=(8, 8), random_state=0).fit(img.reshape(1, -1))
    y = img.reshape(1, -1) + 0.1 * np.random.default_rng(1).standard_normal((1, 64))
    for a in (0.1, 0.5, 3.0):  # f(a y) = a f(y): the rescaled training added no bias anywhere
        np.testing.assert_allclose(den.transform(a * y), a * den.transform(y), rtol=1e-5, atol=1e-7)
    opt = res.optimal
    assert opt.eigenvalues[0] == pytest.approx(1, abs=1e-6) and abs(opt.eigenvalues[1]) < 1e-6
    assert res.offset == pytest.approx(10 * np.log10(64))


def test_rescale_draws_follow_the_documented_stream():
    """First step: idx from g_batch, sigma = u^2, then a, then z, all from g_noise (INTERFACES 1.3)."""
    X = np.random.default_rng(0).random((10, 16)).astype(np.float32)
    den = DiffusionDenoiser(width=4, n_blocks=1, max_iter=1, batch_size=5, image_shape=(4, 4), rescale="uniform",
                            random_state=3).fit(X)
    with torch.random.fork_rng(devices=[]):
        net = build_network("unet", 1, 4, 1, 21)
    init_weights_(net, torch_generator(3))
    net.train()
    g_batch, g_noise = torch_generator(4), torch_generator(5)
    data = torch.from_numpy(X).reshape(10, 1, 4, 4)
    idx = torch.randint(10, (5,), generator=g_batch)
    u = torch.rand(5, generator=g_noise)
    sigma = u * u
    a = torch.rand(5, generator=g_noise)
    x = a[:, None, None, None] * data[idx]
    noise = torch.randn(x.shape, generator=g_noise) * sigma.view(-1, 1, 1, 1)
    with torch.no_grad():
        loss = float(((net(x + noise) - noise) ** 2).sum() / 5)
    assert den.loss_curve_[0] == pytest.approx(loss, rel=1e-6)
    plain = DiffusionDenoiser(width=4, n_blocks=1, max_iter=1, batch_size=5, image_shape=(4, 4), random_state=3).fit(X)
    assert plain.loss_curve_[0] != pytest.approx(loss, rel=1e-6)
