"""Report writing shared by the experiments: ``report.md`` with embedded figures, ``report.json``.

Nothing here is needed unless a report is written. matplotlib is imported lazily, and figures are
``matplotlib.figure.Figure`` objects made without pyplot: drawing a report never needs a display, never
selects a backend and never changes the backend of the user's session (a notebook keeps its own).
"""

from __future__ import annotations

import io
import json
import math
import numbers
import time
from pathlib import Path

import numpy as np

from gahb._files import write_all, write_atomic

__all__ = ["Report", "markdown_table", "save_figure", "plot_image_grid", "subplots", "require_matplotlib",
           "to_jsonable"]


def require_matplotlib():
    """Import matplotlib or raise an ImportError naming the extra to install.

    Returns
    -------
    matplotlib : module

    See Also
    --------
    subplots : A figure and its axes, without pyplot.

    Examples
    --------
    >>> from gahb.report import require_matplotlib
    >>> require_matplotlib().__name__
    'matplotlib'
    """
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Figures need matplotlib: pip install 'gahb[plot]'.") from exc
    return matplotlib


def subplots(nrows: int = 1, ncols: int = 1, *, figsize=None, **kwargs):
    """A new ``matplotlib.figure.Figure`` and its axes, as ``pyplot.subplots`` but without pyplot.

    The figure belongs to no backend and to no pyplot figure manager: nothing global changes, and
    nothing needs closing. Notebooks still display it, and :func:`save_figure` writes it.

    Parameters
    ----------
    nrows, ncols : int, default=1
        Grid of axes.
    figsize : (float, float), default=None
        Width and height in inches (matplotlib's default when None).
    **kwargs
        Passed to ``Figure.subplots`` (``squeeze``, ``sharex``, ``sharey``, ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : Axes or ndarray of Axes

    See Also
    --------
    save_figure : Writes the figure as PNG.

    Examples
    --------
    >>> from gahb.report import subplots
    >>> fig, axes = subplots(1, 2, figsize=(4, 2))
    >>> len(axes), type(fig).__name__
    (2, 'Figure')
    """
    require_matplotlib()
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def _fmt(value, precision: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (numbers.Integral, np.integer)):
        return str(int(value))
    if isinstance(value, (numbers.Real, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "nan"
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 10 ** (-precision)):
            return f"{v:.{precision}g}"
        return f"{v:.{precision}f}"
    return str(value).replace("|", "\\|")


def markdown_table(rows, columns=None, precision: int = 3) -> str:
    """Render rows as a GitHub markdown table.

    Parameters
    ----------
    rows : list of dict, or dict of sequences
        One dict per row, or a column -> values mapping (as from ``DataFrame.to_dict("list")``).
    columns : list of str, default=None
        Column order (default: keys of the first row / of the mapping).
    precision : int, default=3
        Digits after the point for floats.

    Returns
    -------
    table : str

    See Also
    --------
    Report.add_table : Adds such a table to a report.

    Examples
    --------
    >>> print(markdown_table([{"N": 1, "mem": 1.0}, {"N": 10, "mem": 0.25}]))
    | N | mem |
    |---|---|
    | 1 | 1.000 |
    | 10 | 0.250 |
    """
    if isinstance(rows, dict):
        keys = list(rows) if columns is None else list(columns)
        n = len(next(iter(rows.values()))) if rows else 0
        rows = [{k: rows[k][i] for k in keys} for i in range(n)]
    rows = list(rows)
    if columns is None:
        columns = list(rows[0]) if rows else []
    lines = ["| " + " | ".join(str(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c), precision) for c in columns) + " |")
    return "\n".join(lines)


def to_jsonable(obj):
    """Convert numpy scalars/arrays, paths and tuples to plain JSON types; non-finite floats -> None.

    See Also
    --------
    Report.write : Writes ``report.json`` through it.

    Examples
    --------
    >>> import numpy as np
    >>> to_jsonable({"a": np.arange(3), "b": np.float32(0.5), "c": float("nan"), "d": (1, 2)})
    {'a': [0, 1, 2], 'b': 0.5, 'c': None, 'd': [1, 2]}
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (numbers.Integral, np.integer)):
        return int(obj)
    if isinstance(obj, (numbers.Real, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    return str(obj)


def save_figure(fig, path, dpi: int = 100) -> Path:
    """Save a matplotlib figure as PNG, creating folders.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
    dpi : int, default=100

    Returns
    -------
    path : Path

    See Also
    --------
    Report.add_figure : Saves a figure into a report and links it.

    Examples
    --------
    >>> import tempfile, os
    >>> from gahb.report import save_figure, subplots
    >>> fig, ax = subplots()
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> path = save_figure(fig, os.path.join(tempfile.mkdtemp(), "line.png"))
    >>> path.suffix, path.stat().st_size > 0
    ('.png', True)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, lambda fh: fig.savefig(fh, format="png", dpi=dpi, bbox_inches="tight"))


