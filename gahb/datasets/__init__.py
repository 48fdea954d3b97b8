"""Datasets: the paper's synthetic image classes, offline loaders for real images, and utilities.

Everything here is plain numpy (PIL only to read image files) and returns sklearn ``Bunch`` objects
with ``data`` of shape ``(n_samples, n_pixels)``, float32 in [0, 1], ``images`` and ``image_shape``.
"""

from gahb.datasets._dead_leaves import make_dead_leaves
from gahb.datasets._synthetic import disk_tangents, make_c_alpha, make_disks, make_ray, make_sines, render_disks

__all__ = [
    "make_c_alpha",
    "make_disks",
    "render_disks",
    "disk_tangents",
    "make_sines",
    "make_ray",
    "make_dead_leaves",
]
