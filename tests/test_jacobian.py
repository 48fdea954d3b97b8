"""Exactness of the Jacobian tools: dense J, eigenpairs, trace, asymmetry, Lanczos, Hutchinson."""

import numpy as np
import pytest
import torch
from _helpers import box_smoothed
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from gahb.core import jacobian as jb
from gahb.core.jacobian._matrix_free import _GatedNetwork
from gahb.core.nn import BFCNN, Denoiser, UNet, init_weights_, receptive_radius


class LinearDenoiser(nn.Module):
    """f(y) = A y with a known matrix A: its Jacobian is A everywhere."""

    def __init__(self, A, shape):
        super().__init__()
        self.register_buffer("A", torch.as_tensor(A, dtype=torch.float64))
        self.shape = shape

    def forward(self, y):
        out = y.reshape(y.shape[0], -1).to(torch.float64) @ self.A.T
        return out.to(y.dtype).reshape(y.shape)


smooth_images = box_smoothed


@pytest.fixture(scope="module")
def trained():
    from gahb import DiffusionDenoiser

    X = smooth_images(256, 8, 0)
    den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=200, batch_size=32, image_shape=(8, 8), random_state=0)
    den.fit(X)
    f = den.denoiser_
    gen = torch.Generator().manual_seed(1)
    x = torch.as_tensor(smooth_images(1, 8, 5), dtype=torch.float32).reshape(1, 8, 8)
    y = x + 0.2 * torch.randn(x.shape, generator=gen)
    return f, y, x


def test_full_jacobian_matches_per_pixel_loop(trained):
    f, y, _ = trained
    J = jb.full_jacobian(f, y, chunk_size=7)  # a chunk size that does not divide d
    J_loop = jb.jacobian_by_loop(f, y)
    assert J.shape == (64, 64)
    assert float((J - J_loop).abs().max() / J_loop.abs().max()) <= 1e-5
    # the automatic chunk size from the memory cap gives the same matrix
    assert torch.allclose(jb.full_jacobian(f, y, max_memory=50_000), J, atol=1e-6)


def test_network_left_as_found(trained):
    f, y, _ = trained
    f.train()
    flags = [p.requires_grad for p in f.parameters()]
    jb.full_jacobian(f, y)
    jb.hutchinson_trace(f, y, 4)
    assert f.training
    assert [p.requires_grad for p in f.parameters()] == flags
    # mixed modes: a network in eval mode with one BatchNorm left in training mode is still evaluated
    # fully in eval mode (running statistics), and that one layer is left in training mode
    f.eval()
    J_eval = jb.full_jacobian(f, y)
    bn = next(m for m in f.modules() if hasattr(m, "running_sd"))
    bn.train()
    assert torch.equal(jb.full_jacobian(f, y), J_eval)
    assert bn.training and not f.training
    f.eval()


@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100.0))
def test_euler_identity_f_equals_J_y(trained, seed, scale):
    f, _, _ = trained
    gen = torch.Generator().manual_seed(seed)
    y = scale * torch.rand((1, 8, 8), generator=gen) + 0.3 * scale * torch.randn((1, 8, 8), generator=gen)
    J = jb.full_jacobian(f, y)
    assert jb.homogeneity_error(f, y, J) <= 1e-5


def test_linear_denoiser_exact_eigenpairs_trace_asymmetry():
    rng = np.random.default_rng(0)
    d = 36
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lam = np.sort(rng.uniform(0, 1.2, d))[::-1]
    A = (Q * lam) @ Q.T
    f = LinearDenoiser(A, (1, 6, 6))
    y = torch.as_tensor(rng.uniform(size=(1, 6, 6)), dtype=torch.float64)
    J = jb.full_jacobian(f, y)
    np.testing.assert_allclose(J.numpy(), A, atol=1e-12)
    ev, E = jb.symmetric_eigh(J)
    np.testing.assert_allclose(ev.numpy(), lam, atol=1e-12)
    # each eigenvector equals +-Q's column
    np.testing.assert_allclose(np.abs(np.sum(E.numpy() * Q, axis=0)), 1.0, atol=1e-10)
    assert jb.asymmetry(J) <= 1e-14
    assert jb.probe_asymmetry(f, y, 8) <= 1e-12
    assert abs(float(J.trace()) - lam.sum()) <= 1e-10
    # a known non-symmetric matrix: the asymmetry is exact too
    B = A + 0.1 * np.triu(rng.standard_normal((d, d)), 1)
    JB = jb.full_jacobian(LinearDenoiser(B, (1, 6, 6)), y).numpy()
    expect = np.linalg.norm(B - B.T) / np.linalg.norm(B)
    assert abs(jb.asymmetry(JB) - expect) <= 1e-12
    est = jb.probe_asymmetry(LinearDenoiser(B, (1, 6, 6)), y, 2000, random_state=0)
    assert abs(est - expect) <= 0.1 * expect


