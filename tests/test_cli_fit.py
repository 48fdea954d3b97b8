"""`gahb fit`: a tiny run writes model, checkpoints and report; --resume continues bitwise; --dry-run numbers
match a hand count of the paper UNet; --nproc goes through torchrun; bad options fail before any work."""

import json
import re
import subprocess
import sys

import pytest
import torch
from _helpers import ctrl_c_at_step

import gahb.cli.fit as fit_cli
from gahb import DiffusionDenoiser
from gahb.cli import main

TINY = ["--image-size", "8", "--width", "4", "--n-blocks", "2", "--n-images", "64", "--n-val", "16",
        "--batch-size", "8", "--steps", "20", "--log-every", "5", "--checkpoint-every", "10", "--device", "cpu", "-q"]


def test_fit_writes_model_checkpoints_report_and_resumes_bitwise(tmp_path):
    out = tmp_path / "run"
    assert main(["fit", "-o", str(out), *TINY]) == 0
    data = json.loads((out / "report.json").read_text())
    assert data["n_iter"] == 20 and len(data["loss_curve"]) == len(data["validation_scores"]) == 4
    assert data["images_per_second"] > 0 and "images/s" in (out / "report.md").read_text()
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert ckpts == ["checkpoint-000000010.safetensors", "checkpoint-000000020.safetensors"]
    first = DiffusionDenoiser.load(out / "model.safetensors")
    # a crash after step 10: the step-20 checkpoint, model and report never got written
    for name in ("checkpoints/checkpoint-000000020.safetensors", "model.safetensors", "report.md", "report.json"):
        (out / name).unlink()
    assert main(["fit", "-o", str(out), *TINY, "--resume"]) == 0
    again = DiffusionDenoiser.load(out / "model.safetensors")
    assert again.n_iter_ == 20
    for k, v in first.network_.state_dict().items():
        assert torch.equal(v, again.network_.state_dict()[k]), k
    assert again.loss_curve_ == first.loss_curve_


