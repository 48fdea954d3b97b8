"""Offline loaders for real images: image folders (CelebA pipeline), photo tiles, IDX / Fashion-MNIST.

Files are always listed in sorted name order (the ``os.listdir`` order of the paper's code is not
reproducible). Nothing is ever downloaded. Folder loaders can cache their result in a compressed
``.npz`` keyed by the parameters and the file list (names and sizes), so a large folder is read once.
"""

from __future__ import annotations

import gzip
import json
import math
import numbers
import os
import warnings
import zlib

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from gahb._files import write_atomic
from gahb.datasets._common import (
    PATH,
    POSITIVE_INT,
    area_resize,
    bunch_or_X_y,
    check_size,
    image_bunch,
    size_constraint,
)
from gahb.datasets._images import BadImage, SkipLog, list_images, read_image, read_images, warn_skipped

__all__ = ["load_image_folder", "load_photo_tiles", "load_idx", "load_fashion_mnist"]

FASHION_MNIST_PATH = "/usr/share/datasets/fashion-mnist"
_CACHE_VERSION = 3


def _cached(cache, key: dict, compute, check):
    """Return ``compute()`` (a dict of arrays), reading/writing ``cache`` (.npz) when the key matches.

    A cache is never trusted blindly: one that cannot be read (truncated, damaged) or whose arrays fail
    ``check`` is rebuilt with a warning; one of other parameters or files is rebuilt silently; a readable
    ``.npz`` that gahb did not write is refused (it may be the user's own data), never overwritten.
    """
    if cache is None:
        return compute()
    cache = os.fspath(cache)
    if not cache.endswith(".npz"):
        raise ValueError(f"cache must be a path ending in .npz; got {cache!r}.")
    if os.path.isdir(cache):
        raise ValueError(f"cache {cache!r} is a folder; pass a file name ending in .npz.")
    key_str = json.dumps({"version": _CACHE_VERSION, **key}, sort_keys=True)
    if os.path.exists(cache):
        stored = _read_cache(cache)
        if stored is not None and stored.get("_key") == key_str:
            out = {k: v for k, v in stored.items() if k != "_key"}
            problem = check(out)
            if problem is None:
                return out
            warnings.warn(f"cache {cache!r} holds inconsistent arrays ({problem}); rebuilding it.", stacklevel=4)
    out = compute()
    _write_cache(cache, key_str, out)
    return out


def _read_cache(cache):
    """The arrays of a cache file (with ``_key``), or None (warned) when it is damaged.

    A readable ``.npz`` or ``.npy`` that gahb did not write raises ``ValueError`` instead: it may be the user's
    own data, so it is neither trusted nor overwritten.
    """
    foreign = None
    try:
        z = np.load(cache, allow_pickle=False)
        if isinstance(z, np.ndarray):
            foreign = "a .npy array"
        else:
            with z:
                stored = {k: z[k] for k in z.files}
            if "_key" not in stored or stored["_key"].shape != () or stored["_key"].dtype.kind != "U":
                foreign = f"a .npz file of {sorted(stored)[:5]} without gahb's key"
            else:
                stored["_key"] = str(stored["_key"][()])
                return stored
    except Exception as exc:  # BadZipFile, EOFError, OSError, zlib.error, ValueError: a damaged file
        warnings.warn(f"cache {cache!r} cannot be read ({type(exc).__name__}: {exc}); rebuilding it.", stacklevel=5)
        return None
    raise ValueError(f"cache {cache!r} is {foreign}, not a cache written by gahb; it is left as it is: pass another "
                     "cache path or delete the file.")


def _write_cache(cache, key_str, out) -> None:
    """Atomic write (temporary file, then rename); a failure leaves no file behind and only warns."""
    try:
        write_atomic(cache, lambda fh: np.savez_compressed(fh, _key=np.array(key_str), **out))
    except OSError as exc:
        warnings.warn(f"could not write the cache {cache!r} ({exc.strerror or exc}); the data are returned "
                      "uncached.", stacklevel=5)


