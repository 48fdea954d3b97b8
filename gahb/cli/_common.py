"""What every ``gahb`` subcommand shares: one-line errors, exit codes, common options, output folders.

A subcommand module defines ``add_arguments(parser)`` and ``run(args) -> int``. ``run`` first checks
*everything* (option values, data sources, device, output folder) and raises :class:`UsageError` for a
bad one, then does the work. :func:`gahb.cli.main` turns a :class:`UsageError` into one line on stderr and
exit code 2, Ctrl-C into one line and exit code 130, and any other error into one line and exit code 1
(``--debug`` or ``GAHB_DEBUG=1`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import signal
import sys
from pathlib import Path

from gahb._checks import ensure_writable_folder

__all__ = [
    "UsageError", "Parser", "add_common_arguments", "usage_errors", "check_arguments", "check_device", "check_seed",
    "prepare_output",
    "positive_int", "parse_int_list", "parse_float_list", "say",
]


class UsageError(ValueError):
    """A bad option value, data source, device or output folder: reported before any work (exit code 2)."""


class Parser(argparse.ArgumentParser):
    """``argparse`` with defaults shown in every help line and errors printed as one line (exit code 2)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        self.exit(2, f"gahb: error: {self.prog.removeprefix('gahb ')}: {message} (see {self.prog} --help)\n")


def add_common_arguments(parser, *, output: str, seed: bool = True, device: bool = True) -> None:
    """``-o/--output``, ``--device``, ``--seed``, ``-q/--quiet``, ``--debug``: the same names and defaults everywhere."""
    parser.add_argument("-o", "--output", "--out", dest="output", default=output, metavar="DIR",
                        help="report folder (created if missing)")
    if device:
        parser.add_argument("--device", default="auto", help="auto (CUDA when available, else CPU), cpu, cuda or cuda:N")
    if seed:
        parser.add_argument("--seed", type=int, default=0, help="seed of data, weights, training and sampling noise")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    parser.add_argument("--debug", action="store_true", help="show the Python traceback of an error")


# parameters set by the options of add_common_arguments, under the same names in every command
COMMON_OPTIONS = {"random_state": "--seed", "device": "--device"}
_PARAM = re.compile(r"The '(\w+)' parameter of \w+ (must|should)")


@contextlib.contextmanager
def usage_errors(options: dict | None = None):
    """Turn a ``ValueError``/``TypeError`` raised by validation into a :class:`UsageError`.

    ``options`` maps parameter names to the command-line options that set them, so scikit-learn's
    ``The 'beta' parameter of DiffusionDenoiser must be ...`` reads ``--beta must be ...``.
    """
    try:
        yield
    except UsageError:
        raise
    except (ValueError, TypeError) as exc:
        msg = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        names = {**COMMON_OPTIONS, **(options or {})}
        msg = _PARAM.sub(lambda m: f"{names[m.group(1)]} {m.group(2)}" if m.group(1) in names else m.group(0), msg)
        raise UsageError(msg) from exc


def check_arguments(func, options: dict | None = None, **kwargs) -> None:
    """Check ``kwargs`` against the ``validate_params`` constraints of the public function ``func``, without
    calling it: the same validation it would do, before any work, as a :class:`UsageError` naming the options."""
    from sklearn.utils._param_validation import validate_parameter_constraints

    constraints = func._skl_parameter_constraints
    with usage_errors(options):
        validate_parameter_constraints({k: constraints[k] for k in kwargs}, kwargs, caller_name=func.__name__)


def check_seed(seed) -> None:
    """``--seed`` against scikit-learn's ``random_state`` constraint, as every estimator checks it."""
    from sklearn.utils._param_validation import validate_parameter_constraints

    with usage_errors():
        validate_parameter_constraints({"random_state": ["random_state"]}, {"random_state": seed}, caller_name="gahb")


