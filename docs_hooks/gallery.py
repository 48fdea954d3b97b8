"""mkdocs hook: generate the gallery pages (docs/gallery/fig-NN.md) from the figure catalogue and the committed
report.json of each run, at build time, and add them to the navigation."""

from __future__ import annotations

import os
import sys

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pages(config):
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from gahb.experiments.figures._gallery import gallery_pages

    return gallery_pages(os.path.join(config["docs_dir"], "gallery"))


def on_config(config):
    pages = sorted(p for p in _pages(config) if p != "gallery/index.md")
    config["nav"].append({"Gallery": ["gallery/index.md", *pages]})
    return config


def on_files(files, config):
    for path, text in _pages(config).items():
        files.append(File.generated(config, path, content=text))
    return files
