"""``gahb optimality``: the GAHB optimality experiments (C-alpha slopes, disks, shuffled control) as reports."""

from __future__ import annotations

from pathlib import Path

from gahb.cli._common import (
    UsageError,
    add_common_arguments,
    check_arguments,
    check_device,
    parse_float_list,
    positive_int,
    prepare_output,
    say,
    usage_errors,
)

DEFAULTS = dict(image_size=16, n_train=4000, n_test=200, steps=3000, width=16, n_blocks=2, batch_size=64,
                n_psnr_images=200)
# A tiny configuration to check the installation; options given explicitly win over it.
QUICK = dict(image_size=8, n_train=200, n_test=16, steps=20, width=8, n_psnr_images=16)
OPTIONS = {"max_iter": "--steps", "width": "--width", "n_blocks": "--n-blocks", "batch_size": "--batch-size",
           "device": "--device"}
EXPERIMENTS = ("c-alpha", "disks", "shuffled", "all")


def add_arguments(parser) -> None:
    """Options of ``gahb optimality``."""
    d = DEFAULTS
    parser.add_argument("experiment", nargs="?", default="all", choices=EXPERIMENTS,
                        help="which experiment (shuffled runs disks too and reuses its data and model)")
    add_common_arguments(parser, output="optimality-report")
    parser.add_argument("--alphas", default="1,2,3,5", help="C^alpha regularities")
    parser.add_argument("--image-size", type=positive_int, default=None, help=f"image side [{d['image_size']}; paper: 80]")
    parser.add_argument("--n-train", type=positive_int, default=None, help=f"training images [{d['n_train']}; paper: 1e5]")
    parser.add_argument("--n-test", type=positive_int, default=None, help=f"held-out images [{d['n_test']}]")
    parser.add_argument("--steps", type=positive_int, default=None, help=f"optimizer steps per model [{d['steps']}]")
    parser.add_argument("--width", type=positive_int, default=None, help=f"UNet width [{d['width']}; paper: 64]")
    parser.add_argument("--n-blocks", type=positive_int, default=None, help=f"UNet levels [{d['n_blocks']}; paper: 3]")
    parser.add_argument("--batch-size", type=positive_int, default=None, help=f"images per step [{d['batch_size']}]")
    parser.add_argument("--n-psnr-images", type=positive_int, default=None,
                        help=f"test images per noise level [{d['n_psnr_images']}]")
    parser.add_argument("--window", default="12,30", help="slope fit window in input PSNR dB: lo,hi")
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch CPU threads (torch's default when not given; 1 is fastest on a shared machine)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny configuration to check the installation; explicit options win")
    parser.add_argument("--overwrite", action="store_true", help="replace reports already in --output")


def _resolve(args):
    from gahb.denoiser import DiffusionDenoiser
    from gahb.experiments.optimality import DEFAULT_ESTIMATOR

    for key, value in {**DEFAULTS, **(QUICK if args.quick else {})}.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    window = parse_float_list(args.window, "--window", n=2)
    if window[0] >= window[1]:
        raise UsageError(f"--window must be lo,hi with lo < hi; got {args.window!r}.")
    alphas = [int(a) if a.is_integer() else a for a in parse_float_list(args.alphas, "--alphas")]
    if any(a <= 0 for a in alphas):
        raise UsageError(f"--alphas must be positive; got {args.alphas!r}.")
    check_device(args.device)
    from gahb.experiments.optimality import c_alpha_optimality, disk_optimality

    sizes = dict(image_size=args.image_size, n_train=args.n_train, n_test=args.n_test, n_psnr_images=args.n_psnr_images)
    for func in (c_alpha_optimality, disk_optimality):  # the experiments' own constraints, before any training
        check_arguments(func, {k: "--" + k.replace("_", "-") for k in sizes}, **sizes, random_state=args.seed)
    with usage_errors(OPTIONS):
        est = DiffusionDenoiser(**{**DEFAULT_ESTIMATOR, "max_iter": args.steps, "width": args.width,
                                   "n_blocks": args.n_blocks, "batch_size": args.batch_size})
        est._check_sampler_settings()
    try:
        from gahb.report import require_matplotlib

        require_matplotlib()
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.output)
    parts = {"c-alpha": ["c-alpha"], "disks": ["disks"], "shuffled": ["disks", "shuffled"],
             "all": ["c-alpha", "disks", "shuffled"]}[args.experiment]
    for part in parts:
        prepare_output(out / part, overwrite=args.overwrite)
    return window, alphas, est


def _save(res, folder):
    import joblib

    from gahb.report import write_atomic

    folder.mkdir(parents=True, exist_ok=True)
    result = {k: v for k, v in res.items() if k not in ("model", "data")}
    write_atomic(folder / "result.joblib", lambda fh: joblib.dump(result, fh))


def run(args) -> int:
    from gahb.experiments.optimality import (
        c_alpha_optimality,
        disk_optimality,
        shuffled_control,
        write_c_alpha_report,
        write_disk_report,
        write_shuffled_report,
    )

    window, alphas, est = _resolve(args)
    if args.threads is not None:
        import torch  # here, not at the top: every subcommand module loads when the parser is built

        torch.set_num_threads(int(args.threads))
    common = dict(image_size=args.image_size, n_train=args.n_train, n_test=args.n_test, estimator=est,
                  window=tuple(window), n_psnr_images=args.n_psnr_images, device=args.device, random_state=args.seed,
                  verbose=0 if args.quiet else 1)
    out = Path(args.output)
    written = []
    if args.experiment in ("c-alpha", "all"):
        res = c_alpha_optimality(alphas, **common, n_compare=4 if args.quick else 8)
        written.append(write_c_alpha_report(res, out / "c-alpha")[0])
        _save(res, out / "c-alpha")
    if args.experiment in ("disks", "shuffled", "all"):
        disk = disk_optimality(**common, return_model=True, n_eigen_images=2 if args.quick else 8)
        written.append(write_disk_report(disk, out / "disks")[0])
        _save(disk, out / "disks")
        if args.experiment in ("shuffled", "all"):
            n = args.n_train
            sh = shuffled_control(disk.data.data[:n], disk.data.data[n:], disk.data.image_shape,
                                  base_model=disk.model, **{k: common[k] for k in
                                  ("estimator", "window", "n_psnr_images", "device", "random_state", "verbose")})
            written.append(write_shuffled_report(sh, out / "shuffled")[0])
            _save(sh, out / "shuffled")
    for path in written:
        say(args, f"wrote {path}")
    return 0