def test_lanczos_matches_full_eigh_on_trained_model(trained):
    f, y, _ = trained
    ev, E = jb.symmetric_eigh(jb.full_jacobian(f, y))
    for method in ("lanczos", "lobpcg"):
        lam, V, n_products = jb.top_eigenpairs(f, y, 8, method=method, random_state=0)
        assert n_products > 0
        assert float((lam - ev[:8]).abs().max()) <= 1e-4, method
        cosines = torch.linalg.svdvals(E[:, :8].T @ V)  # cosines of the principal angles
        assert float(cosines.min()) >= 0.99, method


def test_hutchinson_within_three_sigma(trained):
    f, y, _ = trained
    exact = float(jb.full_jacobian(f, y).double().trace())
    for seed in range(3):
        est = jb.hutchinson_trace(f, y, 64, random_state=seed)
        assert est.std_error > 0
        assert abs(est.estimate - exact) <= 3 * est.std_error


def test_operator_products_match_dense(trained):
    f, y, _ = trained
    J = jb.full_jacobian(f, y).double().numpy()
    rng = np.random.default_rng(0)
    M = rng.standard_normal((64, 3))
    for part, ref in (("forward", J), ("transpose", J.T), ("symmetric", 0.5 * (J + J.T))):
        op = jb.JacobianOperator(f, y, part=part).as_linear_operator()
        np.testing.assert_allclose(op.matmat(M), ref @ M, atol=1e-4)
        np.testing.assert_allclose(op.matvec(M[:, 0]), ref @ M[:, 0], atol=1e-4)
        np.testing.assert_allclose(op.rmatvec(M[:, 0]), ref.T @ M[:, 0], atol=1e-4)


def test_bad_input_is_rejected(trained):
    f, y, _ = trained
    with pytest.raises(ValueError, match="shape"):
        jb.full_jacobian(f, y[0])
    with pytest.raises(TypeError):
        jb.full_jacobian(f, y.numpy())
    with pytest.raises(ValueError, match="NaN"):
        jb.full_jacobian(f, torch.full_like(y, float("nan")))
    with pytest.raises(ValueError, match="chunk_size"):
        jb.full_jacobian(f, y, chunk_size=0)
    with pytest.raises(ValueError, match="k must be"):
        jb.top_eigenpairs(f, y, 64)
    with pytest.raises(ValueError, match="method"):
        jb.top_eigenpairs(f, y, 3, method="power")
    with pytest.raises(ValueError, match="n_probes"):
        jb.hutchinson_trace(f, y, 1)
    with pytest.raises(ValueError, match="part"):
        jb.JacobianOperator(f, y, part="upper")


def _random_net(net, seed):
    """A float64 gahb network with random weights and unit BN gains (so no path is numerically negligible)."""
    f = Denoiser(init_weights_(net, torch.Generator().manual_seed(seed))).double().eval()
    for m in f.modules():
        if hasattr(m, "gamma"):
            m.gamma.data.fill_(1.0)
    return f


