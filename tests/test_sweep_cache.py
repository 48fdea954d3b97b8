"""Resumable sweeps: finished fits are stored at once, a rerun loads them and trains only the missing ones, and a
folder of another sweep is refused before any training with nothing deleted."""

import json
import os

import numpy as np
import pytest

from gahb import DiffusionDenoiser
from gahb.cli import main
from gahb.experiments import _sweep, generalization_curve


def _net(**kw):
    params = dict(width=8, n_blocks=2, max_iter=10, batch_size=8, image_shape=(8, 8), random_state=0, beta=1.0,
                  h0=0.05, max_sample_steps=20, device="cpu")
    params.update(kw)
    return DiffusionDenoiser(**params)


X = np.random.default_rng(0).random((30, 64)).astype(np.float32)
KW = dict(image_shape=(8, 8), n_samples=3, sigmas=[0.2], n_psnr_images=4, verbose=0)


def _interrupt_after(monkeypatch, n_fits):
    """Make the sweep raise KeyboardInterrupt (as Ctrl-C would) when fit number ``n_fits + 1`` is scored."""
    real, calls = _sweep._sample_and_score, []

    def flaky(*args, **kwargs):
        if len(calls) == n_fits:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_sweep, "_sample_and_score", flaky)


def _files(folder):
    return sorted(f for f in os.listdir(folder) if not f.startswith("."))


@pytest.mark.parametrize("vectorize", [False, 2])
def test_interrupted_sweep_resumes_to_the_same_numbers(tmp_path, monkeypatch, vectorize):
    full = generalization_curve(_net(), X, [2, 4, 6], vectorize=vectorize, **KW)
    cache = tmp_path / "fits"
    with monkeypatch.context() as m:
        _interrupt_after(m, 3)
        with pytest.raises(KeyboardInterrupt):
            generalization_curve(_net(), X, [2, 4, 6], vectorize=vectorize, cache_dir=cache, **KW)
    assert _files(cache) == sorted(["sweep.json"] + [f"{k}{ext}" for k in ("N2_A", "N4_A", "N6_A")
                                                     for ext in (".safetensors", ".model.safetensors")])
    again = generalization_curve(_net(), X, [2, 4, 6], vectorize=vectorize, cache_dir=cache, **KW)
    assert again.n_cached_ == 3 and sum(i["from_cache"] for i in again.fit_info_.values()) == 3
    assert again.table() == [{**row, "fit_seconds": b["fit_seconds"], "cpu_seconds": b["cpu_seconds"]}
                             for row, b in zip(full.table(), again.table())]
    for a, b in zip(full.per_size, again.per_size):
        for key in ("samples_A", "samples_B", "psnr_train_A", "psnr_test_B", "n_steps_A", "converged_B"):
            np.testing.assert_array_equal(a[key], b[key])
    # a third run of some of the sizes (same largest N, so the same split) trains nothing; models come from files
    third = generalization_curve(_net(), X, [4, 6], vectorize=vectorize, cache_dir=cache, keep_estimators=True, **KW)
    assert third.n_cached_ == 4
    # the model loaded from its file samples what the trained one sampled in the first run (same seed)
    np.testing.assert_array_equal(third.estimators_[(4, "B")].sample(3, random_state=0), full[4]["samples_B"])
    np.testing.assert_array_equal(third[4]["samples_B"], full[4]["samples_B"])


def test_fit_stopped_early_is_not_stored(tmp_path, monkeypatch):
    """Ctrl-C in the main thread ends DiffusionDenoiser.fit early with a usable model: the sweep stops there and
    stores nothing for that fit, so a rerun trains it again instead of loading a half-trained model."""
    real = DiffusionDenoiser.fit

    def stopped_early(self, X, *args, **kwargs):
        real(self, X, *args, **kwargs)
        self.n_iter_ = self.max_iter // 2  # as after a Ctrl-C that fit caught
        return self

    monkeypatch.setattr(DiffusionDenoiser, "fit", stopped_early)
    with pytest.raises(KeyboardInterrupt):
        generalization_curve(_net(), X, [2], cache_dir=tmp_path / "fits", vectorize=False, **KW)
    assert _files(tmp_path / "fits") == ["sweep.json"]


