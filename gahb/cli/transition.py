"""``gahb transition``: the memorization -> generalization sweep as a report folder (paper Figs 1-2).

The defaults were chosen by measurement (docs/transition.md): synthetic dead-leaves images at 12 x 12,
a bias-free UNet of width 16 with 3 levels, the same number of optimizer steps for every N, and the
deterministic sampler (beta = 1) that converges in tens of iterations at this scale.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import time

from gahb.cli._common import (
    UsageError,
    add_common_arguments,
    check_device,
    parse_int_list,
    positive_int,
    prepare_output,
    say,
    usage_errors,
)
from gahb.cli._data import add_data_arguments, check_data_source, load_pool

# Measured defaults (docs/transition.md, 2026-12-07): the whole sweep took 2 min 50 s on 2 nearly idle CPU cores
# (330 CPU seconds), memorization 1.0 / 1.0 at N = 1 and 0.969 / 0.984 at N = 10, A-vs-B median 0.964 at
# N = 10^4 (chance -0.001), PSNR gap 26.6 -> 0.14 dB. Batch 32 buys more steps per CPU second than 64, and the steps are what
# memorization at N = 10 needs; beta 0.5 memorizes more than 1 at equal agreement at N = 10^4.
DEFAULTS = dict(image_size=12, sizes="1,10,100,1000,10000", width=16, n_blocks=2, n_layers=21, steps=2000,
                batch_size=32, learning_rate=2e-3, lr_schedule="cosine", n_samples=64, beta=0.5, h0=0.01,
                max_sample_steps=1000, n_psnr_images=300)
# A tiny configuration that runs in well under a minute: checks the plumbing, shows no transition.
# Options given explicitly on the command line win over it.
QUICK = dict(image_size=8, sizes="1,4,16", width=8, n_blocks=2, steps=60, batch_size=16, n_samples=6,
             n_psnr_images=16, max_sample_steps=60, h0=0.05, beta=1.0)

# estimator parameter -> option, so a bad value is reported under the name the user typed
OPTIONS = {"architecture": "--architecture", "width": "--width", "n_blocks": "--n-blocks", "n_layers": "--n-layers",
           "max_iter": "--steps", "batch_size": "--batch-size", "learning_rate": "--learning-rate",
           "lr_schedule": "--lr-schedule", "h0": "--h0",
           "beta": "--beta", "sigma_final": "--sigma-final", "max_sample_steps": "--max-sample-steps",
           "image_shape": "--image-size", "device": "--device"}


def add_arguments(parser) -> None:
    """Options of ``gahb transition``."""
    d = DEFAULTS
    add_common_arguments(parser, output="transition-report")
    add_data_arguments(parser)
    parser.add_argument("--image-size", type=positive_int, default=None, help=f"image side [{d['image_size']}]")
    parser.add_argument("--sizes", default=None, help=f"training-set sizes N, comma separated [{d['sizes']}]")
    parser.add_argument("--architecture", choices=("unet", "bfcnn"), default="unet", help="bias-free network")
    parser.add_argument("--width", type=positive_int, default=None, help=f"channels of the first level [{d['width']}]")
    parser.add_argument("--n-blocks", type=positive_int, default=None, help=f"UNet levels [{d['n_blocks']}]")
    parser.add_argument("--n-layers", type=positive_int, default=None, help=f"BF-CNN layers [{d['n_layers']}]")
    parser.add_argument("--steps", type=positive_int, default=None,
                        help=f"optimizer steps per model, the same for every N [{d['steps']}]")
    parser.add_argument("--batch-size", type=positive_int, default=None, help=f"images per step [{d['batch_size']}]")
    parser.add_argument("--learning-rate", type=float, default=None, help=f"Adam learning rate [{d['learning_rate']}]")
    parser.add_argument("--lr-schedule", choices=("cosine", "halving", "constant"), default=None,
                        help=f"learning-rate schedule (the paper: halving) [{d['lr_schedule']}]")
    parser.add_argument("--n-samples", type=positive_int, default=None, help=f"samples per model [{d['n_samples']}]")
    parser.add_argument("--beta", type=float, default=None,
                        help=f"sampler beta (the paper: 0.1; 1 is deterministic) [{d['beta']}]")
    parser.add_argument("--h0", type=float, default=None, help=f"sampler initial step [{d['h0']}]")
    parser.add_argument("--sigma-final", type=float, default=0.05, help="sampler stopping noise level")
    parser.add_argument("--max-sample-steps", type=positive_int, default=None,
                        help=f"sampler iteration cap [{d['max_sample_steps']}]")
    parser.add_argument("--n-psnr-images", type=positive_int, default=None,
                        help=f"images per noise level of the PSNR curves [{d['n_psnr_images']}]")
    parser.add_argument("--jobs", type=int, default=2, help="parallel fits (joblib n_jobs; -1 = all cores)")
    parser.add_argument("--engine", choices=("loky", "dask", "ray"), default="loky",
                        help="where the fits run: joblib's processes (loky), a Dask cluster (dask; gahb[dask]) "
                             "or Ray (ray; gahb[ray]); without --address a local cluster of --jobs workers")
    parser.add_argument("--address", default=None,
                        help="a running Dask scheduler (tcp://host:8786) or Ray cluster (auto, ray://host:10001)")
    parser.add_argument("--vectorize", choices=("auto", "on", "off"), default="auto",
                        help="train the models of a sweep as one network (on: all A models, all B models); "
                             "auto: where that measured faster (a GPU; small models on the CPU)")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch threads of each fit (pinned: same bits on any engine and --jobs; "
                             "default: each worker's own)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny configuration to check the installation (< 1 min); explicit options win")
    parser.add_argument("--overwrite", action="store_true", help="replace a report already in --output")


def _resolve(args):
    """Fill unset options from DEFAULTS (or QUICK) and check everything: (args, sizes, estimator)."""
    from gahb.denoiser import DiffusionDenoiser

    base = {**DEFAULTS, **(QUICK if args.quick else {})}
    for key, value in base.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    sizes = parse_int_list(args.sizes, "--sizes")
    if args.jobs == 0 or args.jobs < -1:
        raise UsageError(f"--jobs must be positive or -1 (all cores); got {args.jobs}.")
    if args.address is not None and args.engine == "loky":
        raise UsageError("--address needs --engine dask or --engine ray.")
    if args.engine != "loky":
        from gahb.experiments._engines import require_engine

        try:
            require_engine(args.engine)
        except ImportError as exc:
            raise UsageError(f"--engine {args.engine}: {exc}") from None
    check_device(args.device)
    check_data_source(args)
    with usage_errors(OPTIONS):
        est = DiffusionDenoiser(architecture=args.architecture, width=args.width, n_blocks=args.n_blocks,
                                n_layers=args.n_layers, image_shape=(args.image_size, args.image_size),
                                max_iter=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
                                lr_schedule=args.lr_schedule,
                                h0=args.h0, beta=args.beta, sigma_final=args.sigma_final,
                                max_sample_steps=args.max_sample_steps, device=args.device, random_state=args.seed)
        est._check_sampler_settings()  # the parameters and the sampler's noise levels (sigma_final < sigma_0)
    try:  # the report needs matplotlib: fail now, not after ten minutes of training
        from gahb.report import require_matplotlib

        require_matplotlib()
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    prepare_output(args.output, overwrite=args.overwrite)
    return sizes, est


def run(args) -> int:
    """Run the sweep and write report.md, report.json and PNG figures into ``args.output``."""
    from gahb.experiments._engines import sweep_engine
    from gahb.experiments._sweep import SweepCacheError
    from gahb.experiments.generalization import generalization_curve
    from gahb.report import Report

    t_start = time.perf_counter()
    sizes, est = _resolve(args)
    X, X_B, shape, desc = load_pool(args, 2 * sizes[-1] + args.n_psnr_images, n_B=sizes[-1])
    n_have = X.shape[0] + (0 if X_B is None else X_B.shape[0])
    if n_have < 2 * sizes[-1] or (X_B is not None and min(X.shape[0], X_B.shape[0]) < sizes[-1]):
        raise UsageError(f"the data has {n_have} images; N={sizes[-1]} needs {2 * sizes[-1]} (N per model).")
    est.set_params(image_shape=shape)
    cfg = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    cfg["sizes"] = sizes
    say(args, f"gahb transition: {desc}; N = {sizes}; {args.architecture} width {args.width}, {args.steps} steps "
              f"per model; {2 * len(sizes)} models, {args.jobs} in parallel")
    vectorize = {"auto": "auto", "on": True, "off": False}[args.vectorize]
    gpus = 0 if args.device == "cpu" else None
    try:
        with contextlib.ExitStack() as stack:
            try:  # an unreachable cluster is a bad --address, said before any fit
                stack.enter_context(sweep_engine(args.engine, None if args.engine == "loky" else args.jobs,
                                                 address=args.address, gpus_per_worker=gpus))
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"--engine {args.engine}" + (f" --address {args.address}" if args.address else "")
                                 + f": cannot start or reach the cluster: {exc}") from None
            res = generalization_curve(est, X, sizes, X_B=X_B, image_shape=shape, n_samples=args.n_samples,
                                       sample_random_state=args.seed, random_state=args.seed,
                                       n_psnr_images=args.n_psnr_images, n_jobs=args.jobs,
                                       verbose=0 if args.quiet else 1, vectorize=vectorize,
                                       threads_per_fit=args.threads, cache_dir=os.path.join(args.output, "fits"))
    except SweepCacheError as exc:
        raise UsageError(f"--output {args.output}: {exc}") from None
    if res.n_cached_:
        say(args, f"{res.n_cached_} of {2 * len(sizes)} fits were loaded from {os.path.join(args.output, 'fits')}")
    rep = Report(args.output, "Memorization to generalization: two models per training-set size N")
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
        + f"; {cfg['steps']} Adam steps of batch {cfg['batch_size']} for every N, lr {cfg['learning_rate']} "
        f"({cfg['lr_schedule']} schedule)\n"
        f"- sampler: h0 = {cfg['h0']}, beta = {cfg['beta']}, sigma_final = {cfg['sigma_final']}, "
        f"{cfg['n_samples']} samples per model, seed {cfg['seed']}\n"
        f"- command: `gahb {' '.join(getattr(args, '_argv', None) or sys.argv[1:])}`"
    )
    res.to_report(rep)
    wall = time.perf_counter() - t_start
    rep.add_heading("Run")
    rep.add_text(f"Total wall time {wall:.0f} s on {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}); "
                 f"engine {args.engine}, jobs {args.jobs}, torch threads per fit: "
                 f"{args.threads or 'each worker default'}, vectorize {args.vectorize}. Every finished fit is stored "
                 f"in `fits/` ({res.n_cached_} of {2 * len(sizes)} were loaded from an earlier, interrupted run): "
                 "rerun the same command to continue after a kill.")
    rep.data["config"] = {k: v for k, v in cfg.items()}
    rep.data["data"] = {"description": desc, "n_pool": int(n_have), "image_shape": list(shape)}
    rep.data["wall_seconds_total"] = wall
    md, js = rep.write()
    s = res.summary()
    say(args, json.dumps({k: s[k] for k in ("mem_smallest_N", "cross_median_largest_N", "chance_median_largest_N",
                                            "psnr_gap_first", "psnr_gap_last")}, indent=1))
    say(args, f"wrote {md} and {js} ({wall:.0f} s)")
    return 0
