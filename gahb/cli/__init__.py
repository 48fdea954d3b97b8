"""The ``gahb`` command: one subcommand per experiment, each writing a report to a folder.

Each subcommand is a module of this package that defines ``add_arguments(parser)`` and ``run(args) -> int``;
this file only wires them up, so adding a command never touches another. The commands call the experiments
(``gahb.experiments``) and write reports; nothing below this package imports it.
"""

from __future__ import annotations

import importlib
import sys
import warnings

from gahb.cli._common import (
    Parser,
    UsageError,
    debug_requested,
    error_line,
    kept_work,
    one_line_warning,
    remove_empty_created,
    stop_on_sigterm,
)
from gahb.exceptions import TrainingInterruptedWarning

# name -> (module, one-line help)
SUBCOMMANDS = {
    "transition": ("gahb.cli.transition", "memorization -> generalization sweep over training-set size N"),
    "optimality": ("gahb.cli.optimality", "GAHB optimality experiments: C-alpha slopes, disks, shuffled control"),
    "fit": ("gahb.cli.fit", "train one denoiser (mixed precision, checkpoints, several GPUs) into a folder"),
    "figure": ("gahb.cli.figure", "reproduce a figure of the paper (Figs 1-21) as a report; --list: the catalogue"),
}


def build_parser() -> Parser:
    from gahb import __version__

    parser = Parser(
        prog="gahb",
        description="Diffusion denoisers: memorization vs generalization and geometry-adaptive harmonic bases.",
    )
    parser.add_argument("--version", action="version", version=f"gahb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (module, help_) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        importlib.import_module(module).add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv=None) -> int:
    """Run ``gahb``: exit code 0 on success, 2 for a usage error, 130 on Ctrl-C, 1 for anything else."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    args._argv = argv  # the command as typed (gahb fit --nproc relaunches it under torchrun)
    try:
        with stop_on_sigterm(), warnings.catch_warnings():
            warnings.showwarning = one_line_warning
            # a fit stopped by Ctrl-C keeps a usable model and warns; a command running many fits stops there
            # instead of finishing with an undertrained one (gahb fit itself handles the warning)
            warnings.simplefilter("error", TrainingInterruptedWarning)
            return int(importlib.import_module(args._module).run(args) or 0)
    except UsageError as exc:
        if debug_requested(argv):
            raise
        print(f"gahb: error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, TrainingInterruptedWarning):
        print(f"gahb: interrupted; {kept_work(getattr(args, 'output', None))}", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug_requested(argv):
            raise
        print(f"gahb: error: {error_line(exc, getattr(args, 'output', None))} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1
    finally:
        remove_empty_created()
        _forget_caught_interrupt()


def _forget_caught_interrupt() -> None:
    """Keep exit code 130 after a Ctrl-C/SIGTERM that was handled.

    CPython (3.11) remembers a KeyboardInterrupt that left code run by ``exec`` of a string (dataclasses and
    namedtuple build their methods that way, e.g. while torch imports) and ends the process by SIGINT at exit
    even though ``main`` caught it; running any string resets that flag.
    """
    exec("")


if __name__ == "__main__":
    sys.exit(main())
