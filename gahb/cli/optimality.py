"""``gahb optimality``: the GAHB optimality experiments (C-alpha slopes, disks, shuffled control) as reports."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from gahb.denoiser import DiffusionDenoiser
from gahb.experiments.optimality import (
    DEFAULT_ESTIMATOR,
    SLOPE_WINDOW,
    c_alpha_optimality,
    disk_optimality,
    shuffled_control,
    write_c_alpha_report,
    write_disk_report,
    write_shuffled_report,
)

QUICK = dict(image_size=8, n_train=200, n_test=16, steps=20, width=8, n_psnr_images=16)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``gahb optimality``."""
    parser.add_argument("experiment", nargs="?", default="all", choices=("c-alpha", "disks", "shuffled", "all"),
                        help="which experiment (default: %(default)s; shuffled runs disks too and reuses its data and model)")
    parser.add_argument("-o", "--output", default="optimality-report", help="output folder (default: %(default)s)")
    parser.add_argument("--alphas", default="1,2,3,5", help="C^alpha regularities (default: %(default)s)")
    parser.add_argument("--image-size", type=int, default=16, help="image side (default: %(default)s; paper: 80)")
    parser.add_argument("--n-train", type=int, default=4000, help="training images (default: %(default)s; paper: 1e5)")
    parser.add_argument("--n-test", type=int, default=200, help="held-out images (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=DEFAULT_ESTIMATOR["max_iter"], help="optimizer steps per model")
    parser.add_argument("--width", type=int, default=DEFAULT_ESTIMATOR["width"], help="UNet width (paper: 64)")
    parser.add_argument("--n-blocks", type=int, default=DEFAULT_ESTIMATOR["n_blocks"], help="UNet levels (paper: 3)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_ESTIMATOR["batch_size"])
    parser.add_argument("--n-psnr-images", type=int, default=200, help="test images per noise level")
    parser.add_argument("--window", default=f"{SLOPE_WINDOW[0]:g},{SLOPE_WINDOW[1]:g}",
                        help="slope fit window in input PSNR dB, lo,hi (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's; 1 is fastest on a shared machine)")
    parser.add_argument("--quick", action="store_true", help="tiny configuration to check the installation")
    parser.add_argument("-q", "--quiet", action="store_true")


def _save(res, folder):
    import joblib

    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump({k: v for k, v in res.items() if k not in ("model", "data")}, folder / "result.joblib")


def run(args) -> int:
    if args.threads is not None:
        torch.set_num_threads(int(args.threads))
    cfg = {k: getattr(args, k) for k in ("image_size", "n_train", "n_test", "steps", "width", "n_psnr_images")}
    if args.quick:
        cfg.update(QUICK)
    try:
        window = tuple(float(v) for v in args.window.split(","))
        alphas = [int(a) if float(a).is_integer() else float(a) for a in args.alphas.split(",")]
        assert len(window) == 2 and window[0] < window[1]
    except (ValueError, AssertionError):
        raise SystemExit(f"--window must be lo,hi and --alphas comma-separated numbers; got {args.window!r}, "
                         f"{args.alphas!r}.") from None
    est = DiffusionDenoiser(**{**DEFAULT_ESTIMATOR, "max_iter": cfg["steps"], "width": cfg["width"],
                               "n_blocks": args.n_blocks, "batch_size": args.batch_size})
    common = dict(image_size=cfg["image_size"], n_train=cfg["n_train"], n_test=cfg["n_test"], estimator=est,
                  window=window, n_psnr_images=cfg["n_psnr_images"], device=args.device, random_state=args.seed,
                  verbose=0 if args.quiet else 1)
    out = Path(args.output)
    written = []
    if args.experiment in ("c-alpha", "all"):
        res = c_alpha_optimality(alphas, **common, n_compare=4 if args.quick else 8)
        _save(res, out / "c-alpha")
        written.append(write_c_alpha_report(res, out / "c-alpha")[0])
    if args.experiment in ("disks", "shuffled", "all"):
        disk = disk_optimality(**common, return_model=True, n_eigen_images=2 if args.quick else 8)
        _save(disk, out / "disks")
        written.append(write_disk_report(disk, out / "disks")[0])
        if args.experiment in ("shuffled", "all"):
            n = cfg["n_train"]
            sh = shuffled_control(disk.data.data[:n], disk.data.data[n:], disk.data.image_shape,
                                  base_model=disk.model, **{k: common[k] for k in
                                  ("estimator", "window", "n_psnr_images", "device", "random_state", "verbose")})
            _save(sh, out / "shuffled")
            written.append(write_shuffled_report(sh, out / "shuffled")[0])
    for path in written:
        print(f"wrote {path}")
    return 0
