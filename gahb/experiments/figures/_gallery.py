"""The docs gallery: one markdown page per figure, generated from the catalogue and a real run's report.json.

``docs/gallery/fig-NN/`` holds the ``report.json`` and PNG panels of a ``gahb figure NN`` run; the pages
are generated at build time (mkdocs hook ``docs_hooks/gallery.py``), so every number on them is read
from a report, never typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

from gahb.experiments.figures._catalogue import FIGURES
from gahb.report import markdown_table

__all__ = ["gallery_pages", "figure_page", "index_page"]

_DATA = {"celeba": "CelebA (80 x 80 faces)", "lsun": "LSUN bedrooms (80 x 80)", "lsun32": "LSUN bedrooms (32 x 32)",
         "celeba-hq": "CelebA-HQ (40 x 40)", "synthetic": "synthetic images"}


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}"
    return "" if v is None else str(v)


def figure_page(number: int, folder: Path | None) -> str:
    """Markdown of the gallery page of figure ``number``; ``folder`` holds a run's report (or is None)."""
    fig = FIGURES[number]
    lines = [f"# Figure {number}", "", f"**{fig.title}.**", "", f"**The paper's claim.** {fig.claim}", ""]
    report = folder / "report.json" if folder is not None else None
    if fig.experiment is None:
        lines += [f"**Not reproducible here:** {fig.reason}", ""]
        return "\n".join(lines)
    if report is None or not report.is_file():
        lines += ["**Not yet run for this gallery.** The command below reproduces it.", "",
                  "```bash", f"{fig.command}", "```", ""]
        return "\n".join(lines)
    data = json.loads(report.read_text())
    meta = data["figure"]
    panels = [f for f in data.get("figures", []) if (folder / f).is_file()]
    for name in panels:
        lines += [f"![{name}]({folder.name}/{name})", ""]
    lines += ["## gahb's numbers beside the paper's", "",
              markdown_table([{k: _fmt(r[k]) for k in ("quantity", "paper", "gahb")} for r in meta["comparison"]],
                             ["quantity", "paper", "gahb"]), "",
              f"**Scale of this run: {meta['scale']}.** {meta['setup']}", ""]
    if fig.data != "synthetic":
        lines += [f"The paper used {_DATA[fig.data]}; this run used the stand-in ({fig.stand_in}). With the data "
                  "on disk, `--data-path` runs the same figure on it.", ""]
    lines += ["## The command", "", "```bash", meta["command"], "```", "",
              f"Paper scale (prints its cost estimate first): `{fig.command} --scale paper`.", ""]
    return "\n".join(lines)


def index_page(root: Path) -> str:
    lines = ["# Gallery: the paper's figures, one command each", "",
             "One page per figure of Kadkhodaie, Guth, Simoncelli & Mallat (ICLR 2024): the paper's claim, gahb's "
             "figure from a real run (`gahb figure N`), its numbers beside the paper's, and the command. The runs "
             "are at CPU scale on synthetic stand-in data; `--scale paper` and `--data-path` give the paper's "
             "settings and data. Every number on these pages is read from the run's `report.json`; where gahb's number "
             "disagrees with the paper's, the page says so by showing both.", "",
             "| figure | what it shows | status |", "|---|---|---|"]
    for n, fig in FIGURES.items():
        report = root / f"fig-{n:02d}" / "report.json"
        status = ("run at " + json.loads(report.read_text())["figure"]["scale"] + " scale") if report.is_file() \
            else ("not reproducible here" if fig.experiment is None else "not yet run")
        lines.append(f"| [Fig. {n}](fig-{n:02d}.md) | {fig.title} | {status} |")
    return "\n".join(lines) + "\n"


def gallery_pages(root) -> dict[str, str]:
    """``{path relative to docs/: markdown}`` for the index and every figure, from the runs under ``root``."""
    root = Path(root)
    pages = {"gallery/index.md": index_page(root)}
    for n in FIGURES:
        folder = root / f"fig-{n:02d}"
        pages[f"gallery/fig-{n:02d}.md"] = figure_page(n, folder if folder.is_dir() else None)
    return pages