def test_another_sweep_is_refused_before_training(tmp_path, monkeypatch):
    cache = tmp_path / "fits"
    generalization_curve(_net(), X, [2], cache_dir=cache, **KW)
    (cache / "notes.txt").write_text("mine")
    before = {f: (cache / f).read_bytes() for f in _files(cache)}

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(_sweep, "run_group", no_training)
    monkeypatch.setattr("gahb.experiments.generalization.run_group", no_training)
    with pytest.raises(ValueError, match=r"another sweep \(different params.max_iter: 10 there, 11 here\)"):
        generalization_curve(_net(max_iter=11), X, [2], cache_dir=cache, **KW)
    with pytest.raises(ValueError, match="n_samples"):
        generalization_curve(_net(), X, [2], cache_dir=cache, **{**KW, "n_samples": 4})
    with pytest.raises(ValueError, match="N2_A trained or tested on other images"):
        generalization_curve(_net(), X[::-1].copy(), [2], cache_dir=cache, **KW)
    with pytest.raises(ValueError, match="integer random_state"):
        generalization_curve(_net(random_state=None), X, [2], cache_dir=cache, **KW)
    (tmp_path / "f").write_text("a file")
    with pytest.raises(ValueError, match="is a file"):
        generalization_curve(_net(), X, [2], cache_dir=tmp_path / "f", **KW)
    assert {f: (cache / f).read_bytes() for f in _files(cache)} == before  # nothing changed or deleted
    # settings that change only the float rounding do not invalidate the folder
    ok = generalization_curve(_net(), X, [2], cache_dir=cache, threads_per_fit=1, n_jobs=1, **KW)
    assert ok.n_cached_ == 2


def test_sizes_that_do_not_fit_the_data(tmp_path):
    with pytest.raises(ValueError, match="needs 2\\*N = 40 images"):
        generalization_curve(_net(), X, [2, 20], cache_dir=tmp_path / "c", **KW)
    assert not (tmp_path / "c").exists()
    with pytest.raises(ValueError, match="vectorize trains DiffusionDenoiser"):
        from gahb import MemorizingDenoiser

        generalization_curve(MemorizingDenoiser(image_shape=(8, 8)), X, [2], vectorize=True, **KW)


def test_cli_transition_continues_after_a_kill(tmp_path, monkeypatch):
    args = ["transition", "--quick", "--sizes", "1,3", "--steps", "8", "--n-samples", "3", "--n-psnr-images", "4",
            "--jobs", "1", "-q"]
    assert main(args + ["-o", str(tmp_path / "full")]) == 0
    out = tmp_path / "killed"
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        assert main(args + ["-o", str(out)]) == 130  # Ctrl-C: exit code 130, finished fits kept
    assert not (out / "report.json").exists() and len([f for f in _files(out / "fits") if "model" in f]) == 2
    assert main(args + ["-o", str(out)]) == 0
    full, resumed = (json.loads((d / "report.json").read_text()) for d in (tmp_path / "full", out))
    timing = ("fit_seconds", "cpu_seconds")
    assert {k: v for k, v in resumed["table"].items() if k not in timing} == \
        {k: v for k, v in full["table"].items() if k not in timing}
    timing += ("wall_seconds",)
    assert {k: v for k, v in resumed["summary"].items() if k not in timing} == \
        {k: v for k, v in full["summary"].items() if k not in timing}
    # the same folder with other settings: a usage error naming --output, nothing deleted
    assert main(args + ["--steps", "9", "--overwrite", "-o", str(out)]) == 2
    assert (out / "report.json").exists() and len(_files(out / "fits")) == 9


def test_a_damaged_fit_file_is_trained_again_and_a_foreign_one_refused(tmp_path):
    """A fit file cut short or altered (its checksum fails) is never trusted: a warning, that fit trained again,
    the same numbers; a file that reads as another program's is refused and left alone."""

    from gahb import MemorizingDenoiser
    from gahb.experiments import generalization_curve
    from gahb.experiments._sweep import SweepCacheError

    X = np.random.default_rng(0).random((10, 16))

    def sweep():
        return generalization_curve(MemorizingDenoiser(image_shape=(4, 4), beta=1.0), X, [2], n_samples=3,
                                    sigmas=[], verbose=0, cache_dir=tmp_path / "fits")

    first = sweep()
    fit = tmp_path / "fits" / "N2_A.safetensors"
    data = bytearray(fit.read_bytes())
    data[-5] ^= 0xFF  # one flipped byte in the stored samples: safetensors itself would load it
    fit.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=r"N2_A.safetensors' is damaged .*checksum.*trained again"):
        again = sweep()
    assert again.n_cached_ == 1  # B came from the cache, A was retrained
    np.testing.assert_array_equal(again[2]["samples_A"], first[2]["samples_A"])
    fit.write_bytes(fit.read_bytes()[:100])
    with pytest.warns(UserWarning, match="is damaged"):
        sweep()
    from safetensors.numpy import save_file

    save_file({"x": np.zeros(2)}, str(fit))  # a readable safetensors file without gahb's metadata
    with pytest.raises(SweepCacheError, match="that gahb's sweeps did not write"):
        sweep()
    assert fit.stat().st_size > 0
