"""generalization_curve: known answers with the perfect memorizer, dask == sequential, sklearn tools."""

import re

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold, learning_curve

from gahb.experiments.generalization import GeneralizationCurve, generalization_curve
from gahb.metrics import memorization_scorer
from gahb.model_selection import TrainingSubset
from gahb.optimal import MemorizingDenoiser


def _tiny_net(**kw):
    from gahb import DiffusionDenoiser

    params = dict(width=8, n_blocks=2, max_iter=30, batch_size=16, image_shape=(8, 8), random_state=0,
                  beta=1.0, h0=0.05, max_sample_steps=40, device="cpu")
    params.update(kw)
    return DiffusionDenoiser(**params)


def test_memorizer_sweep_known_answers(rng):
    X = rng.random((120, 64)).astype(np.float32)
    res = generalization_curve(MemorizingDenoiser(image_shape=(8, 8), beta=1.0), X, [1, 5, 20], image_shape=(8, 8),
                               n_samples=12, sigmas=PAPER3, n_psnr_images=20, verbose=0)
    assert isinstance(res, GeneralizationCurve) and res.sizes == [1, 5, 20]
    t = res.to_dict()
    np.testing.assert_array_equal(t["mem_cosine_A"], 1.0)
    np.testing.assert_array_equal(t["mem_cosine_B"], 1.0)
    assert np.isnan(t["mem_ratio_A"][0]) and np.all(t["mem_ratio_A"][1:] == 1.0)  # ratio undefined at N = 1
    assert np.all(t["cross_median"] < 0.5)  # disjoint memorizers disagree
    assert np.all(t["psnr_gap"] > 20)  # perfect on its training set, not on held-out noise images
    assert res.effective_memorization() == 20 and res.effective_memorization(rule="ratio") == 20
    d = res[5]
    np.testing.assert_allclose(d["nearest_similarity_A"], 1.0, atol=1e-5)
    assert d["samples_A"].shape == (12, 64) and d["nearest_images_A"].shape == (12, 64)
    s = res.summary()
    assert s["mem_smallest_N"] == 1.0 and s["sizes"] == [1, 5, 20]


PAPER3 = [0.05, 0.2, 0.5]


def test_bad_arguments(rng):
    X = rng.random((30, 16))
    est = MemorizingDenoiser(image_shape=(4, 4))
    with pytest.raises(ValueError, match="needs 2\\*N"):
        generalization_curve(est, X, [1, 20], verbose=0)
    with pytest.raises(ValueError, match="positive"):
        generalization_curve(est, X, [0, 2], verbose=0)
    with pytest.raises(TypeError, match="sample"):
        generalization_curve(object(), X, [2], verbose=0)
    with pytest.raises(ValueError, match="n_samples"):
        generalization_curve(est, X, [2], n_samples=0, verbose=0)


def test_network_sweep_sequential_equals_dask(rng):
    """Fits through joblib's dask backend on a local distributed cluster give the sequential results."""
    distributed = pytest.importorskip("distributed")
    import joblib

    X = rng.random((40, 64)).astype(np.float32)
    kw = dict(image_shape=(8, 8), n_samples=4, sigmas=PAPER3, n_psnr_images=8, verbose=0)
    seq = generalization_curve(_tiny_net(), X, [2, 6], n_jobs=1, **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl):
        with joblib.parallel_config(backend="dask"):
            par = generalization_curve(_tiny_net(), X, [2, 6], n_jobs=2, **kw)
    for a, b in zip(seq.per_size, par.per_size):
        for key in ("samples_A", "samples_B", "psnr_train_A", "psnr_test_B", "cross_similarity"):
            np.testing.assert_array_equal(a[key], b[key])
    assert seq.table()[0]["mem_cosine_A"] == par.table()[0]["mem_cosine_A"]


def test_learning_curve_with_memorization_scorer(rng):
    X = rng.random((40, 64))
    scorer = memorization_scorer(8, random_state=0)
    sizes, train, test = learning_curve(MemorizingDenoiser(image_shape=(8, 8), beta=1.0), X, None, train_sizes=[3, 12],
                                        cv=KFold(2), scoring=scorer)
    assert sizes.tolist() == [3, 12]
    np.testing.assert_array_equal(train, 1.0)  # every sample copies an image of its training subset
    np.testing.assert_array_equal(test, 0.0)  # and none copies a held-out image


def test_learning_curve_with_network_runs():
    rng = np.random.default_rng(1)
    X = rng.random((24, 64)).astype(np.float32)
    sizes, train, test = learning_curve(_tiny_net(), X, None, train_sizes=[2, 8], cv=KFold(2),
                                        scoring=memorization_scorer(4, rule="cosine"))
    assert train.shape == (2, 2) and np.all((train >= 0) & (train <= 1)) and np.all(np.isfinite(test))


