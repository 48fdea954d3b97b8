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
    shutil.rmtree(out)
