"""`DiffusionDenoiser.sample`: shapes, seed pairing across models, batch invariance, warnings."""

import copy
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from gahb import DiffusionDenoiser
from gahb.core.random import sample_generators
from gahb.core.sampling import draw_noise
from gahb.exceptions import SampleDivergenceWarning

H = 8


def smooth_images(n, seed):
    """Smooth random fields: a few low-frequency cosines with random phases around grey 0.5."""
    rng = np.random.default_rng(seed)
    u = np.linspace(0, 1, H)
    X = np.zeros((n, H, H))
    for k1 in range(3):
        for k2 in range(3):
            a = rng.normal(size=(n, 1, 1)) / (1 + k1 + k2) ** 1.5
            ph = rng.uniform(0, 2 * np.pi, (n, 1, 1))
            X += a * np.cos(np.pi * (k1 * u[:, None] + k2 * u[None, :]) + ph)
    return np.clip(0.5 + 0.15 * X, 0, 1).reshape(n, -1)


def _fit(seed, data_seed):
    return DiffusionDenoiser(width=8, n_blocks=2, max_iter=200, batch_size=32, image_shape=(H, H),
                             random_state=seed, device="cpu").fit(smooth_images(500, data_seed))


@pytest.fixture(scope="module")
def models():
    return _fit(0, 100), _fit(1, 200)


def test_sample_shape_dtype_and_info(models):
    m = models[0]
    X, info = m.sample(5, random_state=0, return_info=True)
    assert X.shape == (5, H * H) and X.dtype == np.float32 and np.isfinite(X).all()
    assert info["n_steps"].shape == (5,) and (info["n_steps"] > 0).all()
    assert info["converged"].dtype == bool and info["diverged"].dtype == bool
    assert info["random_state"] == 0
    assert m.sample_info_ is info
    assert m.sample(1, random_state=0).shape == (1, H * H)


def test_same_random_state_is_bitwise_identical_and_different_differs(models):
    m = models[0]
    a = m.sample(4, random_state=3)
    b = m.sample(4, random_state=3)
    c = m.sample(4, random_state=4)
    assert np.array_equal(a, b)
    assert np.abs(a - c).max(axis=1).min() > 1e-3


def test_sample_i_does_not_depend_on_n_samples_or_batch_size(models):
    m = models[0]
    whole, info = m.sample(6, random_state=9, return_info=True)
    batched, info_b = m.sample(6, random_state=9, batch_size=4, return_info=True)
    first = m.sample(2, random_state=9)
    # batched convolutions may round differently, so up to float32 numerics, not bitwise
    np.testing.assert_allclose(batched, whole, atol=1e-4)
    np.testing.assert_allclose(first, whole[:2], atol=1e-4)
    assert np.array_equal(info["n_steps"], info_b["n_steps"])


def test_two_models_receive_identical_noise(models):
    """Models trained with different seeds on different data: same z_0 and same injected z_t per sample."""
    recs = []
    for m in models:
        rec = {}

        def cb(s, rec=rec, m=m):
            for j in torch.nonzero(s["active"]).flatten().tolist():
                if s["noise"] is not None:
                    rec[(s["step"], s["start"] + j)] = s["noise"][j].clone()
            if s["step"] == 0:  # y_0 = train_mean_ + sigma_0 z_0
                mean = torch.as_tensor(m.train_mean_, dtype=torch.float32).reshape(1, H, H)
                rec["y0_minus_mean"] = (s["y"] - mean).clone()

        m.sample(5, random_state=21, batch_size=3, callback=cb)
        recs.append(rec)
    a, b = recs
    common = [k for k in a if k in b and k != "y0_minus_mean"]
    assert len(common) > 5 * 20
    assert all(torch.equal(a[k], b[k]) for k in common)
    torch.testing.assert_close(a["y0_minus_mean"], b["y0_minus_mean"], rtol=0, atol=1e-6)
    # and that noise is the (seed, index) stream of gahb.core.random.sample_generators
    gens = sample_generators(21, 5)
    z0 = draw_noise(gens, (1, H, H))
    z1 = draw_noise(gens, (1, H, H))
    assert all(torch.equal(a[(0, i)], z0[i]) and torch.equal(a[(1, i)], z1[i]) for i in range(5))
    # the samples of the two models differ (they are different models)
    assert not np.allclose(models[0].sample(2, random_state=21), models[1].sample(2, random_state=21))


def test_sample_init_constant_and_mean(models):
    m = copy.deepcopy(models[0])
    seen = []
    m.set_params(sample_init=0.3, sigma_0=0.5)
    m.sample(2, random_state=0, callback=lambda s: seen.append((s["y"].clone(), s["noise"].clone()))
             if s["step"] == 0 else None)
    y0, z0 = seen[0]
    torch.testing.assert_close(y0, 0.3 + 0.5 * z0)
    m.set_params(sample_init="median")
    with pytest.raises(ValueError, match="sample_init"):
        m.sample(1, random_state=0)


def test_trajectory_and_deterministic_samplers(models):
    m = copy.deepcopy(models[0])
    X, info = m.sample(3, random_state=0, trajectory_steps=[0, 4], return_info=True)
    assert info["trajectory"].shape == (2, 3, H * H) and info["trajectory_steps"] == (0, 4)
    m.set_params(beta=1.0)
    a, b = m.sample(3, random_state=1), m.sample(3, random_state=1)
    assert np.array_equal(a, b) and np.isfinite(a).all()
    m.set_params(max_sample_steps=8)
    for sampler in ("euler", "heun"):
        X, info = m.sample(3, random_state=1, sampler=sampler, return_info=True)
        assert np.isfinite(X).all() and (info["n_steps"] == 8).all()