def _check_images_cache(out, extra=()):
    """None when a cached result is consistent (images in [0, 1], one entry per image), else the problem."""
    images = out.get("images")
    if images is None or images.ndim not in (3, 4) or images.dtype != np.float32 or images.shape[0] == 0:
        return "no float32 image stack"
    if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        return "pixel values outside [0, 1]"
    for name in ("skipped", "skip_reasons"):
        if name not in out or out[name].ndim != 1:
            return f"no {name!r} list"
    for name in extra:
        if name not in out or out[name].shape[:1] != images.shape[:1]:
            return f"{name!r} does not have one entry per image"
    return None

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
                  "grayscale": ["boolean"], "cache": PATH + [None], "recursive": ["boolean"], "strict": ["boolean"]},
                 prefer_skip_nested_validation=True)
def load_image_folder(path, image_size=40, crop="celeba", grayscale=True, cache=None, *, recursive=False,
                      strict=False):
    """Load every image of a folder with the CelebA preprocessing of the paper's code (paper §2.2).

    For each file, in sorted name order: convert to RGB (first frame), crop, resize with PIL bicubic on
    uint8 to ``image_size``, divide by 255, and with ``grayscale`` average R, G and B. 16-bit images are
    divided by 65535 instead (resized in float32), floating-point images must lie in [0, 1]: no image is
    clipped at 255 or rescaled by a guess.

    Crop policies: ``"celeba"`` keeps the centred square of side ``round(160 / 178 * min(H, W))``, which
    on CelebA's aligned 178 x 218 faces is exactly the paper's rows 29:-29, columns 9:-9; other sizes
    keep the same fraction of the shorter side. ``"center"`` keeps the largest centred square; ``None``
    keeps the whole image (the resize may then change the aspect ratio).

    Parameters
    ----------
    path : str or path-like
        A folder of image files.
    image_size : int, (int, int) or None, default=40
        Output ``(H, W)`` after the crop; ``None`` keeps the cropped size (all images must then agree).
        CelebA in the paper: 80 (UNet); Topeza's reproduction: 40.
    crop : {"celeba", "center", None}, default="celeba"
        Crop policy (above).
    grayscale : bool, default=True
        Mean of R, G, B (``image_shape`` ``(H, W)``); else ``(3, H, W)``.
    cache : str, path-like or None, default=None
        A ``.npz`` file: read when it matches the parameters and the folder's file names, sizes and
        modification times, otherwise (re)written atomically. A damaged cache (truncated, inconsistent) is
        rebuilt with a warning; a ``.npz`` that gahb did not write is never overwritten (``ValueError``).
    recursive : bool, default=False
        Also read the images of subfolders (names relative to ``path``, sorted). Without it, a folder whose
        images are all in subfolders gives a ``FileNotFoundError`` that names them.
    strict : bool, default=False
        A file that cannot be read (not an image, truncated, over PIL's decompression-bomb limit, a float
        image outside [0, 1]) raises ``ValueError`` naming it. By default it is skipped: one
        :class:`gahb.exceptions.SkippedImageWarning` names every skipped file and why.

    Returns
    -------
    Bunch
        ``data`` (n, n_pixels) float32 in [0, 1], ``images``, ``image_shape``, ``filenames`` (n,),
        ``skipped`` (the names of the files that could not be read). There is no ``return_X_y``: the
        images of a folder have no per-image target.

    See Also
    --------
    remove_near_duplicates : The paper's de-duplication of the loaded faces.
    load_photo_tiles : Small tiles of larger photographs.

    Examples
    --------
    >>> from gahb.datasets import load_image_folder
    >>> faces = load_image_folder("img_align_celeba", image_size=40, cache="celeba40.npz")  # doctest: +SKIP
    """
    names = list_images(path, recursive)
    size = None if image_size is None else check_size(image_size)

    def compute():
        log = SkipLog(strict)
        images, kept = read_images(((name, os.path.join(path, name)) for name in names),
                                   lambda w, h: _crop_box(w, h, crop), size, grayscale, log, n=len(names),
                                   hint="pass image_size to resize every image to one size.")
        if not kept:
            raise ValueError(f"no readable image in {os.fspath(path)!r}: all {len(names)} files failed "
                             f"(first: {names[0]!r}: {log.reasons[0]}).")
        return {"images": images, "filenames": np.array(kept), **_skipped_arrays(log)}

    key = {"loader": "image_folder", "size": size, "crop": crop, "gray": bool(grayscale), "strict": bool(strict),
           "files": _file_key(path, names)}
    res = _cached(cache, key, compute, lambda out: _check_images_cache(out, ("filenames",)))
    warn_skipped(res["skipped"], res["skip_reasons"], len(names))
    return image_bunch(res["images"], filenames=res["filenames"], skipped=res["skipped"])