def test_grid_search_over_training_size(rng):
    X = rng.random((40, 64))
    gs = GridSearchCV(TrainingSubset(MemorizingDenoiser(image_shape=(8, 8), beta=1.0)), {"n_train": [2, 10]},
                      scoring=memorization_scorer(6), cv=KFold(2), return_train_score=True)
    gs.fit(X)
    np.testing.assert_array_equal(gs.cv_results_["mean_train_score"], 1.0)
    np.testing.assert_array_equal(gs.cv_results_["mean_test_score"], 0.0)
    assert gs.best_estimator_.n_train_ in (2, 10)
    with pytest.raises(ValueError, match="n_train"):
        TrainingSubset(MemorizingDenoiser(), n_train=100).fit(X)


def test_every_argument_is_checked_before_the_first_fit(rng, monkeypatch):
    from gahb import DiffusionDenoiser
    from gahb.experiments import generalization as gen

    X = rng.random((12, 16))
    monkeypatch.setattr(gen, "run_group", lambda *a, **k: pytest.fail("a fit started"))
    bad = [
        (DiffusionDenoiser(sigma_final=2.0, image_shape=(4, 4)), {}, "sigma_final"),
        (DiffusionDenoiser(image_shape=(3, 3)), {}, "image_shape"),
        (DiffusionDenoiser(image_shape=(4, 4), beta=7.5), {}, "beta"),
        (DiffusionDenoiser(image_shape=(4, 4)), {"threshold": 1e9}, "threshold"),
        (DiffusionDenoiser(image_shape=(4, 4)), {"epsilon": 5}, "epsilon"),
        (DiffusionDenoiser(image_shape=(4, 4)), {"sigmas": [0.1, -1]}, "sigmas"),
    ]
    if not __import__("torch").cuda.is_available():
        bad.append((DiffusionDenoiser(image_shape=(4, 4), device="cuda"), {}, "CUDA"))
    for est, kw, match in bad:
        with pytest.raises(ValueError, match=match):
            generalization_curve(est, X, [2], verbose=0, **kw)


class _Diverging(MemorizingDenoiser):
    """A memorizer whose every third sample diverges (a NaN row), as a sampler that blows up does."""

    def sample(self, n_samples, random_state=None, return_info=False):
        X = np.asarray(super().sample(n_samples, random_state=random_state), dtype=np.float64)
        X[::3] = np.nan
        return X


def test_diverged_samples_are_left_out_and_counted(rng):
    X = rng.random((40, 16))
    res = generalization_curve(_Diverging(image_shape=(4, 4), beta=1.0), X, [2, 10], n_samples=9, sigmas=[],
                               verbose=0)
    t = res.to_dict()
    np.testing.assert_array_equal(t["n_nan_samples"], [6, 6])  # 3 of 9 per model, two models
    np.testing.assert_array_equal(t["mem_cosine_A"], 1.0)  # the finite samples are all copies
    d = res[10]
    assert np.isnan(d["cross_similarity"][::3]).all() and np.isfinite(d["cross_similarity"][1::3]).all()
    assert (d["nearest_index_A"][::3] == -1).all() and not d["flags_A"][::3].any()


def test_near_duplicate_training_sets_and_held_out_images_warn(rng, tmp_path):
    from gahb.exceptions import NearDuplicateWarning
    from gahb.report import Report

    base = np.repeat(rng.random((5, 16)), 8, axis=0)  # every image 8 times, as one photo at several resolutions
    X = base + 0.01 * rng.random(base.shape)
    est = MemorizingDenoiser(image_shape=(4, 4), beta=1.0)
    with pytest.warns(NearDuplicateWarning) as rec:
        res = generalization_curve(est, X, [2, 10], n_samples=4, sigmas=[0.1], n_psnr_images=8, verbose=0)
    messages = [str(w.message) for w in rec]
    assert re.search(r"median similarity of each A image to its nearest B image is (0\.99\d|1\.000) \(>= threshold "
                     r"0\.95\) at N = 10.*--dedup 0.95", messages[0])
    assert "held-out images of the PSNR curves have near-duplicates" in messages[1]
    assert len(res.data_warnings) == 2
    rep = Report(tmp_path, "t")
    res.to_report(rep)
    rep.write()
    md = (tmp_path / "report.md").read_text()
    assert md.index("Warning: overlapping data") < md.index("## Summary") and "--dedup" in md
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", NearDuplicateWarning)  # distinct images: silent
        clean = generalization_curve(est, rng.random((40, 16)), [2, 10], n_samples=4, sigmas=[], verbose=0)
    assert clean.data_warnings == []


def test_patch_size_is_checked_before_any_fit():
    import numpy as np
    import pytest

    from gahb import DiffusionDenoiser
    from gahb.experiments import generalization_curve

    X = np.random.default_rng(0).random((8, 16))
    est = DiffusionDenoiser(width=4, n_blocks=1, max_iter=1, image_shape=(4, 4))
    for bad in (1, 5, 2.5):
        with pytest.raises(ValueError, match="patch_size"):
            generalization_curve(est, X, [2], image_shape=(4, 4), patch_size=bad, verbose=0)
