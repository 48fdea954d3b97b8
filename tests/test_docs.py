"""The documentation site builds offline, strictly (broken links, missing pages or API objects fail).

Every public object is rendered somewhere, including the methods a class inherits from a mixin.
"""

import glob
import os
import re
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
        # no -q: mkdocs' quiet mode drops the warnings that --strict counts, so a warning would pass
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    for page in ["index.html", "denoiser/index.html", "sampling/index.html", "api/index.html"]:
        assert (out / page).exists(), page
    api = (out / "api" / "index.html").read_text()
    assert "DiffusionDenoiser" in api and "max_iter" in api  # numpydoc parameters were rendered
    rendered = set()
    for page in glob.glob(str(out / "**" / "*.html"), recursive=True):
        rendered |= set(re.findall(r'id="(gahb[\w.]*)"', open(page, encoding="utf-8").read()))
    # an object counts as rendered under any path that ends with its owner and name (re-exports render as such)
    shown = {tuple(r.split(".")[-2:]) for r in rendered}
    missing = [name for name in public_names() if tuple(name.split(".")[-2:]) not in shown]
    assert not missing, f"public objects missing from the API pages: {missing}"
    _check_gallery(out)
    shutil.rmtree(out)


def public_names():
    """Dotted names of the public API: the estimators with their methods, and every public module's ``__all__``."""
    import importlib
    import inspect

    import gahb

    names = []
    for est in gahb.__all__:
        if est.startswith("__"):
            continue
        cls = getattr(gahb, est)
        names.append(f"gahb.{est}")
        names += [f"gahb.{est}.{m}" for m, v in inspect.getmembers(cls, inspect.isfunction)
                  if not m.startswith("_") and v.__module__.startswith("gahb") and v.__doc__]
    for mod in ["gahb.metrics", "gahb.datasets", "gahb.experiments.generalization", "gahb.experiments.optimality",
                "gahb.report", "gahb.core.nn", "gahb.core.training", "gahb.core.cost", "gahb.core.vectorized", "gahb.core.sampling",
                "gahb.core.operators", "gahb.core.random", "gahb.core.jacobian", "gahb.core.optimal"]:
        module = importlib.import_module(mod)
        names += [f"{mod}.{n}" for n in module.__all__ if callable(getattr(module, n))]
    assert "gahb.DiffusionDenoiser.sample" in names and "gahb.DiffusionDenoiser.reconstruct" in names
    return names


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
