"""Measurement operators (orthonormal columns, adjointness) and inverse problems on a small trained model."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from gahb import DiffusionDenoiser
from gahb._utils import psnr
from gahb.core.operators import (
    BlockAverage,
    Inpainting,
    MeasurementOperator,
    RandomPixels,
    RandomSubspace,
    SpectralLowpass,
    solve_inverse,
)
from gahb.core.random import sample_generators

H = 8


def all_operators(shape):
    C, h, w = shape
    return [
        Inpainting(shape, (max(1, h // 2), max(1, w // 2))),
        RandomPixels(shape, 0.3, random_state=0),
        BlockAverage(shape, 2),
        SpectralLowpass(shape, 2),
        RandomSubspace(shape, 0.25, random_state=0),
    ]


@given(C=st.integers(1, 3), h=st.integers(1, 5), w=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_columns_are_orthonormal_and_adjoint_is_the_transpose(C, h, w, seed):
    shape = (C, 2 * h, 2 * w)
    g = torch.Generator().manual_seed(seed)
    for op in all_operators(shape):
        c = torch.randn(3, op.n_measurements, generator=g, dtype=torch.float64)
        x = torch.randn(3, *shape, generator=g, dtype=torch.float64)
        torch.testing.assert_close(op.measure(op.adjoint(c)), c)  # M^T M = I
        torch.testing.assert_close((op.measure(x) * c).sum(), (x * op.adjoint(c)).sum())  # <M^T x, c> = <x, M c>
        p = op.project(x)
        torch.testing.assert_close(op.project(p), p)
        assert 0 < op.n_measurements < C * 4 * h * w or isinstance(op, Inpainting)


def test_operator_details():
    ip = Inpainting((1, 8, 8), (2, 4), top=1, left=0)
    assert ip.n_measurements == 64 - 8 and not ip.mask[0, 1:3, 0:4].any() and ip.mask[0, 0].all()
    x = torch.arange(64.0).reshape(1, 1, 8, 8)
    ba = BlockAverage((1, 8, 8), 4)
    np.testing.assert_allclose(ba.adjoint(ba.measure(x))[0, 0, :4, :4].numpy(), x[0, 0, :4, :4].mean().item(),
                               rtol=1e-6)  # M M^T is pixel replication of block means
    sl = SpectralLowpass((1, 8, 8), 4)
    const = torch.full((1, 1, 8, 8), 0.7)
    torch.testing.assert_close(sl.project(const), const)  # the DC component is always measured
    assert sl.n_measurements == 4
    a, b = RandomPixels((8, 8), 0.5, random_state=1), RandomPixels((8, 8), 0.5, random_state=1)
    assert np.array_equal(a.mask, b.mask) and not np.array_equal(a.mask, RandomPixels((8, 8), 0.5, random_state=2).mask)
    rs = RandomSubspace((8, 8), 0.5, random_state=3)
    assert torch.equal(rs.basis, RandomSubspace((8, 8), 0.5, random_state=3).basis)
    X = np.random.default_rng(0).random((3, 64))
    X_copy = X.copy()
    c = rs.measure_rows(X)
    assert c.shape == (3, 32) and c.dtype == np.float32 and np.array_equal(X, X_copy)
    naive = rs.naive(torch.as_tensor(c, dtype=torch.float64), 0.5)
    torch.testing.assert_close(rs.measure(naive), torch.as_tensor(c, dtype=torch.float64))


@pytest.mark.parametrize(
    "factory, exc",
    [
        (lambda: Inpainting((8, 8), (9, 2)), ValueError),
        (lambda: Inpainting((8, 8), (8, 8)), ValueError),
        (lambda: Inpainting((8,), 2), ValueError),
        (lambda: RandomPixels((8, 8), 1.5), ValueError),
        (lambda: BlockAverage((8, 6), 4), ValueError),
        (lambda: BlockAverage((8, 8), 1), ValueError),
        (lambda: SpectralLowpass((8, 8), 1), ValueError),
        (lambda: RandomSubspace((8, 8), 0.0), ValueError),
        (lambda: RandomSubspace((8, 8), 0.5, random_state="x"), TypeError),
    ],
)
def test_bad_operator_arguments(factory, exc):
    with pytest.raises(exc):
        factory()


def test_wrong_shapes_raise():
    op = BlockAverage((1, 8, 8), 2)
    with pytest.raises(ValueError, match="shape"):
        op.measure(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match="measurements"):
        op.adjoint(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="shape"):
        op.measure_rows(np.zeros((2, 10)))
    with pytest.raises(TypeError, match="MeasurementOperator"):
        solve_inverse(lambda y: y, "inpaint", torch.zeros(2, 3), sample_generators(0, 2))
    with pytest.raises(ValueError, match="generators"):
        solve_inverse(lambda y: y, op, torch.zeros(3, 16), sample_generators(0, 2))
    with pytest.raises(ValueError, match="measurements"):
        solve_inverse(lambda y: y, op, torch.zeros(2, 15), sample_generators(0, 2))


def test_linear_denoiser_known_answer():
    """A prior that is a Gaussian on a known subspace: the reconstruction of a subspace image is exact.

    The exact posterior mean of x ~ N(m, V V^T) (V: 4 orthonormal images) with all pixels but a block
    measured is determined by the measurements when V restricted to the measured pixels has rank 4.
    """
    g = torch.Generator().manual_seed(0)
    V, _ = torch.linalg.qr(torch.randn(64, 4, generator=g, dtype=torch.float64))
    m = torch.full((64,), 0.5, dtype=torch.float64)

    class SubspaceDenoiser:
        requires_sigma = True

        def __call__(self, y, sigma):
            v = (y.reshape(y.shape[0], -1) - m) @ V
            v = v * (0.04 / (0.04 + sigma.view(-1, 1) ** 2))
            return (m + v @ V.T).reshape(y.shape)

    x = (m + torch.randn(3, 4, generator=g, dtype=torch.float64) @ V.T * 0.2).reshape(3, 1, 8, 8)
    op = Inpainting((1, 8, 8), 3)
    out = solve_inverse(SubspaceDenoiser(), op, op.measure(x), sample_generators(0, 3), mean=0.5,
                        beta=0.5, sigma_final=0.001, project=True)
    assert out.converged.all()
    torch.testing.assert_close(out.x, x, atol=0.02, rtol=0)


# ----------------------------------------------------------------------------- on a trained model


def blobs(n, seed):
    """Gaussian bumps (random centre, width, height) on a random grey background, 8 x 8."""
    rng = np.random.default_rng(seed)
    u = np.arange(H) + 0.5
    cy, cx = rng.uniform(1.5, H - 1.5, (2, n, 1, 1))
    w, a, b = rng.uniform(1.0, 2.0, (n, 1, 1)), rng.uniform(0.4, 0.8, (n, 1, 1)), rng.uniform(0.1, 0.3, (n, 1, 1))
    X = b + a * np.exp(-((u[None, :, None] - cy) ** 2 + (u[None, None, :] - cx) ** 2) / (2 * w**2))
    return np.clip(X, 0, 1).reshape(n, -1)


TRAIN = dict(width=8, n_blocks=2, max_iter=600, batch_size=32, learning_rate=3e-3)


@pytest.fixture(scope="module")
def model():
    return DiffusionDenoiser(image_shape=(H, H), random_state=0, device="cpu", **TRAIN).fit(blobs(2000, 0))


TASKS = {
    "inpainting": lambda: Inpainting((H, H), 4),
    "random_pixels": lambda: RandomPixels((H, H), 0.3, random_state=0),
    "block_average": lambda: BlockAverage((H, H), 2),
    "spectral_lowpass": lambda: SpectralLowpass((H, H), 4),
    "random_subspace": lambda: RandomSubspace((H, H), 0.25, random_state=0),
}


def naive_fill(op, c, model):
    """Masks: fill the unmeasured pixels with the mean of the measured ones; others: M c + (I - MM^T) mean."""
    c = torch.as_tensor(c)
    if isinstance(op, (Inpainting, RandomPixels)):
        fill = c.mean(dim=1).view(-1, 1, 1, 1)
    else:
        fill = torch.as_tensor(model.train_mean_, dtype=c.dtype).reshape(1, H, H)
    return op.naive(c, fill).reshape(c.shape[0], -1).numpy()


@pytest.mark.parametrize("task", list(TASKS))
def test_reconstruction_is_consistent_and_beats_naive_fill(model, task):
    op = TASKS[task]()
    X_test = blobs(24, 1)  # held out: a different generator seed from training
    c = op.measure_rows(X_test)
    R, info = model.reconstruct(c, op, random_state=0, return_info=True)
    assert R.shape == X_test.shape and info["converged"].all()
    np.testing.assert_allclose(op.measure_rows(R), c, atol=1e-5)  # project=True: exactly consistent
    p_recon, p_naive = psnr(R, X_test).mean(), psnr(naive_fill(op, c, model), X_test).mean()
    assert p_recon > p_naive + 0.5, (p_recon, p_naive)

    # Without the final projection the sampler's own output is consistent up to its final noise and the
    # denoiser's error: far closer to the measurements than an unconditional sample is.
    R_free = model.reconstruct(c, op, random_state=0, project=False)
    S = model.sample(len(X_test), random_state=0)
    err_free = np.linalg.norm(op.measure_rows(R_free) - c, axis=1)
    err_uncond = np.linalg.norm(op.measure_rows(S) - c, axis=1)
    assert np.median(err_free) < 0.5 * np.median(err_uncond), (np.median(err_free), np.median(err_uncond))


def test_reconstruct_is_seeded_and_validates(model):
    op = TASKS["inpainting"]()
    c = op.measure_rows(blobs(3, 5))
    a, b = model.reconstruct(c, op, random_state=4), model.reconstruct(c, op, random_state=4)
    assert np.array_equal(a, b) and not np.allclose(a, model.reconstruct(c, op, random_state=5))
    np.testing.assert_allclose(model.reconstruct(c, op, random_state=4, batch_size=2), a, atol=1e-4)
    assert model.reconstruct_info_["n_steps"].shape == (3,)
    with pytest.raises(ValueError, match="measurements"):
        model.reconstruct(c[:, :-1], op)
    with pytest.raises(ValueError, match="image_shape"):
        model.reconstruct(c, Inpainting((4, 4), 2))
    with pytest.raises(TypeError, match="operator"):
        model.reconstruct(c, "inpainting")
    with pytest.raises(ValueError, match="NaN"):
        model.reconstruct(np.full_like(c, np.nan), op)


def test_custom_operator_subclass(model):
    """Any MeasurementOperator subclass with orthonormal columns works (here: the top half of the image)."""

    class TopHalf(MeasurementOperator):
        image_shape = (1, H, H)
        n_measurements = H * H // 2

        def measure(self, x):
            return x[:, :, : H // 2].flatten(1)

        def adjoint(self, c):
            out = torch.zeros(c.shape[0], 1, H, H, dtype=c.dtype, device=c.device)
            out[:, :, : H // 2] = c.reshape(-1, 1, H // 2, H)
            return out

    op = TopHalf()
    X = blobs(4, 7)
    R = model.reconstruct(op.measure_rows(X), op, random_state=0)
    np.testing.assert_allclose(R.reshape(4, H, H)[:, : H // 2], X.reshape(4, H, H)[:, : H // 2], atol=1e-5)
    assert np.isfinite(R).all()
