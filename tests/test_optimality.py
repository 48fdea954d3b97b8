"""Optimality experiments: slope fitting, principal angles, tiny end-to-end runs with reports."""

import json

import numpy as np
import pytest

from gahb import DiffusionDenoiser
from gahb.experiments import optimality as opt

TINY = DiffusionDenoiser(width=4, n_blocks=1, max_iter=5, batch_size=8)


def test_psnr_slope_recovers_a_known_line():
    x = np.linspace(0, 42, 15)
    y = 0.75 * x + 3.0
    y[x > 35] = x[x > 35]  # outside the window: ignored
    slope, intercept, n = opt.psnr_slope(x, y, window=(10, 30))
    assert abs(slope - 0.75) < 1e-12 and abs(intercept - 3.0) < 1e-10
    assert n == int(((x >= 10) & (x <= 30)).sum())
    with pytest.raises(ValueError, match="window"):
        opt.psnr_slope(x, y, window=(100, 200))
    mid, local = opt.local_slopes(x[::-1], y[::-1])
    np.testing.assert_allclose(local[(mid > 10) & (mid < 30)], 0.75)


def test_principal_cosines():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((20, 5)))
    np.testing.assert_allclose(opt._principal_cosines(Q @ rng.standard_normal((5, 5)), Q), 1.0, atol=1e-10)
    Q2, _ = np.linalg.qr(rng.standard_normal((20, 10)))
    cos = opt._principal_cosines(Q2[:, :5], Q2[:, 5:])
    np.testing.assert_allclose(cos, 0.0, atol=1e-10)


def test_disk_and_shuffled_end_to_end(tmp_path):
    disk = opt.disk_optimality(image_size=8, n_train=32, n_test=4, estimator=TINY, n_psnr_images=4,
                               n_eigen_images=2, spectrum_sigmas=(0.04, 0.2), random_state=0, return_model=True)
    assert disk.eigenvalues.shape == (2, 10)
    assert disk.principal_angles_deg.shape == (2, 5)
    assert np.all((disk.principal_angles_deg >= 0) & (disk.principal_angles_deg <= 90))
    assert abs(disk.optimal_offset - 10 * np.log10(64 / 5)) < 1e-12
    md, js = opt.write_disk_report(disk, tmp_path / "disks")
    data = json.loads(js.read_text())
    assert len(data["eigenvalues"][0]) == 10 and "Disks" in md.read_text()
    sh = opt.shuffled_control(disk.data.data[:32], disk.data.data[32:], (8, 8), estimator=TINY, base_model=disk.model,
                              n_psnr_images=4, random_state=0)
    assert sorted(sh.permutation.tolist()) == list(range(64))
    np.testing.assert_allclose(sh.original.curve.output_psnr, disk.curve.output_psnr)  # the reused model
    md, _ = opt.write_shuffled_report(sh, tmp_path / "shuffled")
    assert (tmp_path / "shuffled" / "shuffled_eigenvectors.png").exists()


def test_c_alpha_end_to_end(tmp_path):
    res = opt.c_alpha_optimality((2,), image_size=8, n_train=32, n_test=4, estimator=TINY, n_psnr_images=4,
                                 n_compare=2, random_state=0)
    (r,) = res.results
    assert r.optimal_slope == pytest.approx(2 / 3) and r.paper_slope == 0.61
    methods = [row["method"] for row in r.shrinkage]
    assert "network f(y)" in methods and "wavelet basis, oracle lambda" in methods
    # J_s y and f(y) differ only by the asymmetric part: close PSNRs
    assert abs(r.shrinkage[0]["psnr"] - r.shrinkage[1]["psnr"]) < 1.0
    _, js = opt.write_c_alpha_report(res, tmp_path)
    assert json.loads(js.read_text())["results"][0]["alpha"] == 2.0


@pytest.mark.slow
def test_command_line_quick(tmp_path):
    from gahb.cli import main

    assert main(["optimality", "all", "--quick", "-q", "--threads", "1", "-o", str(tmp_path)]) == 0
    for name in ("c-alpha", "disks", "shuffled"):
        assert (tmp_path / name / "report.md").exists()
