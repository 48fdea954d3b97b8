"""resolution_study: the crossing N is interpolated in log N / log gap; the study runs end to end."""

import numpy as np
import pytest

from gahb import DiffusionDenoiser
from gahb.datasets import make_dead_leaves
from gahb.experiments import resolution_study
from gahb.experiments.resolution import crossing_size


def test_crossing_size_known_answers():
    assert crossing_size([1, 10, 100], [10.0, 1.0, 0.1], 1.0) == pytest.approx(10.0)
    assert crossing_size([1, 10, 100], [10.0, 1.0, 0.1], np.sqrt(0.1)) == pytest.approx(10**1.5)  # log-log midpoint
    assert crossing_size([1, 10], [0.5, 0.1], 1.0) == 1.0  # already below at the smallest N
    assert crossing_size([1, 10], [5.0, 2.0], 1.0) is None  # never reached


def test_resolution_study_runs(tmp_path):
    X_by = {s: make_dead_leaves(12, image_size=s, random_state=0).data for s in (4, 8)}
    est = DiffusionDenoiser(width=4, max_iter=5, batch_size=4)
    res = resolution_study(est, X_by, [1, 4], n_blocks={4: 1, 8: 2}, n_psnr_images=4, sigmas=[0.1, 0.3])
    assert res.image_sizes == [4, 8] and len(res.table()) == 4
    assert {r["n_blocks"] for r in res.rows if r["image_size"] == 8} == {2}
    assert set(res.crossings()) == {4, 8}
    with pytest.raises(ValueError, match="held-out"):
        resolution_study(est, X_by, [1, 10], n_psnr_images=4)