def _skipped_arrays(log: SkipLog) -> dict:
    return {"skipped": np.array(log.skipped, dtype=str), "skip_reasons": np.array(log.reasons, dtype=str)}


# --------------------------------------------------------------------------- photo tiles


def _photo_gray(filename, downscale):
    """A photo as grayscale in [0, 1], shrunk by ``downscale x downscale`` block means (``BadImage`` if unreadable)."""
    a = read_image(filename, keep_uint8=True)
    h, w = a.shape[0] // downscale, a.shape[1] // downscale
    blocks = a[: h * downscale, : w * downscale].reshape(h, downscale, w, downscale, 3)
    if a.dtype != np.uint8:  # 16-bit or float photos, already scaled to [0, 1]
        return blocks.mean(axis=(1, 3, 4)).astype(np.float32)
    # exact integer block sums are several times faster than float conversion of a 10-megapixel photo
    return blocks.sum(axis=(1, 3, 4), dtype=np.uint32).astype(np.float32) / np.float32(765 * downscale**2)


def _check_tiles_cache(out, n_photos):
    problem = _check_images_cache(out, ("photo_index", "positions"))
    if problem is None and (out["photo_index"].dtype.kind not in "iu" or out["photo_index"].min() < 0
                            or out["photo_index"].max() >= n_photos):
        problem = "photo indices outside the folder's photos"
    return problem


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
                  "cache": PATH + [None], "recursive": ["boolean"], "strict": ["boolean"], "return_X_y": ["boolean"]},
                 prefer_skip_nested_validation=True)
def load_photo_tiles(path, tile_size=8, downscale=4, min_std=0.02, stride=None, cache=None, *, recursive=False,
                     strict=False, return_X_y=False):
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
    recursive, strict : bool, default=False
        Search subfolders too; stop at the first unreadable file instead of skipping it with a
        :class:`gahb.exceptions.SkippedImageWarning`. See :func:`load_image_folder`.
    return_X_y : bool, default=False
        Return ``(data, photo_index)`` instead of the Bunch: each tile labelled by its source photo (a
        group label, e.g. for :class:`sklearn.model_selection.GroupKFold`).

    Returns
    -------
    Bunch
        ``data`` (n, H*W) float32, ``images`` (n, H, W), ``image_shape``, ``photo_index`` (n,) index into
        ``photos``, ``half`` (n,) in {0, 1}, ``positions`` (n, 2) tile top-left (row, col) in the shrunk
        photo, ``photos`` (file names, including photos that gave no tile), ``skipped`` (files that could not
        be read).
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
    names = list_images(path, recursive)
    th, tw = check_size(tile_size, "tile_size")
    ds = int(downscale)
    sh, sw = (th, tw) if stride is None else check_size(stride, "stride")

    def compute():
        tiles, photo, pos, log = [], [], [], SkipLog(strict)
        for p, name in enumerate(names):
            try:
                x = _photo_gray(os.path.join(path, name), ds)
            except BadImage as exc:
                log.add(name, exc)
                continue
            if x.shape[0] < th or x.shape[1] < tw:
                continue
            win = np.lib.stride_tricks.sliding_window_view(x, (th, tw))[::sh, ::sw]
            ok = win.std(axis=(2, 3)) >= min_std
            r, c = np.nonzero(ok)
            tiles.append(win[r, c])
            photo.append(np.full(r.size, p))
            pos.append(np.stack([r * sh, c * sw], axis=1))
        if not tiles or sum(t.shape[0] for t in tiles) == 0:
            if len(log.skipped) == len(names):
                raise ValueError(f"no readable image in {os.fspath(path)!r}: all {len(names)} files failed "
                                 f"(first: {names[0]!r}: {log.reasons[0]}).")
            raise ValueError(f"no tile of {path!r} passed min_std={min_std}; lower min_std or tile_size.")
        return {
            "images": np.concatenate(tiles).astype(np.float32),
            "photo_index": np.concatenate(photo),
            "positions": np.concatenate(pos),
            **_skipped_arrays(log),
        }

    key = {"loader": "photo_tiles", "tile": [th, tw], "downscale": ds, "min_std": float(min_std), "stride": [sh, sw],
           "strict": bool(strict), "files": _file_key(path, names)}
    res = _cached(cache, key, compute, lambda out: _check_tiles_cache(out, len(names)))
    warn_skipped(res["skipped"], res["skip_reasons"], len(names))
    counts = np.bincount(res["photo_index"], minlength=len(names))
    half = _balance_halves(counts)[res["photo_index"]]
    bunch = image_bunch(res["images"], photo_index=res["photo_index"], half=half, positions=res["positions"],
                        photos=np.array(names), skipped=res["skipped"])
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
        size = os.fstat(fh.fileno()).st_size
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
            return _read_idx(fh, path, size, gz)
    except (OSError, EOFError, zlib.error) as exc:  # a truncated or damaged gzip stream
        raise ValueError(f"{path!r} is a damaged or truncated gzip file ({type(exc).__name__}: {exc}).") from None


