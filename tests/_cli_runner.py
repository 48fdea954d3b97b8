"""Run many ``gahb`` command lines, each in its own process, cheaply: import gahb once, then fork per command.

Reads a JSON list of argument lists on stdin and writes, as JSON on stdout, one record per command: the
exit code, stderr, stdout and wall seconds of a forked child that runs ``gahb.cli.main(argv)`` and exits
with its return value (uncaught exceptions exit with 1 and a traceback, as ``python -m gahb`` would).

In each child, training and the experiments are replaced by a marker that exits with code 99 and says
so on stderr: a command that gets past its checks into real work is caught, however fast it would fail.
"""

import functools
import json
import os
import sys
import time
import traceback

MARKER_EXIT = 99


def _mark(owner, name):
    """Replace ``owner.name`` by a marker keeping its attributes (the validate_params constraints a command reads)."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def marker(*args, **kwargs):
        print(f"MARKER: {name} started", file=sys.stderr, flush=True)
        os._exit(MARKER_EXIT)

    setattr(owner, name, marker)


def _install_markers():
    import gahb.experiments.figures as figures
    import gahb.experiments.generalization as gen
    import gahb.experiments.optimality as opt
    from gahb.denoiser import DiffusionDenoiser

    _mark(DiffusionDenoiser, "fit")
    _mark(gen, "generalization_curve")
    _mark(figures, "run_figure")
    for name in ("c_alpha_optimality", "disk_optimality", "shuffled_control"):
        _mark(opt, name)


def _child(argv, err_path, out_path):
    fd_err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    fd_out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(fd_err, 2)
    os.dup2(fd_out, 1)
    code = 1
    try:
        _install_markers()
        from gahb.cli import main

        code = main(argv)
    except SystemExit as exc:  # argparse errors exit through SystemExit
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(int(code or 0))


def main():
    import tempfile

    import gahb.cli  # noqa: F401  (imported once, before forking)
    import gahb.denoiser  # noqa: F401
    import gahb.experiments.figures  # noqa: F401
    import gahb.experiments.generalization  # noqa: F401
    import gahb.experiments.optimality  # noqa: F401

    commands = json.load(sys.stdin)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, argv in enumerate(commands):
            err, out = os.path.join(tmp, f"{i}.err"), os.path.join(tmp, f"{i}.out")
            t0 = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                _child(argv, err, out)
            _, status = os.waitpid(pid, 0)
            results.append({"argv": argv, "rc": os.waitstatus_to_exitcode(status),
                            "seconds": time.perf_counter() - t0,
                            "stderr": open(err, encoding="utf-8", errors="replace").read(),
                            "stdout": open(out, encoding="utf-8", errors="replace").read()})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
