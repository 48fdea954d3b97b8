"""LSUN scenes (e.g. bedrooms) with the paper's preprocessing: top-left square crop, bicubic resize, grayscale.

LSUN ships each category as an LMDB database (a folder holding ``data.mdb``) whose values are encoded
images; its export script writes them as image files in nested folders. :func:`load_lsun` reads either.
Nothing is downloaded.
"""

from __future__ import annotations

import io
import numbers
import os
import warnings

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from gahb.datasets._common import check_int, check_size, image_bunch
from gahb.datasets._loaders import IMAGE_EXTENSIONS

__all__ = ["load_lsun"]


def _exported_files(path) -> list[str]:
    names = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        names += [os.path.relpath(os.path.join(root, f), path) for f in sorted(files)
                  if f.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted(names)


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


def _square_crop(im, crop_size):
    side = min(im.width, im.height) if crop_size is None else crop_size
    if side > min(im.width, im.height):
        raise ValueError(f"crop_size={side} is larger than a {im.width} x {im.height} image.")
    return im.crop((0, 0, side, side))  # top-left, as the paper's LSUN loader


@validate_params(
    {
        "path": [str, os.PathLike],
        "image_size": [None, Interval(numbers.Integral, 1, None, closed="left"), tuple, list],
        "n_samples": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "crop_size": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "grayscale": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_lsun(path, image_size=80, *, n_samples=None, crop_size=None, grayscale=True):
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

    Returns
    -------
    Bunch
        ``data`` (n, n_pixels) float32 in [0, 1], ``images``, ``image_shape``, ``names`` (LMDB keys or
        relative file paths).

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
    from PIL import Image

    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"LSUN folder not found: {path!r}.")
    size = None if image_size is None else check_size(image_size)
    n_max = None if n_samples is None else check_int(n_samples, "n_samples")
    crop = None if crop_size is None else check_int(crop_size, "crop_size")
    if os.path.isfile(os.path.join(path, "data.mdb")):
        records = _lmdb_items(path, n_max)
    else:
        files = _exported_files(path)
        if not files:
            raise FileNotFoundError(f"no data.mdb and no image files ({', '.join(IMAGE_EXTENSIONS)}) under {path!r}.")
        records = ((f, os.path.join(path, f)) for f in files[:n_max])
    bicubic = getattr(Image, "Resampling", Image).BICUBIC
    images, keys = [], []
    for key, source in records:
        try:
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
                im = im.convert("RGB")
        except OSError as exc:
            warnings.warn(f"skipping unreadable LSUN record {key!r}: {exc}", stacklevel=2)
            continue
        im = _square_crop(im, crop)
        if size is not None and (im.height, im.width) != size:
            im = im.resize((size[1], size[0]), bicubic)
        x = np.asarray(im, dtype=np.float64) / 255.0
        x = x.mean(axis=2) if grayscale else x.transpose(2, 0, 1)
        if images and x.shape != images[0].shape:
            raise ValueError(f"{key!r} gives a {x.shape} image but earlier ones gave {images[0].shape}; pass "
                             "image_size (or crop_size) so that every image has one size.")
        images.append(x.astype(np.float32))
        keys.append(key)
    if not images:
        raise ValueError(f"no readable image in {path!r}.")
    return image_bunch(np.stack(images), names=np.array(keys))
