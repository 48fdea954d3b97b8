"""`gahb figure`: the catalogue covers Figs 1-21, every figure with a command runs with --quick, usage errors."""

import json
import math

import pytest

from gahb.cli import main
from gahb.experiments.figures import FIGURES, estimate


def test_list_covers_every_figure(capsys):
    assert main(["figure", "--list"]) == 0
    out = capsys.readouterr().out
    assert sorted(FIGURES) == list(range(1, 22))
    for n in range(1, 22):
        assert f"Fig. {n:2d}  " in out
    assert out.count("status:") == 21 and out.count("command:") == 21
    for fig in FIGURES.values():  # a figure either has a command or says why it cannot be reproduced
        assert fig.command or fig.reason


@pytest.fixture(scope="module")
def quick_reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    assert main(["figure", "all", "--quick", "-q", "-o", str(out)]) == 0
    return out


@pytest.mark.parametrize("number", sorted(n for n, f in FIGURES.items() if f.command))
def test_quick_run_of_every_figure(quick_reports, number):
    folder = quick_reports / f"fig-{number:02d}"
    data = json.loads((folder / "report.json").read_text())
    md = (folder / "report.md").read_text()
    fig = data["figure"]
    assert fig["number"] == number and fig["scale"] == "quick" and fig["command"].startswith(f"gahb figure {number}")
    assert fig["comparison"], "every figure puts gahb's numbers beside the paper's"
    assert all({"quantity", "paper", "gahb"} <= set(r) for r in fig["comparison"])
    assert "The paper's numbers beside gahb's" in md and FIGURES[number].claim in md
    assert data["figures"], "at least one panel"
    for name in data["figures"]:
        assert (folder / name).stat().st_size > 1000 and f"]({name})" in md
    values = [r["gahb"] for r in fig["comparison"] if isinstance(r["gahb"], float)]
    assert values and all(math.isfinite(v) for v in values)


def test_single_figure_writes_into_output_and_refuses_overwrite(tmp_path, capsys):
    out = tmp_path / "f6"
    assert main(["figure", "6", "--quick", "-q", "-o", str(out)]) == 0
    assert (out / "report.json").is_file()
    assert main(["figure", "6", "--quick", "-q", "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_paper_scale_prints_the_estimate_first(tmp_path, capsys):
    assert main(["figure", "4", "--scale", "paper", "--dry-run", "-o", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "GPU-hours" in out and "195,312 steps of batch 512 at 80x80" in out
    # a figure on CelebA: the estimate, then a usage error naming the missing data, before any work
    assert main(["figure", "1", "--scale", "paper", "-o", str(tmp_path / "q")]) == 2
    cap = capsys.readouterr()
    assert "GPU-hours" in cap.out and "--data-path" in cap.err
    assert not (tmp_path / "q").exists()


def test_estimate_counts_the_paper_unet():
    # 12 models x 488,281 steps x 3 x 512 images x 6.70 GFLOP per forward (80 x 80 UNet)
    total, seconds, _ = estimate("transition", "paper", tflops=100.0)
    assert total == pytest.approx(12 * 488_281 * 3 * 512 * 6.70e9, rel=0.01)
    assert seconds == pytest.approx(total / 1e14)


@pytest.mark.parametrize("argv, needle", [
    (["figure"], "--list"), (["figure", "22"], "1-21"), (["figure", "x"], "1-21"),
    (["figure", "3", "--quick", "--scale", "paper"], "exclude"), (["figure", "3", "--jobs", "0"], "--jobs"),
    (["figure", "3", "--data-path", "/nonexistent/gahb"], "--data-path"),
])
def test_usage_errors(tmp_path, capsys, argv, needle):
    assert main(argv + ["-o", str(tmp_path / "o")]) == 2
    assert needle in capsys.readouterr().err