def positive_int(text: str) -> int:
    """``argparse`` type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_int_list(text: str, option: str) -> list[int]:
    """``"1,10,100"`` -> ``[1, 10, 100]`` (sorted, unique, positive) or :class:`UsageError` naming ``option``."""
    try:
        values = sorted({int(s) for s in str(text).split(",") if s.strip()})
    except ValueError:
        raise UsageError(f"{option} must be comma-separated integers; got {text!r}.") from None
    if not values or values[0] < 1:
        raise UsageError(f"{option} must be positive integers; got {text!r}.")
    return values


def parse_float_list(text: str, option: str, n: int | None = None) -> list[float]:
    """``"12,30"`` -> ``[12.0, 30.0]`` (finite) or :class:`UsageError` naming ``option``."""
    try:
        values = [float(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"{option} must be comma-separated numbers; got {text!r}.") from None
    if not values or any(v != v or v in (float("inf"), float("-inf")) for v in values):
        raise UsageError(f"{option} must be finite numbers; got {text!r}.")
    if n is not None and len(values) != n:
        raise UsageError(f"{option} needs {n} comma-separated numbers; got {text!r}.")
    return values


def check_device(device: str) -> str:
    """The ``--device`` value if this machine has it (``auto`` always works), else :class:`UsageError`."""
    from gahb._utils import resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        raise UsageError(f"--device {device}: {exc}") from None
    return device


# folders this process created and may remove again if they are still empty when it stops
_CREATED: list[Path] = []


def prepare_output(path, *, report_files=("report.md", "report.json"), overwrite: bool = False) -> Path:
    """Create the output folder and check it is writable, before any work.

    A path that is a file, cannot be created or cannot be written raises :class:`UsageError`; so does a
    folder that already holds one of ``report_files`` unless ``overwrite`` (a finished report is never
    replaced without a word).
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output {out} is a file, not a folder.")
    existing = [f for f in report_files if (out / f).exists()]
    if existing and not overwrite:
        raise UsageError(f"--output {out} already holds {', '.join(existing)} from an earlier run; choose another "
                         "folder or pass --overwrite.")
    missing = [p for p in [out, *out.parents] if not p.exists()]
    try:
        ensure_writable_folder(out)
    except OSError as exc:
        raise UsageError(f"--output {out} is not writable: {exc.strerror or exc}.") from None
    _CREATED.extend(reversed(missing))
    return out


def remove_empty_created() -> None:
    """Remove the folders :func:`prepare_output` created if no file was written into them (empty subfolders, such
    as a checkpoint folder made before Ctrl-C, go with them)."""
    for p in list(_CREATED):
        with contextlib.suppress(OSError):
            if p.is_dir() and not _has_files(p):
                for sub in sorted(p.rglob("*"), key=lambda q: len(q.parts), reverse=True):
                    sub.rmdir()
                p.rmdir()
    _CREATED.clear()


def _has_files(folder: Path) -> bool:
    return any(not q.is_dir() for q in folder.rglob("*"))


def say(args, text: str) -> None:
    """A progress line on stderr unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr, flush=True)


def debug_requested(argv) -> bool:
    return "--debug" in (argv or sys.argv[1:]) or os.environ.get("GAHB_DEBUG", "") not in ("", "0")


@contextlib.contextmanager
def stop_on_sigterm():
    """SIGTERM (``kill``, a batch scheduler's stop) raises ``KeyboardInterrupt`` like Ctrl-C: one line, finished work kept."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (gahb.cli.main called from a worker thread): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def kept_work(output) -> str:
    """What an interrupted command leaves: the files already in its output folder, or nothing."""
    out = Path(output) if output else None
    if out is None or not out.is_dir() or not _has_files(out):
        return "nothing had finished (no output written)"
    return f"finished work is kept in {out} (reports and files written so far; nothing was half-written)"


def error_line(exc: BaseException, output=None) -> str:
    """One line for an unexpected error; file-system errors name the file and what was kept."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        hint = " The disk is full." if exc.errno == errno.ENOSPC else ""
        return (f"{type(exc).__name__}: {exc.strerror}{where}.{hint} Files are written atomically: nothing that "
                f"was already there was replaced; {kept_work(output)}.")
    return f"{type(exc).__name__}: {exc}"


def one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` of the commands: ``gahb: warning: ...`` on one line, not Python's two with source."""
    text = " ".join(str(message).split())
    print(f"gahb: warning: {text} ({category.__name__})", file=sys.stderr if file is None else file, flush=True)
