"""Atomic file writes, shared by every layer (standard library only): a file is either the old one or the new
one, never half-written, and no temporary file outlives a failure (a full disk, Ctrl-C, a killed process)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["replacing", "write_atomic", "write_all"]


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path beside ``path`` to write; renamed over ``path`` when the block ends normally,
    removed whatever happens."""
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # gone already after the rename
            os.remove(tmp)


def write_atomic(path, write) -> Path:
    """``write(binary file)`` into a temporary file beside ``path``, then rename it over ``path``; an error
    propagates naming ``path``."""
    return write_all({Path(path): write})[0]


def write_all(writers: dict) -> list[Path]:
    """Write several files all or nothing: each into a temporary file first, then all renamed into place.

    ``writers`` maps each path to ``write(binary file)``, in the order of the renames. When any write fails
    (a full disk fails a write, never a rename) no file is replaced and every temporary file is removed.
    """
    staged = []
    try:
        for path, write in writers.items():
            path = Path(path)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            staged.append((tmp, path))
            try:
                with os.fdopen(fd, "wb") as fh:
                    write(fh)
            except OSError as exc:  # name the file the user knows, not the temporary one
                raise type(exc)(exc.errno, exc.strerror, os.fspath(path)) from exc
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.remove(tmp)
    return [path for _, path in staged]
