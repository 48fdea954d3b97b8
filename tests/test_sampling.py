"""Torch-level sampler tests on a Gaussian toy prior whose optimal denoiser is known in closed form."""

import math

import numpy as np
import pytest
import torch

from gahb.core.random import sample_generators
from gahb.core.sampling import SamplerOutput, draw_noise, ks_step_size, sample_euler, sample_heun, sample_ks, sigma_grid


class GaussianDenoiser:
    """Posterior mean under x ~ N(mu, U diag(lam) U^T): mu + U diag(lam / (lam + sigma^2)) U^T (y - mu)."""

    requires_sigma = True

    def __init__(self, d, k, seed=0, lam_range=(0.01, 0.05), floor=1e-6):
        g = torch.Generator().manual_seed(seed)
        self.U, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
        self.lam = torch.full((d,), floor, dtype=torch.float64)
        self.lam[:k] = torch.logspace(math.log10(lam_range[0]), math.log10(lam_range[1]), k, dtype=torch.float64)
        self.mu = torch.full((d,), 0.5, dtype=torch.float64)
        self.k, self.d = k, d
        self.seen_sigmas = []

    @property
    def cov(self):
        return self.U @ torch.diag(self.lam) @ self.U.T

    def __call__(self, y, sigma):
        self.seen_sigmas.append(sigma.clone())
        v = (y.reshape(y.shape[0], -1) - self.mu) @ self.U
        v = v * (self.lam / (self.lam + sigma.view(-1, 1) ** 2))
        return (self.mu + v @ self.U.T).reshape(y.shape)

    def mean_image(self):
        return self.mu.reshape(1, 1, self.d)


class BlindShrink:
    """A blind linear denoiser f(y) = m + a (y - m): contracts everything by the same factor."""

    def __init__(self, a=0.5, m=0.5):
        self.a, self.m = a, m

    def __call__(self, y):
        return self.m + self.a * (y - self.m)


@pytest.fixture(scope="module")
def gauss64():
    return GaussianDenoiser(64, 4)


def test_same_seed_bitwise_and_different_seed_differs(gauss64):
    mean = gauss64.mean_image()
    a = sample_ks(gauss64, mean, sample_generators(7, 6))
    b = sample_ks(gauss64, mean, sample_generators(7, 6))
    c = sample_ks(gauss64, mean, sample_generators(8, 6))
    assert isinstance(a, SamplerOutput)
    assert torch.equal(a.x, b.x) and torch.equal(a.n_steps, b.n_steps)
    assert (a.x - c.x).abs().amax(dim=(1, 2, 3)).min() > 1e-3


def test_batch_composition_does_not_change_a_sample(gauss64):
    mean = gauss64.mean_image()
    whole = sample_ks(gauss64, mean, sample_generators(3, 5))
    tail = sample_ks(gauss64, mean, sample_generators(3, 2, start=3))  # samples 3 and 4 alone
    torch.testing.assert_close(whole.x[3:], tail.x, rtol=0, atol=1e-12)
    assert torch.equal(whole.n_steps[3:], tail.n_steps)


def test_two_denoisers_receive_identical_noise():
    """Different priors, same generators: the initial and injected noise of every sample match."""
    records = {}
    priors = [("a", GaussianDenoiser(64, 4, seed=1)), ("b", GaussianDenoiser(64, 8, seed=2, lam_range=(0.02, 0.1)))]
    for name, den in priors:
        rec = []
        sample_ks(den, den.mean_image() * (0.9 if name == "b" else 1.0), sample_generators(11, 4),
                  callback=lambda s, rec=rec: rec.append((s["step"], s["active"].clone(), s["noise"].clone())))
        records[name] = rec
    ra, rb = records["a"], records["b"]
    assert torch.equal(ra[0][2], rb[0][2])  # z_0
    n_compared = 0
    for (ta, act_a, za), (tb, act_b, zb) in zip(ra[1:], rb[1:]):
        both = act_a & act_b
        assert ta == tb
        torch.testing.assert_close(za[both], zb[both], rtol=0, atol=0)
        n_compared += int(both.sum())
    assert n_compared > 50
    # and the noise is exactly what the per-sample generators produce, in order
    gens = sample_generators(11, 4)
    z0 = draw_noise(gens, (1, 1, 64))
    z1 = draw_noise(gens, (1, 1, 64))
    assert torch.equal(ra[0][2], z0.double())
    assert torch.equal(ra[1][2], z1.double())