def plot_image_grid(images, image_shape=None, *, row_labels=None, col_labels=None, title=None,
                    vmin=0.0, vmax=1.0, cell_size: float = 0.9, cmap="gray"):
    """Plot images on a grid, one row per group.

    Parameters
    ----------
    images : array-like of shape (n_rows, n_cols, n_features) or (n_rows, n_cols, H, W[, C]), or list of 2-D arrays
        Rows of images (a 2-D ``(n, n_features)`` array is one row). NaN images are shown blank.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(C, H, W)`` used to reshape flat rows.
    row_labels, col_labels : list of str, default=None
        Labels on the left of each row / above each column.
    title : str, default=None
    vmin, vmax : float, default=0.0, 1.0
        Grey range; ``None`` scales each image to its own range.
    cell_size : float, default=0.9
        Inches per image.

    Returns
    -------
    fig : matplotlib.figure.Figure

    See Also
    --------
    save_figure : Writes the figure.

    Examples
    --------
    >>> import numpy as np
    >>> rows = np.random.default_rng(0).random((2, 3, 16))  # two rows of three 4 x 4 images
    >>> fig = plot_image_grid(rows, (4, 4), row_labels=["a", "b"])
    >>> len(fig.axes)
    6
    """
    rows = [np.asarray(r, dtype=np.float64) for r in images]
    if len(rows) and rows[0].ndim == 1:  # a single row of flat images
        rows = [np.stack(rows)]
    n_rows = len(rows)
    n_cols = max((len(r) for r in rows), default=0)
    if n_rows == 0 or n_cols == 0:
        raise ValueError("plot_image_grid needs at least one image.")
    fig, axes = subplots(n_rows, n_cols, figsize=(cell_size * n_cols + 0.8, cell_size * n_rows + 0.4), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(False)
            if j >= len(row):
                continue
            img = _as_display(row[j], image_shape)
            if img is not None:
                ax.imshow(img, cmap=cmap if img.ndim == 2 else None, vmin=vmin, vmax=vmax,
                          interpolation="nearest")
            if i == 0 and col_labels is not None and j < len(col_labels):
                ax.set_title(str(col_labels[j]), fontsize=7)
        if row_labels is not None and i < len(row_labels):
            axes[i, 0].set_ylabel(str(row_labels[i]), fontsize=8, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig


def _as_display(img, image_shape):
    img = np.asarray(img, dtype=np.float64)
    if not np.all(np.isfinite(img)):
        return None
    if img.ndim == 1:
        if image_shape is None:
            side = int(round(math.sqrt(img.size)))
            if side * side != img.size:
                raise ValueError("Flat images need image_shape unless they are square.")
            image_shape = (side, side)
        img = img.reshape(image_shape)
    if img.ndim == 3 and img.shape[0] in (1, 3) and img.shape[-1] not in (1, 3):  # (C, H, W) -> (H, W, C)
        img = np.moveaxis(img, 0, -1)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 3:
        img = np.clip(img, 0, 1)
    return img


class Report:
    """A tiny builder for an experiment report folder: ``report.md``, ``report.json`` and PNG figures.

    Parameters
    ----------
    output_dir : str or Path
        Folder to write into (created).
    title : str
        First heading of ``report.md``.

    See Also
    --------
    gahb.experiments.GeneralizationCurve.to_report : Writes a study into a report.

    Examples
    --------
    >>> import tempfile
    >>> rep = Report(tempfile.mkdtemp(), "Demo")
    >>> rep.add_text("Hello.")
    >>> rep.add_table([{"N": 1, "mem": 1.0}])
    >>> rep.data["answer"] = 42
    >>> md_path, json_path = rep.write()
    """

    def __init__(self, output_dir, title: str):
        self.output_dir = Path(output_dir)
        self.title = title
        self.parts: list[str] = []
        self.data: dict = {}
        self.figures: list[str] = []
        self._png: dict[str, bytes] = {}
        self._t0 = time.perf_counter()
        self.output_dir.mkdir(parents=True, exist_ok=True)

    def add_heading(self, text: str, level: int = 2) -> None:
        """Append a markdown heading (``level`` 2 by default: the title is the only level 1)."""
        self.parts.append("#" * level + " " + text)

    def add_text(self, text: str) -> None:
        """Append a paragraph of markdown."""
        self.parts.append(text.strip())

    def add_table(self, rows, columns=None, precision: int = 3, caption: str | None = None) -> None:
        """Append a table (see :func:`markdown_table`), after an optional caption line."""
        if caption:
            self.parts.append(caption)
        self.parts.append(markdown_table(rows, columns, precision))

    def add_figure(self, fig, name: str, caption: str = "", dpi: int = 100) -> Path:
        """Render ``fig`` as ``<output_dir>/<name>.png`` (written by :meth:`write`) and embed it with a relative link."""
        fname = name if name.endswith(".png") else name + ".png"
        path = self.output_dir / fname
        png = io.BytesIO()
        fig.savefig(png, format="png", dpi=dpi, bbox_inches="tight")
        self._png[fname] = png.getvalue()
        self.figures.append(fname)
        self.parts.append(f"![{caption or name}]({fname})" + (f"\n\n*{caption}*" if caption else ""))
        return path

    def write(self, md_name: str = "report.md", json_name: str = "report.json"):
        """Write the figures, ``report.json`` and ``report.md``, all or nothing; returns the paths of the last two.

        Every file goes to a temporary name first and is renamed into place only when all are written, so a
        full disk, Ctrl-C or a crash never leaves a half-written report or a mix of two runs' files.
        """
        data = dict(self.data)
        data.setdefault("title", self.title)
        data.setdefault("figures", list(self.figures))
        data.setdefault("report_seconds", time.perf_counter() - self._t0)
        md = "# " + self.title + "\n\n" + "\n\n".join(self.parts) + "\n"
        md_path = self.output_dir / md_name
        json_path = self.output_dir / json_name
        js = json.dumps(to_jsonable(data), indent=2, allow_nan=False).encode("utf-8")
        files = {self.output_dir / name: (lambda fh, b=png: fh.write(b)) for name, png in self._png.items()}
        files[json_path] = lambda fh: fh.write(js)
        files[md_path] = lambda fh: fh.write(md.encode("utf-8"))  # renamed last: report.md marks a finished report
        write_all(files)
        return md_path, json_path