@pytest.mark.parametrize("net, side", [(UNet(1, 4, 1), 24), (UNet(1, 4, 2), 48), (BFCNN(1, 4, 5), 16)])
def test_receptive_radius_is_the_jacobian_support(net, side):
    """The structural radius equals the largest Chebyshev distance of a nonzero Jacobian entry."""
    f = _random_net(net, 0)
    y = torch.rand((1, side, side), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    J = jb.full_jacobian(f, y, receptive_field=None)
    i, j = (J.abs() > 0).nonzero().T
    dist = torch.maximum((i // side - j // side).abs(), (i % side - j % side).abs())
    assert int(dist.max()) == receptive_radius(f)


@pytest.mark.parametrize("which, shape", [("bfcnn", (1, 19, 23)), ("bfcnn", (2, 15, 12)), ("unet", (1, 26, 21))])
def test_compressed_jacobian_equals_one_vjp_per_row(which, shape):
    net = BFCNN(shape[0], 4, 4) if which == "bfcnn" else UNet(shape[0], 4, 1)
    f = _random_net(net, 2)
    r = receptive_radius(f)
    assert shape[0] * min(2 * r + 1, shape[1]) * min(2 * r + 1, shape[2]) < np.prod(shape)  # compression is used
    y = torch.rand(shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    J_auto = jb.full_jacobian(f, y)
    J_plain = jb.full_jacobian(f, y, receptive_field=None)
    assert float((J_auto - J_plain).abs().max()) <= 1e-12 * float(J_plain.abs().max())
    assert float((J_auto - jb.jacobian_by_loop(f, y)).abs().max()) <= 1e-12 * float(J_plain.abs().max())
    # any larger radius is also exact; a float32 network gives the float32 loop's matrix
    assert torch.allclose(jb.full_jacobian(f, y, receptive_field=r + 3), J_plain, rtol=0, atol=1e-12)
    f32, y32 = f.float(), y.float()
    J32 = jb.full_jacobian(f32, y32)
    assert float((J32 - jb.jacobian_by_loop(f32, y32)).abs().max() / J32.abs().max()) <= 1e-5


def test_too_small_receptive_field_is_caught():
    f = _random_net(BFCNN(1, 4, 4), 4)
    y = torch.rand((1, 20, 20), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    with pytest.raises(ValueError, match="smaller than the denoiser's receptive field"):
        jb.full_jacobian(f, y, receptive_field=2)
    for bad in (-1, 1.5, "big", True):
        with pytest.raises(ValueError, match="receptive_field"):
            jb.full_jacobian(f, y, receptive_field=bad)


def test_gated_forward_products_and_fallback(trained, monkeypatch):
    """gahb networks get J v from the ReLU-gated forward pass; the network is left untouched; a wrong gate falls back."""
    f, y, _ = trained
    ref = jb.full_jacobian(f, y).double().numpy()
    M = np.random.default_rng(0).standard_normal((64, 3))
    with torch.no_grad():
        before = f(y.unsqueeze(0)).clone()
    op = jb.JacobianOperator(f, y, part="forward")
    np.testing.assert_allclose(op.matmat(M), ref @ M, atol=1e-4)
    np.testing.assert_allclose(op.as_linear_operator().matvec(M[:, 0]), ref @ M[:, 0], atol=1e-4)
    assert op.forward_method == "gated"
    relus = [m for m in f.modules() if isinstance(m, nn.ReLU)]
    assert relus and all("forward" not in m.__dict__ and m.inplace for m in relus)
    with torch.no_grad():
        assert torch.equal(f(y.unsqueeze(0)), before)
    # a gated pass that is not J (here: scaled by 2) fails the check, and the operator uses the VJP's VJP
    monkeypatch.setattr(_GatedNetwork, "__call__", lambda self, V: 2 * f(V))
    op2 = jb.JacobianOperator(f, y, part="forward")
    np.testing.assert_allclose(op2.matmat(M), ref @ M, atol=1e-4)
    assert op2.forward_method == "vjp-of-vjp"
    # callables that are not gahb networks never take the gated path
    A = np.random.default_rng(1).standard_normal((16, 16))
    op3 = jb.JacobianOperator(LinearDenoiser(A, (1, 4, 4)), torch.rand(1, 4, 4, dtype=torch.float64), part="forward")
    np.testing.assert_allclose(op3.matmat(M[:16, :1])[:, 0], A @ M[:16, 0], atol=1e-10)
    assert op3.forward_method == "vjp-of-vjp"