def test_noise_never_touches_global_rng(gauss64):
    before = torch.random.get_rng_state()
    np_before = np.random.get_state()[1].copy()
    sample_ks(gauss64, gauss64.mean_image(), sample_generators(0, 3), max_steps=5)
    assert torch.equal(before, torch.random.get_rng_state())
    assert np.array_equal(np_before, np.random.get_state()[1])


@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_effective_noise_contracts_as_one_minus_beta_h(beta):
    """sigma_t / sigma_{t-1} ~ 1 - beta h_t (averaged over 32 samples), while most dimensions are noise.

    d = 1024: one step's ratio fluctuates by ~ gamma_t / sigma_t / sqrt(2 d) <= 0.02 per sample.
    """
    den = GaussianDenoiser(1024, 4)
    out = sample_ks(den, den.mean_image(), sample_generators(0, 32), beta=beta, return_sigmas=True)
    S = out.sigmas
    ratio = (S[1:] / S[:-1]).nanmean(dim=1)
    n_active = (~torch.isnan(S[1:])).sum(dim=1)
    t = torch.arange(1, S.shape[0], dtype=torch.float64)
    expected = 1 - beta * ks_step_size(t, 0.01)
    keep = n_active >= 16
    assert keep.sum() >= 20
    err = (ratio - expected)[keep]
    assert err.abs().max() < 0.015, err.abs().max()
    assert err.mean().abs() < 0.003, err.mean()
    assert out.converged.all()


def test_requires_sigma_protocol(gauss64):
    """The sigma passed to the denoiser is sigma_0 at t=0, then (1 - beta h_t) * (last measured sigma)."""
    den = GaussianDenoiser(64, 4)
    beta, sigma_0 = 0.3, 0.8
    out = sample_ks(den, den.mean_image(), sample_generators(0, 3), beta=beta, sigma_0=sigma_0, return_sigmas=True)
    assert torch.equal(den.seen_sigmas[0], torch.full((3,), sigma_0, dtype=torch.float64))
    S = out.sigmas
    for t in range(1, 6):  # all three samples are still active here
        expected = (1 - beta * ks_step_size(t, 0.01)) * S[t - 1]
        torch.testing.assert_close(den.seen_sigmas[t], expected)


def test_deterministic_sampler_injects_no_noise(gauss64):
    gens = sample_generators(5, 3)
    seen = []
    out = sample_ks(gauss64, gauss64.mean_image(), gens, beta=1.0,
                    callback=lambda s: seen.append((s["noise"], s["gamma"].clone())))
    assert seen[0][0] is not None and all(n is None for n, _ in seen[1:])
    assert all(torch.equal(g, torch.zeros_like(g)) for _, g in seen)
    # each generator was used for z_0 only: its next draw equals the second draw of a fresh one
    fresh = sample_generators(5, 3)
    draw_noise(fresh, (1, 1, 64))
    assert torch.equal(draw_noise(gens, (1, 1, 64)), draw_noise(fresh, (1, 1, 64)))
    assert out.converged.all() and (out.n_steps > 5).all()


@pytest.mark.parametrize("sampler", [sample_euler, sample_heun])
def test_ode_samplers_are_deterministic_given_initial_noise(gauss64, sampler):
    a = sampler(gauss64, gauss64.mean_image(), sample_generators(2, 4), max_steps=10)
    b = sampler(gauss64, gauss64.mean_image(), sample_generators(2, 4), max_steps=10)
    assert torch.equal(a.x, b.x)
    assert (a.n_steps == 10).all() and a.converged.all() and not a.diverged.any()


