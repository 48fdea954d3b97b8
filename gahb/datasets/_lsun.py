"""LSUN scenes (e.g. bedrooms) with the paper's preprocessing: top-left square crop, bicubic resize, grayscale.

LSUN ships each category as an LMDB database (a folder holding ``data.mdb``) whose values are encoded
images; its export script writes them as image files in nested folders. :func:`load_lsun` reads either.
Nothing is downloaded.
"""

from __future__ import annotations

import os

import numpy as np
from sklearn.utils._param_validation import validate_params

from gahb.datasets._common import PATH, POSITIVE_INT, check_size, image_bunch, size_constraint
from gahb.datasets._images import SkipLog, list_images, read_images, warn_skipped

__all__ = ["load_lsun"]


def _lmdb_items(path, n_max):
    """(key, encoded bytes) of the first ``n_max`` records, in key order."""
    try:
        import lmdb
    except ImportError as exc:
        raise ImportError(f"{path!r} is an LMDB database; reading it needs the lmdb package: "
                          "pip install 'gahb[lsun]' (or export the images to files first).") from exc
    env = lmdb.open(os.fspath(path), readonly=True, lock=False, readahead=False, max_readers=1)
    try:
        with env.begin(write=False) as txn:
            for i, (key, value) in enumerate(txn.cursor()):
                if n_max is not None and i >= n_max:
                    break
                yield key.decode("ascii", "replace"), bytes(value)
    finally:
        env.close()


def _square_box(w, h, crop_size):
    side = min(w, h) if crop_size is None else crop_size
    if side > min(w, h):
        raise ValueError(f"crop_size={side} is larger than a {w} x {h} image.")
    return 0, 0, side, side  # top-left, as the paper's LSUN loader


@validate_params(
    {
        "path": PATH,
        "image_size": [None, *size_constraint()],
        "n_samples": [None, *POSITIVE_INT],
        "crop_size": [None, *POSITIVE_INT],
        "grayscale": ["boolean"],
        "strict": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_lsun(path, image_size=80, *, n_samples=None, crop_size=None, grayscale=True, strict=False):
    """Load LSUN images (an LMDB folder or exported image files) as the paper does (its §2.2, App. B).

    Each image is cropped to its **top-left** square (side ``crop_size``, by default the shorter side:
    256 for LSUN, whose images have a shorter side of 256), resized with PIL's bicubic filter on uint8
    RGB to ``image_size``, divided by 255 and, with ``grayscale``, averaged over R, G, B. Records are read
    in key order (LMDB) or sorted path order (files, searched recursively), so the order is reproducible.

    Parameters
    ----------
    path : str or path-like
        A folder holding ``data.mdb`` (the LSUN release, e.g. ``bedroom_train_lmdb``; needs the ``lmdb``
        package) or a folder tree of image files (the LSUN export, or any images).
    image_size : int, (int, int) or None, default=80
        Output ``(H, W)``; the paper uses 80 (UNet) and 32 (BF-CNN). ``None`` keeps the crop.
    n_samples : int or None, default=None
        Read only the first ``n_samples`` images (LSUN bedroom holds about 3 million).
    crop_size : int or None, default=None
        Side of the top-left square crop; ``None`` uses each image's shorter side.
    grayscale : bool, default=True
        Mean of R, G, B (``image_shape`` ``(H, W)``); else ``(3, H, W)``.
    strict : bool, default=False
        Stop with a ``ValueError`` at the first record that cannot be read; by default such records are
        skipped with one :class:`gahb.exceptions.SkippedImageWarning` naming them (16-bit and float images are
        read by their real range, as in :func:`load_image_folder`).

    Returns
    -------
    Bunch
        ``data`` (n, n_pixels) float32 in [0, 1], ``images``, ``image_shape``, ``names`` (LMDB keys or
        relative file paths), ``skipped`` (the records that could not be read).

    See Also
    --------
    load_image_folder : Folders of faces with the paper's CelebA crop.

    Examples
    --------
    >>> from gahb.datasets import load_lsun
    >>> bedrooms = load_lsun("bedroom_train_lmdb", image_size=80, n_samples=20000)  # doctest: +SKIP
    >>> bedrooms.data.shape  # doctest: +SKIP
    (20000, 6400)
    """

    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"LSUN folder not found: {path!r}.")
    size = None if image_size is None else check_size(image_size)
    n_max = None if n_samples is None else int(n_samples)  # validated above
    crop = None if crop_size is None else int(crop_size)
    if os.path.isfile(os.path.join(path, "data.mdb")):
        records = _lmdb_items(path, n_max)
    else:
        try:
            files = list_images(path, recursive=True)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"no data.mdb in {path!r} and {exc}") from None
        records = ((f, os.path.join(path, f)) for f in files[:n_max])
    log = SkipLog(strict)
    images, keys = read_images(records, lambda w, h: _square_box(w, h, crop), size, grayscale, log,
                               hint="pass image_size (or crop_size) so that every image has one size.")
    n_read = len(keys) + len(log.skipped)
    if not keys:
        raise ValueError(f"no readable image in {path!r}" + (f" (first: {log.skipped[0]!r}: {log.reasons[0]})."
                                                              if log.skipped else "."))
    warn_skipped(log.skipped, log.reasons, n_read)
    return image_bunch(images, names=np.array(keys), skipped=np.array(log.skipped, str))