def test_divergence_warns_or_raises(models):
    m = copy.deepcopy(models[0])
    m.denoiser_ = lambda y: 3 * y  # residual -2y: the sample runs away
    with pytest.warns(SampleDivergenceWarning, match="diverged"):
        X, info = m.sample(2, random_state=0, return_info=True)
    assert info["diverged"].all() and np.isnan(X).all()
    with pytest.raises(FloatingPointError):
        m.sample(2, random_state=0, on_divergence="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.sample(2, random_state=0, on_divergence="ignore")


def test_step_cap_warns(models):
    m = copy.deepcopy(models[0]).set_params(max_sample_steps=2)
    with pytest.warns(ConvergenceWarning, match="max_sample_steps"):
        X, info = m.sample(2, random_state=0, return_info=True)
    assert not info["converged"].any() and (info["n_steps"] == 2).all() and np.isfinite(X).all()


def test_sampling_leaves_global_rng_alone(models):
    state, np_state = torch.random.get_rng_state(), np.random.get_state()[1].copy()
    models[0].sample(2, random_state=None)
    assert torch.equal(state, torch.random.get_rng_state()) and np.array_equal(np_state, np.random.get_state()[1])


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(n_samples=0), ValueError),
        (dict(n_samples=2.5), TypeError),
        (dict(batch_size=0), ValueError),
        (dict(sampler="ddpm"), ValueError),
        (dict(on_divergence="panic"), ValueError),
        (dict(callback=3), TypeError),
        (dict(random_state=-1), ValueError),
    ],
)
def test_bad_arguments(models, kwargs, exc):
    with pytest.raises(exc):
        models[0].sample(**kwargs)


def test_unfitted_raises():
    with pytest.raises(NotFittedError):
        DiffusionDenoiser().sample(1)


def test_random_state_kinds_map_to_the_per_sample_generators(models):
    m = models[0]
    ref = m.sample(3, random_state=7)
    # a list of CPU generators, one per sample, is used as is (diffusers' convention), whatever the batches
    np.testing.assert_array_equal(m.sample(3, random_state=sample_generators(7, 3)), ref)
    np.testing.assert_allclose(m.sample(3, random_state=sample_generators(7, 3), batch_size=2), ref, atol=1e-5)
    assert m.sample_info_["random_state"] is None
    # a torch.Generator, a RandomState or a numpy Generator gives one seed, kept in sample_info_
    for make in (lambda: torch.Generator().manual_seed(5), lambda: np.random.RandomState(5),
                 lambda: np.random.default_rng(5)):
        rs = make()
        S, info = m.sample(2, random_state=rs, return_info=True)
        np.testing.assert_array_equal(S, m.sample(2, random_state=info["random_state"]))
        np.testing.assert_array_equal(S, m.sample(2, random_state=make()))  # same state, same samples
        assert not np.array_equal(S, m.sample(2, random_state=rs))  # the generator advanced
    g = torch.Generator().manual_seed(5)
    seed = m.sample(1, random_state=g, return_info=True)[1]["random_state"]
    assert seed == int(torch.randint(2**32, (1,), generator=torch.Generator().manual_seed(5)))
    assert 0 <= seed < 2**32  # like resolve_seed's draws: a valid random_state of every gahb function


@pytest.mark.parametrize(
    "random_state, match",
    [
        ([torch.Generator()], "one torch.Generator per sample"),
        ([torch.Generator(), 3], "one torch.Generator per sample"),
        ("seed", "random_state"),
        (2.5, "random_state"),
    ],
)
def test_bad_random_state(models, random_state, match):
    with pytest.raises(ValueError, match=match):
        models[0].sample(2, random_state=random_state)


def test_settings_are_checked_again_when_sampling(models):
    """set_params does not validate; sample and reconstruct check what they are about to use."""
    from gahb.core.operators import BlockAverage

    op = BlockAverage((H, H), 2)
    c = op.measure_rows(smooth_images(2, 0))
    for params, match in [(dict(sigma_final=1.0), "sigma_final .* smaller than sigma_0"),
                          (dict(sigma_0=0.01), "sigma_final .* smaller than sigma_0"),
                          (dict(beta=0.0), "beta"), (dict(max_sample_steps=0), "max_sample_steps"),
                          (dict(sample_init=np.inf), "sample_init")]:
        m = copy.deepcopy(models[0]).set_params(**params)
        with pytest.raises(ValueError, match=match):
            m.sample(1, random_state=0)
        with pytest.raises(ValueError, match=match):
            m.reconstruct(c, op, random_state=0)
    with pytest.raises(ValueError, match="trajectory_steps"):
        models[0].sample(1, random_state=0, trajectory_steps=[-1])


def test_verbose_shows_progress_and_keeps_callback(models, capsys):
    m = copy.deepcopy(models[0]).set_params(verbose=1)
    steps = []
    X = m.sample(3, random_state=0, batch_size=2, callback=lambda s: steps.append((s["start"], s["step"])))
    err = capsys.readouterr().err
    assert "sampling" in err and "/3 [" in err
    assert {s for s, _ in steps} == {0, 2}
    np.testing.assert_array_equal(X, models[0].sample(3, random_state=0, batch_size=2))  # progress changes nothing
    from gahb.core.operators import BlockAverage

    op = BlockAverage((H, H), 2)
    m.reconstruct(op.measure_rows(smooth_images(2, 0)), op, random_state=0, on_divergence="ignore")
    assert "reconstructing" in capsys.readouterr().err
    models[0].sample(1, random_state=0)
    assert capsys.readouterr().err == ""  # verbose=0: silent