def test_gaussian_prior_mean_and_covariance_fixed_step():
    """With constant steps (h = 0.05, beta = 0.5) and the exact denoiser, samples have the prior's moments.

    1000 samples in d = 64 with a rank-4 signal. A sample variance has a standard error of ~4.5 %; the
    blind sigma estimate and the step size add a few % of bias (measured: +2 to +7 % on average over
    seeds), so we allow [0.8, 1.25] for each signal variance, [0.9, 1.15] for their average, 0.2
    relative Frobenius error on the whole covariance and 4 standard errors on the mean.
    """
    den = GaussianDenoiser(64, 4)
    n = 1000
    out = sample_ks(den, den.mean_image(), sample_generators(0, n), beta=0.5, h0=0.05, fixed_step=True,
                    sigma_final=0.01, max_steps=2000)
    assert out.converged.all()
    X = out.x.reshape(n, -1)
    C = torch.cov(X.T)
    var_ratio = ((X - den.mu) @ den.U[:, :4]).var(dim=0) / den.lam[:4]
    assert ((var_ratio > 0.8) & (var_ratio < 1.25)).all(), var_ratio
    assert 0.9 < var_ratio.mean() < 1.15, var_ratio
    assert (C - den.cov).norm() / den.cov.norm() < 0.2
    se = math.sqrt(den.lam.sum().item() / n)
    assert (X.mean(0) - den.mu).norm() < 4 * se


def test_gaussian_prior_heun_moments():
    """Heun on the probability-flow ODE, started far above the prior's scale, gets the same moments."""
    den = GaussianDenoiser(64, 4)
    n = 1000
    out = sample_heun(den, den.mean_image(), sample_generators(1, n), sigma_0=10.0, sigma_final=0.01, max_steps=25)
    X = out.x.reshape(n, -1)
    var_ratio = ((X - den.mu) @ den.U[:, :4]).var(dim=0) / den.lam[:4]
    assert ((var_ratio > 0.85) & (var_ratio < 1.15)).all(), var_ratio
    assert (torch.cov(X.T) - den.cov).norm() / den.cov.norm() < 0.15


def test_paper_schedule_under_disperses_by_a_known_amount():
    """Documented bias: with the growing step h_t the signal variance comes out ~20-30 % low (h_t / 2 near the end)."""
    den = GaussianDenoiser(64, 4)
    n = 500
    out = sample_ks(den, den.mean_image(), sample_generators(0, n), sigma_final=0.01)
    var_ratio = ((out.x.reshape(n, -1) - den.mu) @ den.U[:, :4]).var(dim=0) / den.lam[:4]
    assert ((var_ratio > 0.6) & (var_ratio < 0.92)).all(), var_ratio


def test_divergence_is_flagged_and_rows_are_nan():
    def exploding(y):  # rows are told apart by their level: ~3 explodes (r = -2 y), ~6 gives NaN
        level = y.mean(dim=(1, 2, 3), keepdim=True)
        out = 0.5 + 0.5 * (y - 0.5)
        out = torch.where((level > 2) & (level < 5), 3 * y, out)
        return torch.where(level >= 5, torch.full_like(y, float("nan")), out)

    mean = torch.tensor([3.0, 0.5, 3.0, 6.0]).view(4, 1, 1, 1).expand(4, 1, 8, 8)
    out = sample_ks(exploding, mean, sample_generators(0, 4), beta=0.5)
    assert out.diverged.tolist() == [True, False, True, True]
    assert torch.isnan(out.x[out.diverged]).all() and torch.isfinite(out.x[~out.diverged]).all()
    assert not (out.converged & out.diverged).any()
    assert out.n_steps[3] == 0 and out.n_steps[0] > 0