# deflate cannot compress better than about 1032:1, so a gzip file of n bytes holds less than this many
_GZIP_MAX_RATIO = 1100


def _read_idx(fh, path, size, gz):
    """The array of an open IDX stream, every header field checked against what the file can hold."""
    head = fh.read(4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
        raise ValueError(f"{path!r} is not an IDX file (bad magic number {head.hex() or 'empty'}).")
    ndim = head[3]
    if ndim == 0:
        raise ValueError(f"{path!r}: the IDX header announces 0 dimensions.")
    dims = fh.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(f"{path!r}: the IDX header announces {ndim} dimensions but the file ends after "
                         f"{len(dims) // 4}.")
    shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[head[2]])
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow for huge claimed shapes
    offset = 4 + 4 * ndim
    if not gz and offset + nbytes != size:
        raise ValueError(f"{path!r}: the header announces shape {shape} ({nbytes} data bytes) but the file holds "
                         f"{size - offset}.")
    if gz and nbytes > _GZIP_MAX_RATIO * size:
        raise ValueError(f"{path!r}: the header announces shape {shape} ({nbytes} bytes), more than a {size}-byte "
                         "gzip file can hold.")
    raw = fh.read(nbytes + 1)  # one byte more: trailing data is an error too (and reaching EOF checks the CRC)
    if len(raw) != nbytes:
        raise ValueError(f"{path!r}: the header announces shape {shape} ({nbytes} data bytes) but the file holds "
                         f"{len(raw) if len(raw) <= nbytes else 'more'}.")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


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
    images = [load_idx(f) for f, _ in files]
    labels = [load_idx(f) for _, f in files]
    for (f_img, f_lab), a, b in zip(files, images, labels):
        if a.dtype != np.uint8 or a.ndim != 3 or b.ndim != 1 or len(a) != len(b):
            raise ValueError(f"{f_img!r} and {f_lab!r} are not Fashion-MNIST files: uint8 images (n, H, W) and n "
                             f"labels expected, got {a.dtype} {a.shape} and {b.dtype} {b.shape}.")
    if len({a.shape[1:] for a in images}) > 1:
        raise ValueError(f"the Fashion-MNIST files hold images of different sizes: {[a.shape[1:] for a in images]}.")
    X = np.concatenate(images)
    y = np.concatenate(labels).astype(np.int64)
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
