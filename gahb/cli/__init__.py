"""The ``gahb`` command: one subcommand per experiment, each writing a report to a folder.

Each subcommand is a module of this package that defines ``add_arguments(parser)`` and ``run(args) -> int``;
this file only wires them up, so adding a command never touches another. The commands call the experiments
(``gahb.experiments``) and write reports; nothing below this package imports it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Modules are imported only when their subcommand runs.
SUBCOMMANDS = {
    "transition": ("gahb.cli.transition", "memorization -> generalization sweep over training-set size N"),
    "optimality": ("gahb.cli.optimality", "GAHB optimality experiments: C-alpha slopes, disks, shuffled control"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gahb",
        description="Diffusion denoisers: memorization vs generalization and geometry-adaptive harmonic bases.",
    )
    from gahb import __version__

    parser.add_argument("--version", action="version", version=f"gahb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        importlib.import_module(module).add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
