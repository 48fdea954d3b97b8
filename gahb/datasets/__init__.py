"""Datasets: the paper's synthetic image classes, offline loaders for real images, and utilities.

Everything here is plain numpy (PIL only to read image files) and returns sklearn ``Bunch`` objects
with ``data`` of shape ``(n_samples, n_pixels)``, float32 in [0, 1], ``images`` and ``image_shape``.
"""

from gahb.datasets._dead_leaves import make_dead_leaves
from gahb.datasets._loaders import load_fashion_mnist, load_idx, load_image_folder, load_photo_tiles
from gahb.datasets._lsun import load_lsun
from gahb.datasets._synthetic import disk_tangents, make_c_alpha, make_disks, make_ray, make_sines, render_disks
from gahb.datasets._utils import disjoint_split, remove_near_duplicates, shuffle_pixels, unshuffle_pixels

__all__ = [
    "make_c_alpha",
    "make_disks",
    "render_disks",
    "disk_tangents",
    "make_sines",
    "make_ray",
    "make_dead_leaves",
    "shuffle_pixels",
    "unshuffle_pixels",
    "remove_near_duplicates",
    "disjoint_split",
    "load_image_folder",
    "load_photo_tiles",
    "load_lsun",
    "load_idx",
    "load_fashion_mnist",
]
