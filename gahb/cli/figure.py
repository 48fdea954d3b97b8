"""``gahb figure N``: reproduce a figure of the paper as a report folder; ``--list`` prints the catalogue.

``--quick`` checks the plumbing in seconds, the default runs at CPU scale (minutes; synthetic stand-in
data unless ``--data-path`` points at the figure's data set), ``--scale paper`` uses the paper's settings and
prints its cost estimate first (``--dry-run``: the estimate only).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gahb.cli._common import (
    UsageError,
    add_common_arguments,
    check_device,
    check_seed,
    positive_int,
    prepare_output,
    say,
)

_NEEDS_DATA = {"celeba": "CelebA (aligned faces, a folder of images)", "lsun": "LSUN bedrooms (LMDB or images)",
               "lsun32": "LSUN bedrooms (LMDB or images)", "celeba-hq": "CelebA-HQ (a folder of images)"}
GALLERY = Path(__file__).resolve().parents[2] / "docs" / "gallery"


def add_arguments(parser) -> None:
    """Options of ``gahb figure``."""
    parser.add_argument("figures", nargs="*", metavar="N", help="figure numbers (1-21) or 'all'")
    parser.add_argument("--list", action="store_true", help="print the catalogue of Figs 1-21 and exit")
    add_common_arguments(parser, output="figure-report")
    parser.add_argument("--quick", action="store_true", help="tiny configuration, seconds per figure, shows nothing")
    parser.add_argument("--scale", choices=("cpu", "paper"), default="cpu", help="CPU scale or the paper's settings")
    parser.add_argument("--dry-run", action="store_true", help="print the cost estimate and exit")
    parser.add_argument("--data-path", default=None, metavar="PATH",
                        help="the figure's data set (CelebA / LSUN / CelebA-HQ folder); default: synthetic stand-in")
    parser.add_argument("--jobs", type=int, default=1, help="parallel fits (joblib n_jobs; -1 = all cores)")
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads per process")
    parser.add_argument("--tflops", type=float, default=None, help="sustained throughput assumed by the estimate")
    parser.add_argument("--overwrite", action="store_true", help="replace reports already in --output")


def _numbers(args) -> list[int]:
    from gahb.experiments.figures import FIGURES

    if not args.figures:
        raise UsageError("name a figure (e.g. gahb figure 8) or pass --list.")
    if args.figures == ["all"]:
        return sorted(n for n, f in FIGURES.items() if f.experiment)
    out = []
    for text in args.figures:
        try:
            n = int(text)
        except ValueError:
            raise UsageError(f"figure numbers are 1-21 or 'all'; got {text!r}.") from None
        if n not in FIGURES:
            raise UsageError(f"the paper has Figures 1-21; got {n}.")
        if FIGURES[n].experiment is None:
            raise UsageError(f"Figure {n} is not reproducible here: {FIGURES[n].reason}")
        out.append(n)
    return sorted(set(out))


def _check_data_path(path, figures) -> None:
    """The data set given for the figures that use one, listed before any work (UsageError otherwise)."""
    from gahb.datasets._images import list_images

    if not Path(path).exists():
        raise UsageError(f"--data-path {path} does not exist.")
    kinds = {fig.data for fig in figures} - {"synthetic"}
    if not kinds:
        raise UsageError(f"--data-path: Figure {figures[0].number} uses synthetic data only; leave it out.")
    lmdb = os.path.isfile(os.path.join(path, "data.mdb"))
    try:
        if not (lmdb and kinds <= {"lsun", "lsun32"}):
            list_images(path, recursive=kinds <= {"lsun", "lsun32"},  # LSUN exports are nested; face folders not
                        subfolder_hint="point --data-path at the folder of images")
    except FileNotFoundError as exc:
        raise UsageError(f"--data-path {path}: {str(exc).rstrip('.')}.") from None


def _status(fig) -> str:
    """What has been reproduced, read from the gallery's committed report (a real run), if there is one."""
    path = GALLERY / f"fig-{fig.number:02d}" / "report.json"
    if fig.experiment is None:
        return f"not reproducible here: {fig.reason}"
    paper = "" if fig.data == "synthetic" else (f"; the paper's data ({_NEEDS_DATA[fig.data]}) is not on this machine "
                                                 "(gahb never downloads): run with --data-path")
    if not GALLERY.is_dir():
        return "see the documentation's gallery (no gallery next to this installation)" + paper
    if not path.is_file():
        return "not yet run at CPU scale" + paper
    fig_data = json.loads(path.read_text())["figure"]
    nums = "; ".join(f"{r['quantity']}: {_fmt(r['gahb'])} (paper {_fmt(r['paper'])})" for r in fig_data["comparison"][:3])
    return f"run at {fig_data['scale']} scale on {fig.stand_in or 'synthetic data'}: {nums}{paper}"


def _fmt(v):
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def print_catalogue() -> None:
    from gahb.experiments.figures import FIGURES

    for n, fig in FIGURES.items():
        print(f"Fig. {n:2d}  {fig.title}")
        print(f"         command: {fig.command or '-'}")
        print(f"         status:  {_status(fig)}")


def run(args) -> int:
    """Check everything, print the estimate at paper scale, then write one report folder per figure."""
    from gahb.experiments.figures import ASSUMED_TFLOPS, FIGURES, FigureContext, estimate, run_figure

    if args.list:
        print_catalogue()
        return 0
    numbers = _numbers(args)
    if args.quick and args.scale == "paper":
        raise UsageError("--quick and --scale paper exclude each other.")
    if args.jobs == 0 or args.jobs < -1:
        raise UsageError(f"--jobs must be positive or -1 (all cores); got {args.jobs}.")
    if args.tflops is not None and not args.tflops > 0:
        raise UsageError(f"--tflops must be positive; got {args.tflops}.")
    check_device(args.device)
    check_seed(args.seed)
    if args.data_path is not None:
        _check_data_path(args.data_path, [FIGURES[n] for n in numbers])
    if args.scale == "paper":
        for n in numbers:
            total, seconds, lines = estimate(FIGURES[n].experiment, "paper", args.tflops or ASSUMED_TFLOPS)
            print(f"Figure {n} at the paper's scale:\n  " + "\n  ".join(lines), flush=True)
        if args.dry_run:
            return 0
        missing = [n for n in numbers if FIGURES[n].data != "synthetic" and args.data_path is None]
        if missing:
            raise UsageError(f"--scale paper for Figure {missing[0]} needs its data set, "
                             f"{_NEEDS_DATA[FIGURES[missing[0]].data]}: pass --data-path.")
    elif args.dry_run:
        print("--dry-run prints the paper-scale estimate: add --scale paper.")
        return 0
    try:
        from gahb.report import require_matplotlib

        require_matplotlib()
    except ImportError as exc:
        raise UsageError(str(exc)) from None
    out = Path(args.output)
    folders = {n: out if len(numbers) == 1 else out / f"fig-{n:02d}" for n in numbers}
    for folder in folders.values():
        prepare_output(folder, overwrite=args.overwrite)
    if args.threads is not None:
        import torch

        torch.set_num_threads(int(args.threads))
    ctx = FigureContext(scale=args.scale, quick=args.quick, seed=args.seed, device=args.device,
                        data_path=args.data_path, n_jobs=args.jobs, verbose=0 if args.quiet else 1)
    for n in numbers:
        say(args, f"gahb figure {n}: {FIGURES[n].title}")
        md, _ = run_figure(n, folders[n], ctx)
        say(args, f"wrote {md}")
    return 0
