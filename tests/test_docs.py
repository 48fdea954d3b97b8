"""The documentation site builds offline, strictly (broken links, missing pages or API objects fail)."""

import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_docs_build_strict(tmp_path):
    if not os.path.exists(os.path.join(ROOT, "mkdocs.yml")):
        pytest.skip("no mkdocs.yml next to the tests (installed package without sources)")
    out = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for page in ["index.html", "denoiser/index.html", "sampling/index.html", "api/index.html"]:
        assert (out / page).exists(), page
    api = (out / "api" / "index.html").read_text()
    assert "DiffusionDenoiser" in api and "max_iter" in api  # numpydoc parameters were rendered
    _check_gallery(out)
    shutil.rmtree(out)


def _check_gallery(out):
    """One page per figure; a page's numbers are those of the run's committed report.json."""
    import html
    import json

    from gahb.experiments.figures import FIGURES
    from gahb.experiments.figures._gallery import _fmt

    assert (out / "gallery" / "index.html").exists()
    runs = 0
    for n in FIGURES:
        page = out / "gallery" / f"fig-{n:02d}" / "index.html"
        text = html.unescape(page.read_text())
        assert f"Figure {n}" in text and FIGURES[n].claim in text
        report = os.path.join(ROOT, "docs", "gallery", f"fig-{n:02d}", "report.json")
        if os.path.isfile(report):
            runs += 1
            data = json.load(open(report))
            assert data["figure"]["scale"] == "cpu", "the gallery shows real runs, not --quick plumbing checks"
            for row in data["figure"]["comparison"]:
                assert _fmt(row["gahb"]) in text, (n, row)
            for name in data["figures"]:
                png = os.path.join(ROOT, "docs", "gallery", f"fig-{n:02d}", name)
                if os.path.isfile(png):
                    assert os.path.getsize(png) < 200_000, png
                    assert (out / "gallery" / f"fig-{n:02d}" / name).exists()
    return runs
