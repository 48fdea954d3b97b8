"""Every example runs (with tiny settings) and writes only where told, or to a temporary folder, never into the repository."""

import os
import runpy
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SKIP_DIRS = {".git", ".hypothesis", "__pycache__", ".pytest_cache"}

pytest.importorskip("matplotlib")

# example -> (arguments for a small run, files it writes into --out, why it is slow or None)
RUNS = {
    "plot_datasets": (["--quick"], ["datasets.png"], None),
    "paired_samples": (["--n-train", "64", "--max-iter", "5", "--n-samples", "2"], ["paired_samples.png"], None),
    "eigenbasis": (["--steps", "5", "--n-train", "40"], ["eigenbasis.png"],
                   "eight 256 x 256 Jacobians and their bases: ~7 s"),
    "transition_sweep": (["--sizes", "1,2", "--steps", "5", "--n-samples", "4"], ["report.md"],
                         "4 fits in joblib worker processes and their PSNR curves: ~50 s"),
    "quickstart": ([], [], "trains 600 steps, as the README shows: ~30 s"),
}


def test_every_example_is_run_here():
    assert sorted(f[:-3] for f in os.listdir(EXAMPLES) if f.endswith(".py")) == sorted(RUNS)


def snapshot():
    files = {}
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for f in filenames:
            st = os.stat(os.path.join(dirpath, f))
            files[os.path.relpath(os.path.join(dirpath, f), ROOT)] = (st.st_mtime_ns, st.st_size)
    return files


def run_example(name, argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [name] + argv)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    before = snapshot()
    runpy.run_path(os.path.join(EXAMPLES, f"{name}.py"), run_name="__main__")
    after = snapshot()
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert not changed, f"examples/{name}.py wrote into the repository: {sorted(changed)}"


@pytest.mark.parametrize("name, argv, outputs", [
    pytest.param(name, argv, outputs, id=name, marks=[pytest.mark.slow(reason=slow)] if slow else [])
    for name, (argv, outputs, slow) in RUNS.items()
])
def test_example_writes_where_told(name, argv, outputs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    run_example(name, argv + (["--out", str(out)] if outputs else []), tmp_path, monkeypatch)
    for f in outputs:
        assert (out / f).stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name not in ("out", "tmp")]  # nothing in the working folder


def test_example_default_output_is_a_temporary_folder(tmp_path, monkeypatch, capsys):
    run_example("plot_datasets", ["--quick"], tmp_path, monkeypatch)
    (made,) = list((tmp_path / "tmp").iterdir())
    assert (made / "datasets.png").exists() and str(made) in capsys.readouterr().out