def test_fit_resume_and_folder_errors(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["fit", "-o", str(out), *TINY, "--resume"]) == 2
    assert "--resume: no checkpoint in" in capsys.readouterr().err
    assert main(["fit", "-o", str(out), *TINY, "--steps", "10"]) == 0
    (out / "report.md").unlink()
    (out / "report.json").unlink()
    (out / "model.safetensors").unlink()
    assert main(["fit", "-o", str(out), *TINY]) == 2
    assert "holds checkpoints of an earlier run" in capsys.readouterr().err
    assert main(["fit", "-o", str(out), *TINY, "--resume", "--width", "8"]) == 2
    assert "checkpoint of another model (--width 4 -> 8)" in capsys.readouterr().err
    assert main(["fit", "-o", str(out), *TINY, "--resume", "--image-size", "16"]) == 2
    assert "--image-size 8 -> 16" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--checkpoint-every", "0"], "--checkpoint-every must be"),
    (["--n-val", "-1"], "--n-val must be >= 0"),
    (["--learning-rate", "-1"], "--learning-rate must be"),
    (["--device", "tpu"], "--device tpu"),
])
def test_fit_bad_options_fail_before_any_work(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.setattr(fit_cli, "load_pool", lambda *a, **k: pytest.fail("data loaded"))
    assert main(["fit", "-o", str(tmp_path / "o"), *TINY, *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_fit_unknown_precision_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "-o", str(tmp_path), "--precision", "fp8"])
    assert exc.value.code == 2


def _paper_unet_hand_count():
    """Convolutions of the paper UNet at 80 x 80 (Section 2 / Appendix A), layer by layer: 2 k^2 C_in C_out H W."""
    layers = [  # (k*k, c_in, c_out, side)
        (9, 1, 64, 80), (9, 64, 64, 80), (9, 64, 128, 40), (9, 128, 128, 40), (9, 128, 256, 20),
        (9, 256, 256, 20), (9, 256, 512, 10), (9, 512, 512, 10),  # encoder and mid block
        (4, 512, 256, 10), (9, 512, 256, 20), (9, 256, 256, 20),  # up 10 -> 20 (per input pixel), decoder
        (4, 256, 128, 20), (9, 256, 128, 40), (9, 128, 128, 40),
        (4, 128, 64, 40), (9, 128, 64, 80), (9, 64, 1, 80),
    ]
    params = sum(k * ci * co for k, ci, co, _ in layers) + 64 * 2 + 128 * 4 + 256 * 4 + 512 * 2  # BN gains
    return params, sum(2 * k * ci * co * s * s for k, ci, co, s in layers)


def test_dry_run_numbers_match_a_hand_count_of_the_paper_unet(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fit_cli, "load_pool", lambda *a, **k: pytest.fail("a dry run loads no data"))
    monkeypatch.setattr("gahb.core.cost.step_seconds", lambda *a, **k: 0.5)  # the timing probe is tested below
    out = tmp_path / "never"
    assert main(["fit", "--preset", "paper-80", "--dry-run", "--device", "cpu", "-o", str(out)]) == 0  # no data needed
    text = capsys.readouterr().out
    params, forward = _paper_unet_hand_count()
    assert params == 7_659_264
    assert f"parameters: {params:,}" in text
    flops = float(re.search(r"FLOPs per step: ([0-9.e+]+)", text).group(1))
    assert abs(flops - 3 * 512 * forward) <= 0.05 * 3 * 512 * forward
    assert "488,282 steps" in text and "batch 512" in text and "80x80" in text
    gib = float(re.search(r"memory per process: ([0-9.]+) GiB", text).group(1))
    assert 10 < gib < 40  # ~17 GiB of fp32 activations at batch 512: the paper trained on several GPUs
    assert "estimated time on cpu" in text and not out.exists()


def test_dry_run_time_estimate_from_a_measured_step(tmp_path):
    from gahb.cli import build_parser

    args = build_parser().parse_args(["fit", *TINY, "--steps", "1000", "--dry-run"])
    est = fit_cli._resolve(args)
    info = fit_cli.dry_run(args, est)
    assert info["probe_step_seconds"] > 0 and info["parameters"] > 0
    assert info["estimated_seconds"] == pytest.approx(1000 * info["flops_per_step"] / info["measured_flops_per_second"])
    bf = build_parser().parse_args(["fit", "--preset", "paper-40-bfcnn", "--dataset", "dead-leaves", "--dry-run"])
    fit_cli._resolve(bf)
    assert (bf.architecture, bf.width, bf.n_layers, bf.image_size, bf.batch_size) == ("bfcnn", 64, 21, 40, 512)
    explicit = build_parser().parse_args(["fit", "--preset", "paper-80", "--width", "32", "--dataset", "disks"])
    fit_cli._resolve(explicit)
    assert explicit.width == 32 and explicit.n_blocks == 3  # an explicit option wins over the preset


def test_nproc_relaunches_through_torchrun(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(fit_cli.subprocess, "run", lambda cmd, check: calls.append(cmd) or
                        subprocess.CompletedProcess(cmd, 0))
    assert main(["fit", "-o", str(tmp_path / "o"), *TINY, "--nproc", "2"]) == 0
    (cmd,) = calls
    assert cmd[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2", "-m"]
    assert cmd[6:8] == ["gahb", "fit"] and "--nproc" not in cmd and "--steps" in cmd
    assert main(["fit", "-o", str(tmp_path / "p"), *TINY, "--npr=2"]) == 0  # argparse's abbreviation too
    assert not [a for a in calls[1][6:] if a.startswith("--np")] and "--steps" in calls[1]


def test_nproc_two_cpu_processes_end_to_end(tmp_path):
    """gahb fit --nproc 2 through torchrun with gloo (about 8 s): both ranks train, rank 0 writes, all exit 0."""
    out = tmp_path / "ddp"
    r = subprocess.run([sys.executable, "-m", "gahb", "fit", "-o", str(out), *TINY, "--nproc", "2", "--threads", "1"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    data = json.loads((out / "report.json").read_text())
    assert data["world_size"] == 2 and data["n_iter"] == 20
    assert DiffusionDenoiser.load(out / "model.safetensors").n_iter_ == 20


def test_ctrl_c_during_gahb_fit_checkpoints_and_resume_finishes(tmp_path, monkeypatch, capsys):
    stop_interrupting = ctrl_c_at_step(monkeypatch, 7)
    out = tmp_path / "run"
    assert main(["fit", "-o", str(out), *TINY]) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]  # one closing line says it (not Python's warning)
    assert last.startswith("gahb: interrupted at step 7 of 20;") and last.endswith("continue with --resume")
    assert (out / "checkpoints" / "checkpoint-000000007.safetensors").exists()
    assert "Interrupted at step 7 of 20" in (out / "report.md").read_text()
    stop_interrupting()
    assert main(["fit", "-o", str(out), *TINY, "--resume"]) == 0
    assert main(["fit", "-o", str(tmp_path / "straight"), *TINY]) == 0
    a, b = (DiffusionDenoiser.load(p / "model.safetensors") for p in (out, tmp_path / "straight"))
    assert a.n_iter_ == 20 and all(torch.equal(v, b.network_.state_dict()[k]) for k, v in a.network_.state_dict().items())
