"""sure (paper eq. 7) agrees with the true MSE, computed from the clean images, within its standard error."""

import numpy as np
import pytest

from gahb import DiffusionDenoiser
from gahb.datasets import make_dead_leaves
from gahb.metrics import sure


@pytest.fixture(scope="module")
def model():
    X = make_dead_leaves(400, image_size=8, random_state=0).data
    return DiffusionDenoiser(width=8, n_blocks=1, max_iter=150, batch_size=32, image_shape=(8, 8),
                             random_state=0).fit(X), make_dead_leaves(460, image_size=8, random_state=0).data[400:]


@pytest.mark.parametrize("sigma, method", [(0.05, "exact"), (0.2, "exact"), (0.1, "hutchinson")])
def test_sure_matches_true_mse(model, sigma, method):
    """Both SURE and the MSE on one noise draw estimate E||x - f(y)||^2: they agree within their standard errors.

    The true MSE is averaged over 8 noise draws (so its own standard error is small); SURE sees one draw and
    no clean image."""
    den, X = model
    X = X.astype(np.float64)
    rng = np.random.default_rng(int(100 * sigma))
    Y = X + sigma * rng.standard_normal(X.shape)
    est = sure(den, Y, sigma, method=method, n_probes=4)
    mse = np.stack([((den.transform(X + sigma * rng.standard_normal(X.shape)) - X) ** 2).mean(axis=1)
                    for _ in range(8)])
    true, se_true = float(mse.mean()), float(mse.mean(axis=0).std(ddof=1) / np.sqrt(X.shape[0]))
    se = np.hypot(est.std_error, se_true)
    assert abs(est.mse - true) < 2 * se, (est.mse, true, est.std_error, se_true)
    # not vacuous: the residual ||y - f(y)||^2 alone misses the true MSE by many standard errors
    assert abs(float(np.mean(est.residual)) - true) > 10 * se
    assert est.psnr == pytest.approx(10 * np.log10(1 / est.mse))


def test_sure_exact_divergence_of_a_linear_denoiser():
    rng = np.random.default_rng(0)
    Y = rng.random((5, 16))
    est = sure(lambda y: 0.25 * y, Y, 0.1, image_shape=(4, 4))
    np.testing.assert_allclose(est.divergence, 4.0, rtol=1e-6)  # tr(0.25 I_16)


def test_sure_rejects_bad_input(model):
    den, X = model
    with pytest.raises(ValueError, match="features"):
        sure(den, X[:, :10], 0.1)
    with pytest.raises(ValueError, match="sigma"):
        sure(den, X, -1.0)
    with pytest.raises(ValueError, match="not fitted"):
        sure(DiffusionDenoiser(), X, 0.1)
    with pytest.raises(ValueError, match="image_shape"):
        sure(lambda y: y, X, 0.1)
