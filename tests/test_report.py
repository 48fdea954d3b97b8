"""Report figures: drawn without pyplot, so a user's matplotlib backend is never changed."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CODE = """
import sys
import matplotlib
matplotlib.use("svg")  # a user's own choice (a notebook's inline backend, say)
import numpy as np
from gahb.report import Report, plot_image_grid, subplots

rep = Report(sys.argv[1], "demo")
rep.add_figure(plot_image_grid(np.random.default_rng(0).random((2, 3, 16)), (4, 4)), "grid")
fig, ax = subplots()
ax.plot([0, 1], [1, 0])
rep.add_figure(fig, "line")
rep.write()
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""


def test_reports_leave_the_backend_alone(tmp_path):
    out = subprocess.run([sys.executable, "-c", CODE, str(tmp_path)], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["svg", "False"]
    assert (tmp_path / "grid.png").stat().st_size > 0 and (tmp_path / "line.png").stat().st_size > 0
    assert "![line](line.png)" in (tmp_path / "report.md").read_text()
