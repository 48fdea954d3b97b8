"""``gahb transition``: the memorization -> generalization sweep as a report folder (paper Figs 1-2).

The defaults were chosen by measurement (docs/transition.md): synthetic dead-leaves images at 12 x 12,
a bias-free UNet of width 16 with 3 levels, the same number of optimizer steps for every N, and the
deterministic sampler (beta = 1) that converges in tens of iterations at this scale.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

# Measured defaults (docs/transition.md): the whole sweep took 8 min 8 s on 2 idle CPU cores (2026-11-27),
# memorization 1.0 at N = 1, A-vs-B median 0.971 at N = 10^4 (chance 0.06), PSNR gap 25.7 -> 0.16 dB.
DEFAULTS = dict(dataset="dead-leaves", image_size=12, sizes="1,10,100,1000,10000", architecture="unet", width=16,
                n_blocks=2, n_layers=21, steps=3000, batch_size=64, learning_rate=1e-3, n_samples=64, beta=1.0,
                h0=0.01, sigma_final=0.05, max_sample_steps=1000, n_psnr_images=300, jobs=2, seed=0)
# A tiny configuration that runs in well under a minute: checks the plumbing, shows no transition.
QUICK = dict(image_size=8, sizes="1,4,16", width=8, n_blocks=2, steps=60, batch_size=16, n_samples=6,
             n_psnr_images=16, max_sample_steps=60, h0=0.05)

DATASETS = ("dead-leaves", "c-alpha", "disks", "photo-tiles", "fashion-mnist", "celeba")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``gahb transition``."""
    d = DEFAULTS
    parser.add_argument("-o", "--output", "--out", dest="output", default="transition-report",
                        help="output folder (default: %(default)s)")
    parser.add_argument("--dataset", choices=DATASETS, default=d["dataset"],
                        help="image source (default: %(default)s, synthetic, no files needed)")
    parser.add_argument("--data-path", default=None,
                        help="folder or file for photo-tiles / fashion-mnist / celeba "
                             "(fashion-mnist default: /usr/share/datasets/fashion-mnist)")
    parser.add_argument("--image-size", type=int, default=None, help=f"image side (default: {d['image_size']})")
    parser.add_argument("--sizes", default=None, help=f"training-set sizes N, comma separated (default: {d['sizes']})")
    parser.add_argument("--architecture", choices=("unet", "bfcnn"), default=d["architecture"])
    parser.add_argument("--width", type=int, default=None, help=f"channels of the first level (default: {d['width']})")
    parser.add_argument("--n-blocks", type=int, default=None, help=f"UNet levels (default: {d['n_blocks']})")
    parser.add_argument("--n-layers", type=int, default=None, help=f"BF-CNN layers (default: {d['n_layers']})")
    parser.add_argument("--steps", type=int, default=None, help=f"optimizer steps per model, same for every N (default: {d['steps']})")
    parser.add_argument("--batch-size", type=int, default=None, help=f"(default: {d['batch_size']})")
    parser.add_argument("--learning-rate", type=float, default=d["learning_rate"])
    parser.add_argument("--n-samples", type=int, default=None, help=f"samples per model (default: {d['n_samples']})")
    parser.add_argument("--beta", type=float, default=d["beta"], help="sampler beta (default: %(default)s; the paper: 0.1)")
    parser.add_argument("--h0", type=float, default=None, help=f"sampler initial step (default: {d['h0']})")
    parser.add_argument("--sigma-final", type=float, default=d["sigma_final"])
    parser.add_argument("--max-sample-steps", type=int, default=None)
    parser.add_argument("--n-psnr-images", type=int, default=None, help=f"images per PSNR level (default: {d['n_psnr_images']})")
    parser.add_argument("--dedup", type=float, default=None,
                        help="drop near-duplicates above this mean-removed cosine before splitting (default: off)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=d["jobs"], help="parallel fits (joblib n_jobs, -1 = all cores; default: %(default)s)")
    parser.add_argument("--seed", type=int, default=d["seed"])
    parser.add_argument("--quick", action="store_true", help="tiny configuration to check the installation (< 1 min)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _resolve(args) -> dict:
    cfg = dict(DEFAULTS)
    if args.quick:
        cfg.update(QUICK)
    for key in ("image_size", "sizes", "width", "n_blocks", "n_layers", "steps", "batch_size", "n_samples", "h0",
                "max_sample_steps", "n_psnr_images"):
        value = getattr(args, key, None)
        if value is not None:
            cfg[key] = value
    for key in ("dataset", "architecture", "learning_rate", "beta", "sigma_final", "jobs", "seed", "device",
                "data_path", "dedup", "output"):
        cfg[key] = getattr(args, key)
    try:
        sizes = sorted({int(s) for s in str(cfg["sizes"]).split(",") if s.strip()})
    except ValueError:
        raise ValueError(f"--sizes must be comma-separated integers; got {cfg['sizes']!r}.") from None
    if not sizes or sizes[0] < 1:
        raise ValueError(f"--sizes must be positive integers; got {cfg['sizes']!r}.")
    cfg["sizes"] = sizes
    for key in ("image_size", "width", "n_blocks", "steps", "batch_size", "n_samples", "n_psnr_images"):
        if cfg[key] < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be positive; got {cfg[key]}.")
    if cfg["jobs"] == 0 or cfg["jobs"] < -1:
        raise ValueError(f"--jobs must be positive or -1 (all cores); got {cfg['jobs']}.")
    if cfg["dataset"] in ("photo-tiles", "celeba") and not cfg["data_path"]:
        raise ValueError(f"--dataset {cfg['dataset']} needs --data-path (a folder of images).")
    return cfg


def load_pool(cfg: dict, n_images: int):
    """The image pool of the sweep: (X, X_B or None, image_shape, description)."""
    from gahb import datasets

    name, size, seed = cfg["dataset"], cfg["image_size"], cfg["seed"]
    X_B = None
    if name == "dead-leaves":
        b = datasets.make_dead_leaves(n_images, image_size=size, random_state=seed)
        desc = f"synthetic dead leaves (3-8 occluding ellipses), {size}x{size}, generated with seed {seed}"
    elif name == "c-alpha":
        b = datasets.make_c_alpha(n_images, image_size=size, random_state=seed)
        desc = f"synthetic C^alpha images (alpha 2), {size}x{size}"
    elif name == "disks":
        b = datasets.make_disks(n_images, image_size=size, random_state=seed)
        desc = f"synthetic disks, {size}x{size}"
    elif name == "photo-tiles":
        b = datasets.load_photo_tiles(cfg["data_path"], tile_size=size)
        desc = (f"photo tiles {size}x{size} from {cfg['data_path']} (photos shrunk 4x); models A and B "
                "draw from disjoint sets of photos")
    elif name == "fashion-mnist":
        crop = 24 if size <= 24 else None
        b = datasets.load_fashion_mnist(cfg["data_path"] or datasets._loaders.FASHION_MNIST_PATH, kind="all",
                                        crop=crop, image_size=size)
        desc = f"Fashion-MNIST (train + test, 70,000 images), centre crop {crop}, area-resized to {size}x{size}"
    else:
        b = datasets.load_image_folder(cfg["data_path"], image_size=size)
        desc = f"image folder {cfg['data_path']} (CelebA crop) at {size}x{size}"
    X = np.asarray(b.data, dtype=np.float32)
    shape = tuple(b.image_shape)
    if cfg.get("dedup"):
        keep, dropped = datasets.remove_near_duplicates(X, shape, threshold=cfg["dedup"])
        desc += f"; near-duplicates (|corr| > {cfg['dedup']}) removed: {X.shape[0]} -> {keep.size}"
        X = X[keep]
        if name == "photo-tiles":
            b.half = np.asarray(b.half)[keep]
    rng = np.random.default_rng(seed)
    if name == "photo-tiles":
        X, X_B = X[np.asarray(b.half) == 0], X[np.asarray(b.half) == 1]
        n_max = max(cfg["sizes"])  # A's half also holds the held-out images of the PSNR curves
        X = X[rng.permutation(X.shape[0])[: n_images - n_max]]
        X_B = X_B[rng.permutation(X_B.shape[0])[:n_max]]
    elif X.shape[0] > n_images:  # a fixed random subset, so the sweep only touches what it needs
        X = X[rng.permutation(X.shape[0])[:n_images]]
    return X, X_B, shape, desc


def run(args) -> int:
    """Run the sweep and write report.md, report.json and PNG figures into ``args.output``."""
    from gahb.denoiser import DiffusionDenoiser
    from gahb.experiments.generalization import generalization_curve
    from gahb.report import Report

    t_start = time.perf_counter()
    try:
        cfg = _resolve(args)
    except ValueError as exc:
        print(f"gahb transition: error: {exc}", file=sys.stderr)
        return 2
    try:  # the report needs matplotlib: fail now, not after ten minutes of training
        from gahb.report import pyplot

        pyplot()
    except ImportError as exc:
        print(f"gahb transition: error: {exc}", file=sys.stderr)
        return 2
    sizes = cfg["sizes"]
    n_pool = 2 * sizes[-1] + cfg["n_psnr_images"]
    X, X_B, shape, desc = load_pool(cfg, n_pool)
    n_have = X.shape[0] + (0 if X_B is None else X_B.shape[0])
    if n_have < 2 * sizes[-1] or (X_B is not None and min(X.shape[0], X_B.shape[0]) < sizes[-1]):
        print(f"gahb transition: error: the data has {n_have} images; N={sizes[-1]} needs {2 * sizes[-1]}"
              " (N per model).", file=sys.stderr)
        return 2
    est = DiffusionDenoiser(architecture=cfg["architecture"], width=cfg["width"], n_blocks=cfg["n_blocks"],
                            n_layers=cfg["n_layers"], image_shape=shape, max_iter=cfg["steps"],
                            batch_size=cfg["batch_size"], learning_rate=cfg["learning_rate"], h0=cfg["h0"],
                            beta=cfg["beta"], sigma_final=cfg["sigma_final"],
                            max_sample_steps=cfg["max_sample_steps"], device=cfg["device"], random_state=cfg["seed"])
    if not args.quiet:
        print(f"gahb transition: {desc}; N = {sizes}; {cfg['architecture']} width {cfg['width']}, "
              f"{cfg['steps']} steps per model; {2 * len(sizes)} models, {cfg['jobs']} in parallel", file=sys.stderr)
    res = generalization_curve(est, X, sizes, X_B=X_B, image_shape=shape, n_samples=cfg["n_samples"],
                               sample_random_state=cfg["seed"], random_state=cfg["seed"],
                               n_psnr_images=cfg["n_psnr_images"], n_jobs=cfg["jobs"], verbose=0 if args.quiet else 1)
    rep = Report(cfg["output"], "Memorization to generalization: two models per training-set size N")
    rep.add_text(
        "Two denoisers are trained on **disjoint** sets of N images each (A and B), sampled with the **same "
        "noise**, and compared (Kadkhodaie, Guth, Simoncelli & Mallat, ICLR 2024, Figs 1-2). Memorizing models "
        "reproduce their own training images, so A and B differ; generalizing models produce nearly the same "
        "image from the same noise, one that is in neither training set."
    )
    if args.quick:
        rep.add_text("**`--quick`: a plumbing check.** The models are barely trained, so this report shows no "
                     "transition; run without `--quick` for the real study.")
    rep.add_heading("Setup")
    rep.add_text(
        f"- data: {desc}; pool {n_have} images, shuffled and split into two disjoint blocks\n"
        f"- sizes N: {', '.join(map(str, sizes))}\n"
        f"- model: bias-free {cfg['architecture']}, width {cfg['width']}, "
        + (f"{cfg['n_blocks']} levels" if cfg["architecture"] == "unet" else f"{cfg['n_layers']} layers")
        + f"; {cfg['steps']} Adam steps of batch {cfg['batch_size']} for every N, lr {cfg['learning_rate']}\n"
        f"- sampler: h0 = {cfg['h0']}, beta = {cfg['beta']}, sigma_final = {cfg['sigma_final']}, "
        f"{cfg['n_samples']} samples per model, seed {cfg['seed']}\n"
        f"- command: `gahb transition {' '.join(sys.argv[2:]) if len(sys.argv) > 2 else ''}`".rstrip()
    )
    res.to_report(rep)
    wall = time.perf_counter() - t_start
    rep.add_heading("Run")
    rep.add_text(f"Total wall time {wall:.0f} s on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
                 f"torch threads per process: default; jobs: {cfg['jobs']}.")
    rep.data["config"] = {k: v for k, v in cfg.items()}
    rep.data["data"] = {"description": desc, "n_pool": int(n_have), "image_shape": list(shape)}
    rep.data["wall_seconds_total"] = wall
    md, js = rep.write()
    if not args.quiet:
        s = res.summary()
        print(json.dumps({k: s[k] for k in ("mem_smallest_N", "cross_median_largest_N", "chance_median_largest_N",
                                            "psnr_gap_first", "psnr_gap_last")}, indent=1), file=sys.stderr)
        print(f"wrote {md} and {js} ({wall:.0f} s)", file=sys.stderr)
    return 0