def test_max_steps_cap_and_never_stopping():
    out = sample_ks(BlindShrink(0.99), torch.full((1, 4, 4), 0.5), sample_generators(0, 3), max_steps=7,
                    sigma_final=0.0)
    assert (out.n_steps == 7).all() and not out.converged.any() and not out.diverged.any()
    zero = sample_ks(BlindShrink(0.99), torch.full((1, 4, 4), 0.5), sample_generators(0, 3), max_steps=0)
    assert (zero.n_steps == 0).all()


def test_per_sample_stopping():
    """Samples stop on their own: a batch with different scales gives different step counts."""
    mean = torch.stack([torch.full((1, 4, 4), 0.5), torch.full((1, 4, 4), 0.5)])
    out = sample_ks(BlindShrink(0.5), mean, sample_generators(0, 2), sigma_0=1.0, return_sigmas=True)
    big = sample_ks(BlindShrink(0.5), mean[:1], sample_generators(0, 1), sigma_0=1.0, sigma_final=0.2)
    assert out.converged.all() and big.n_steps[0] < out.n_steps[0]
    assert torch.isnan(out.sigmas[-1]).sum() == 0 or out.n_steps[0] != out.n_steps[1]
    for i in range(2):  # the history stops where the sample stopped
        assert torch.isfinite(out.sigmas[: out.n_steps[i] + 1, i]).all()
        assert torch.isnan(out.sigmas[out.n_steps[i] + 1:, i]).all()


def test_trajectory_holds_denoised_estimates(gauss64):
    seen = {}
    out = sample_ks(gauss64, gauss64.mean_image(), sample_generators(0, 3), trajectory_steps=[0, 10, 5, 10**6],
                    callback=lambda s: seen.__setitem__(s["step"], s["denoised"].clone()))
    assert out.trajectory_steps == (0, 5, 10, 10**6)
    assert out.trajectory.shape == (4, 3, 1, 1, 64)
    assert torch.equal(out.trajectory[0], seen[0]) and torch.equal(out.trajectory[1], seen[5])
    assert torch.equal(out.trajectory[3], out.x)  # past the end every sample is frozen at its final estimate


def test_sigma_grid_and_step_size():
    g = sigma_grid(1.0, 0.05, 10)
    assert len(g) == 11 and g[0] == pytest.approx(1.0) and g[-1] == pytest.approx(0.05)
    assert (g[1:] < g[:-1]).all()
    assert ks_step_size(1, 0.01) == pytest.approx(0.01)
    assert ks_step_size(100, 0.01) == pytest.approx(1.0 / (1 + 0.99), rel=1e-12)


def test_bad_inputs_raise():
    """The core assumes valid settings (the estimators check them) but rejects wrongly structured inputs."""
    mean = torch.full((1, 4, 4), 0.5)
    with pytest.raises(TypeError, match="callable"):
        sample_ks(3, mean, sample_generators(0, 2))
    with pytest.raises(TypeError, match="generators"):
        sample_ks(BlindShrink(), mean, [1, 2])
    with pytest.raises(ValueError, match="shape"):
        sample_ks(BlindShrink(), torch.full((3, 1, 4, 4), 0.5), sample_generators(0, 2))
    with pytest.raises(TypeError, match="mean"):
        sample_ks(BlindShrink(), np.zeros((1, 4, 4)), sample_generators(0, 2))
    with pytest.raises(ValueError, match="together"):
        sample_ks(BlindShrink(), mean, sample_generators(0, 2), measurements=torch.zeros(2, 3))


def test_empirical_optimal_denoiser_samples_reproduce_training_images():
    """The exact posterior mean of 3 training images (requires_sigma) makes the sampler memorize."""
    from gahb.core.optimal import EmpiricalOptimalDenoiser

    X = np.random.default_rng(0).random((3, 16))
    den = EmpiricalOptimalDenoiser(X, (4, 4))
    out = sample_ks(den, torch.full((1, 4, 4), 0.5), sample_generators(0, 6), beta=0.5)
    assert out.converged.all()
    S = out.x.reshape(6, -1).double().numpy()
    rms = np.sqrt(((S[:, None] - X[None]) ** 2).mean(-1))
    assert rms.min(axis=1).max() < 0.01
