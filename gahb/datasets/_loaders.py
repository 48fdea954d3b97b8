"""Offline loaders for real images: image folders (CelebA pipeline), photo tiles, IDX / Fashion-MNIST.

Files are always listed in sorted name order (the ``os.listdir`` order of the paper's code is not
reproducible). Nothing is ever downloaded. Folder loaders can cache their result in a compressed
``.npz`` keyed by the parameters and the file list (names and sizes), so a large folder is read once.
"""

from __future__ import annotations

import gzip
import json
import numbers
import os
import warnings

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from gahb.datasets._common import (
    PATH,
    POSITIVE_INT,
    area_resize,
    bunch_or_X_y,
    check_size,
    image_bunch,
    size_constraint,
)

__all__ = ["load_image_folder", "load_photo_tiles", "load_idx", "load_fashion_mnist"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")
FASHION_MNIST_PATH = "/usr/share/datasets/fashion-mnist"
_CACHE_VERSION = 2


def _list_images(path) -> list[str]:
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"image folder not found: {path!r}.")
    names = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(path, f)))
    if not names:
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {path!r}.")
    return names


def _open_rgb(filename):
    """First frame of an image file as an RGB PIL image, or None when PIL cannot read it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(filename) as im:
            im.seek(0)
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        warnings.warn(f"skipping unreadable image {filename!r}: {exc}", stacklevel=3)
        return None


def _cached(cache, key: dict, compute):
    """Return ``compute()`` (a dict of arrays), reading/writing ``cache`` (.npz) when the key matches."""
    if cache is None:
        return compute()
    cache = os.fspath(cache)
    if not cache.endswith(".npz"):
        raise ValueError(f"cache must be a path ending in .npz; got {cache!r}.")
    key_str = json.dumps({"version": _CACHE_VERSION, **key}, sort_keys=True)
    if os.path.exists(cache):
        with np.load(cache, allow_pickle=False) as z:
            if str(z["_key"]) == key_str:
                return {k: z[k] for k in z.files if k != "_key"}
    out = compute()
    tmp = cache + ".tmp"
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, _key=np.array(key_str), **out)
    os.replace(tmp, cache)
    return out


def _file_key(path, names):
    # size and modification time: an image rewritten with the same size (BMP, PPM, TIFF) still invalidates
    stats = [os.stat(os.path.join(path, n)) for n in names]
    return [[n, st.st_size, st.st_mtime_ns] for n, st in zip(names, stats)]


# --------------------------------------------------------------------------- image folders (CelebA)


def _crop_box(w: int, h: int, crop):
    """PIL box ``(left, top, right, bottom)`` of the crop policy."""
    if crop is None:
        return 0, 0, w, h
    if crop == "celeba":
        side = int(round(min(w, h) * 160 / 178))  # 160 x 160 out of CelebA's 178 x 218
    else:  # "center"
        side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return left, top, left + side, top + side


@validate_params({"path": PATH, "image_size": size_constraint() + [None], "crop": [StrOptions({"celeba", "center"}), None],
                  "grayscale": ["boolean"], "cache": PATH + [None]},
                 prefer_skip_nested_validation=True)
def load_image_folder(path, image_size=40, crop="celeba", grayscale=True, cache=None):
    """Load every image of a folder with the CelebA preprocessing of the paper's code (paper §2.2).

    For each file, in sorted name order: convert to RGB (first frame), crop, resize with PIL bicubic on
    uint8 to ``image_size``, divide by 255, and with ``grayscale`` average R, G and B.

    Crop policies: ``"celeba"`` keeps the centred square of side ``round(160 / 178 * min(H, W))``, which
    on CelebA's aligned 178 x 218 faces is exactly the paper's rows 29:-29, columns 9:-9; other sizes
    keep the same fraction of the shorter side. ``"center"`` keeps the largest centred square; ``None``
    keeps the whole image (the resize may then change the aspect ratio).

    Parameters
    ----------
    path : str or path-like
        A folder of image files (not searched recursively).
    image_size : int, (int, int) or None, default=40
        Output ``(H, W)`` after the crop; ``None`` keeps the cropped size (all images must then agree).
        CelebA in the paper: 80 (UNet); Topeza's reproduction: 40.
    crop : {"celeba", "center", None}, default="celeba"
        Crop policy (above).
    grayscale : bool, default=True
        Mean of R, G, B (``image_shape`` ``(H, W)``); else ``(3, H, W)``.
    cache : str, path-like or None, default=None
        A ``.npz`` file: read when it matches the parameters and the folder's file names and sizes,
        otherwise (re)written.

    Returns
    -------
    Bunch
        ``data`` (n, n_pixels) float32 in [0, 1], ``images``, ``image_shape``, ``filenames`` (n,).
        There is no ``return_X_y``: the images of a folder have no per-image target.

    See Also
    --------
    remove_near_duplicates : The paper's de-duplication of the loaded faces.
    load_photo_tiles : Small tiles of larger photographs.

    Examples
    --------
    >>> from gahb.datasets import load_image_folder
    >>> faces = load_image_folder("img_align_celeba", image_size=40, cache="celeba40.npz")  # doctest: +SKIP
    """
    names = _list_images(path)
    size = None if image_size is None else check_size(image_size)

    def compute():
        from PIL import Image

        bicubic = getattr(Image, "Resampling", Image).BICUBIC
        out, kept = None, []
        for name in names:
            im = _open_rgb(os.path.join(path, name))
            if im is None:
                continue
            im = im.crop(_crop_box(im.width, im.height, crop))
            if size is not None and (im.height, im.width) != size:
                im = im.resize((size[1], size[0]), bicubic)
            x = np.asarray(im, dtype=np.float64) / 255.0
            x = x.mean(axis=2) if grayscale else x.transpose(2, 0, 1)
            if out is None:  # one buffer for the whole folder: no second copy when stacking
                out = np.empty((len(names),) + x.shape, dtype=np.float32)
            elif x.shape != out.shape[1:]:
                raise ValueError(
                    f"{name!r} gives a {x.shape} image but earlier files gave {out.shape[1:]}; "
                    "pass image_size to resize every image to one size."
                )
            out[len(kept)] = x
            kept.append(name)
        if not kept:
            raise ValueError(f"no readable image in {os.fspath(path)!r}.")
        return {"images": out[: len(kept)], "filenames": np.array(kept)}

    key = {"loader": "image_folder", "size": size, "crop": crop, "gray": bool(grayscale), "files": _file_key(path, names)}
    res = _cached(cache, key, compute)
    return image_bunch(res["images"], filenames=res["filenames"])


# --------------------------------------------------------------------------- photo tiles


def _photo_gray(filename, downscale):
    im = _open_rgb(filename)
    if im is None:
        return None
    a = np.asarray(im)
    h, w = a.shape[0] // downscale, a.shape[1] // downscale
    # exact integer block sums are several times faster than float conversion of a 10-megapixel photo
    blocks = a[: h * downscale, : w * downscale].reshape(h, downscale, w, downscale, 3)
    return blocks.sum(axis=(1, 3, 4), dtype=np.uint32).astype(np.float32) / np.float32(765 * downscale**2)


def _balance_halves(counts):
    """Assign whole photos to two halves, largest first to the half with fewer tiles (deterministic)."""
    half = np.zeros(len(counts), dtype=np.int64)
    totals = [0, 0]
    for p in sorted(range(len(counts)), key=lambda i: (-counts[i], i)):
        h = int(totals[1] < totals[0])
        half[p] = h
        totals[h] += counts[p]
    return half


@validate_params({"path": PATH, "tile_size": size_constraint(), "downscale": POSITIVE_INT,
                  "min_std": [Interval(numbers.Real, 0, None, closed="left")], "stride": size_constraint() + [None],
                  "cache": PATH + [None], "return_X_y": ["boolean"]},
                 prefer_skip_nested_validation=True)
def load_photo_tiles(path, tile_size=8, downscale=4, min_std=0.02, stride=None, cache=None, *, return_X_y=False):
    """Small grayscale tiles cut from a folder of photographs, in two halves disjoint by photo.

    Each photo (sorted names) is converted to grayscale (mean of R, G, B, in [0, 1]), shrunk by
    averaging ``downscale x downscale`` blocks (which also averages out JPEG 8 x 8 block artefacts),
    and cut into ``tile_size x tile_size`` tiles every ``stride`` pixels; tiles whose standard deviation
    is below ``min_std`` (flat sky, walls) are dropped. Whole photos are then assigned to half 0 or 1,
    largest photo first to the half with fewer tiles, so no photo contributes to both halves: two
    training sets drawn from different halves share no scene.

    Parameters
    ----------
    path : str or path-like
        A folder of photographs, e.g. ``/usr/share/backgrounds`` or scikit-image's bundled images
        (``os.path.dirname(skimage.data.__file__)``).
    tile_size : int or (int, int), default=8
        Tile ``(H, W)``.
    downscale : int, default=4
        Block-average factor applied to each photo first (1 = none).
    min_std : float, default=0.02
        Minimum tile standard deviation kept.
    stride : int, (int, int) or None, default=None
        Step between tiles; ``None`` means ``tile_size`` (non-overlapping tiles).
    cache : str, path-like or None, default=None
        ``.npz`` cache file, as in :func:`load_image_folder`.
    return_X_y : bool, default=False
        Return ``(data, photo_index)`` instead of the Bunch: each tile labelled by its source photo (a
        group label, e.g. for :class:`sklearn.model_selection.GroupKFold`).

    Returns
    -------
    Bunch
        ``data`` (n, H*W) float32, ``images`` (n, H, W), ``image_shape``, ``photo_index`` (n,) index into
        ``photos``, ``half`` (n,) in {0, 1}, ``positions`` (n, 2) tile top-left (row, col) in the shrunk
        photo, ``photos`` (file names, including photos that gave no tile).
    (data, photo_index) : tuple of ndarray
        Only with ``return_X_y=True``.

    See Also
    --------
    load_image_folder : Whole images, resized.
    gahb.experiments.generalization_curve : Its ``X_B`` takes the other half, so A and B share no scene.

    Examples
    --------
    >>> import os, skimage.data
    >>> from gahb.datasets import load_photo_tiles
    >>> t = load_photo_tiles(os.path.dirname(skimage.data.__file__), tile_size=8)
    >>> X_a, X_b = t.data[t.half == 0], t.data[t.half == 1]
    """
    names = _list_images(path)
    th, tw = check_size(tile_size, "tile_size")
    ds = int(downscale)
    sh, sw = (th, tw) if stride is None else check_size(stride, "stride")

    def compute():
        tiles, photo, pos = [], [], []
        for p, name in enumerate(names):
            x = _photo_gray(os.path.join(path, name), ds)
            if x is None or x.shape[0] < th or x.shape[1] < tw:
                continue
            win = np.lib.stride_tricks.sliding_window_view(x, (th, tw))[::sh, ::sw]
            ok = win.std(axis=(2, 3)) >= min_std
            r, c = np.nonzero(ok)
            tiles.append(win[r, c])
            photo.append(np.full(r.size, p))
            pos.append(np.stack([r * sh, c * sw], axis=1))
        if not tiles or sum(t.shape[0] for t in tiles) == 0:
            raise ValueError(f"no tile of {path!r} passed min_std={min_std}; lower min_std or tile_size.")
        return {
            "images": np.concatenate(tiles).astype(np.float32),
            "photo_index": np.concatenate(photo),
            "positions": np.concatenate(pos),
        }

    key = {"loader": "photo_tiles", "tile": [th, tw], "downscale": ds, "min_std": float(min_std), "stride": [sh, sw],
           "files": _file_key(path, names)}
    res = _cached(cache, key, compute)
    counts = np.bincount(res["photo_index"], minlength=len(names))
    half = _balance_halves(counts)[res["photo_index"]]
    bunch = image_bunch(
        res["images"], photo_index=res["photo_index"], half=half, positions=res["positions"], photos=np.array(names)
    )
    return bunch_or_X_y(bunch, return_X_y, "photo_index")


# --------------------------------------------------------------------------- IDX / Fashion-MNIST

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


@validate_params({"path": PATH}, prefer_skip_nested_validation=True)
def load_idx(path):
    """Read an IDX file (the MNIST format), gzip-compressed or not, into a native-endian array.

    Parameters
    ----------
    path : str or path-like
        The file; gzip is detected from its first bytes, not its name.

    Returns
    -------
    ndarray
        Shape and dtype from the file header (uint8 images of shape (n, 28, 28) for MNIST).

    See Also
    --------
    load_fashion_mnist : Reads the four Fashion-MNIST IDX files into a Bunch.

    Examples
    --------
    >>> from gahb.datasets import load_idx
    >>> X = load_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")  # doctest: +SKIP
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file not found: {path!r}.")
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path!r} is not an IDX file (bad magic number {raw[:4].hex()}).")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    offset = 4 + 4 * ndim
    count = int(np.prod(shape)) if shape else 1
    if len(raw) - offset != count * dtype.itemsize:
        raise ValueError(f"{path!r}: header announces shape {shape} but the file holds {len(raw) - offset} data bytes.")
    return np.frombuffer(raw, dtype=dtype, count=count, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(path, stem):
    for name in (stem, stem + ".gz"):
        f = os.path.join(path, name)
        if os.path.isfile(f):
            return f
    raise FileNotFoundError(
        f"Fashion-MNIST file {stem}[.gz] not found in {path!r}. Install the Debian package "
        "'dataset-fashion-mnist' (files in /usr/share/datasets/fashion-mnist) or pass the folder holding the "
        "four IDX files."
    )


@validate_params({"path": PATH, "kind": [StrOptions({"train", "test", "all"})], "crop": [None] + POSITIVE_INT,
                  "image_size": size_constraint() + [None], "return_X_y": ["boolean"]},
                 prefer_skip_nested_validation=True)
def load_fashion_mnist(path=FASHION_MNIST_PATH, kind="train", crop=None, image_size=None, *, return_X_y=False):
    """Fashion-MNIST from its IDX files, with an optional centred crop and area downscale.

    Parameters
    ----------
    path : str or path-like, default="/usr/share/datasets/fashion-mnist"
        Folder with ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
        ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]``.
    kind : {"train", "test", "all"}, default="train"
        60,000 training images, 10,000 test images, or both (train first).
    crop : int or None, default=None
        Side of a centred square crop of the 28 x 28 images (e.g. 24).
    image_size : int, (int, int) or None, default=None
        Area-average (box) resampling after the crop, e.g. crop 24 -> 12 is a 2 x 2 block mean.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of the Bunch.

    Returns
    -------
    Bunch
        ``data`` (n, H*W) float32 in [0, 1], ``images`` (n, H, W), ``image_shape``, ``target`` (n,) labels
        (0 = T-shirt/top, ..., 9 = ankle boot).
    (data, target) : tuple of ndarray
        Only with ``return_X_y=True``.

    See Also
    --------
    load_idx : Reads one IDX file.

    Examples
    --------
    >>> from gahb.datasets import load_fashion_mnist
    >>> fm = load_fashion_mnist(kind="test", crop=24, image_size=12)  # doctest: +SKIP
    >>> fm.data.shape  # doctest: +SKIP
    (10000, 144)
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"Fashion-MNIST folder not found: {path!r}. Install the Debian package 'dataset-fashion-mnist' or pass "
            "the folder holding the IDX files."
        )
    prefixes = {"train": ["train"], "test": ["t10k"], "all": ["train", "t10k"]}[kind]
    files = [(_find_idx(path, f"{p}-images-idx3-ubyte"), _find_idx(path, f"{p}-labels-idx1-ubyte")) for p in prefixes]
    X = np.concatenate([load_idx(f) for f, _ in files])
    y = np.concatenate([load_idx(f) for _, f in files]).astype(np.int64)
    if X.ndim != 3 or len(X) != len(y):
        raise ValueError(f"unexpected Fashion-MNIST arrays: images {X.shape}, labels {y.shape}.")
    if crop is not None:
        c = int(crop)
        if c > min(X.shape[1:]):
            raise ValueError(f"crop={c} is larger than the {X.shape[1]} x {X.shape[2]} images.")
        top, left = (X.shape[1] - c) // 2, (X.shape[2] - c) // 2
        X = X[:, top : top + c, left : left + c]
    X = X.astype(np.float64) / 255.0
    if image_size is not None:
        X = area_resize(X, check_size(image_size))
    return bunch_or_X_y(image_bunch(X, target=y), return_X_y, "target")
