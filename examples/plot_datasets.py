"""Example images from every generator and loader of ``gahb.datasets``.

Run:  python examples/plot_datasets.py [--out DIR]

Writes DIR/datasets.png (default: a new temporary folder; ``--out docs/img`` remakes the documentation's
figure). Rows whose files are absent (Fashion-MNIST, wallpapers) are skipped with a message.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from gahb.datasets import (
    load_fashion_mnist,
    load_image_folder,
    load_photo_tiles,
    make_c_alpha,
    make_dead_leaves,
    make_disks,
    make_ray,
    make_sines,
    shuffle_pixels,
)

N_COLS = 6


def _rows(quick=False):
    rows = []
    for alpha in (1.0, 4.0):
        b = make_c_alpha(N_COLS, 40, alpha=alpha, random_state=0)
        rows.append((f"make_c_alpha\nalpha={alpha:g}, 40x40", b.images))
    rows.append(("make_disks\n40x40", make_disks(N_COLS, 40, random_state=0).images))
    rows.append(("make_sines\n40x40", make_sines(N_COLS, 40, random_state=0).images))
    leaves = make_dead_leaves(N_COLS, 12, random_state=0)
    rows.append(("make_dead_leaves\n12x12", leaves.images))
    shuffled, _ = shuffle_pixels(leaves.data, random_state=0)
    rows.append(("shuffle_pixels\n(dead leaves)", shuffled.reshape(leaves.images.shape)))
    skdir = None
    try:
        import skimage.data

        skdir = os.path.dirname(skimage.data.__file__)
    except ImportError:
        print("scikit-image absent: skipping its rows")
    if skdir is not None and not quick:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            folder = load_image_folder(skdir, image_size=40, crop="center")
            tiles = load_photo_tiles(skdir, tile_size=8, downscale=4, min_std=0.05)
        picks = np.linspace(0, len(folder.images) - 1, N_COLS).astype(int)
        rows.append(("load_image_folder\n(skimage, center, 40)", folder.images[picks]))
        face = folder.images[list(folder.filenames).index("astronaut.png")] if "astronaut.png" in folder.filenames else folder.images[0]
        ray = make_ray(face, N_COLS, random_state=0)
        order = np.argsort(ray.scales)
        rows.append(("make_ray\n(astronaut)", ray.images[order]))
        for h in (0, 1):
            idx = np.flatnonzero(tiles.half == h)
            pick = idx[np.linspace(0, len(idx) - 1, N_COLS // 2).astype(int)]
            if h == 0:
                tile_imgs = tiles.images[pick]
            else:
                tile_imgs = np.concatenate([tile_imgs, tiles.images[pick]])
        rows.append(("load_photo_tiles\n(skimage, halves 0|1)", tile_imgs))
    if quick:
        return rows
    try:
        fm = load_fashion_mnist(kind="test", crop=24, image_size=12)
        rows.append(("load_fashion_mnist\ncrop 24 -> 12", fm.images[:N_COLS]))
    except FileNotFoundError as exc:
        print(f"skipping Fashion-MNIST: {exc}")
    if os.path.isdir("/usr/share/backgrounds"):
        wp = load_photo_tiles("/usr/share/backgrounds", tile_size=16, downscale=8, min_std=0.05)
        pick = np.linspace(0, len(wp.images) - 1, N_COLS).astype(int)
        rows.append(("load_photo_tiles\n(wallpapers, 16x16)", wp.images[pick]))
    else:
        print("skipping wallpapers: /usr/share/backgrounds absent")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="folder for datasets.png (default: a new temporary folder)")
    parser.add_argument("--quick", action="store_true", help="synthetic rows only (no files read)")
    args = parser.parse_args(argv)
    from gahb.report import save_figure, subplots

    rows = _rows(args.quick)
    fig, axes = subplots(len(rows), N_COLS, figsize=(N_COLS * 1.05 + 1.9, len(rows) * 1.05), squeeze=False)
    for r, (label, imgs) in enumerate(rows):
        for c in range(N_COLS):
            ax = axes[r, c]
            ax.imshow(imgs[c], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    fig.subplots_adjust(left=0.25, right=0.99, top=0.99, bottom=0.01, wspace=0.05, hspace=0.08)
    path = save_figure(fig, Path(args.out or tempfile.mkdtemp(prefix="gahb-datasets-")) / "datasets.png", dpi=72)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
