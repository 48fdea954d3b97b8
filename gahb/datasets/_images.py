"""Reading image files without misreading them: listing (optionally recursive), bit depth, bad files.

Every folder loader goes through here, so they all list files in the same sorted order, scale 16-bit
and float images by their real range (never clip them at 255), and treat a file PIL cannot decode, a
truncated file or one over PIL's decompression-bomb limit the same way: skipped with one
:class:`gahb.exceptions.SkippedImageWarning` that names it (and counts the skipped files), or a
``ValueError`` naming it when the caller asked for ``strict`` loading.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from gahb.exceptions import SkippedImageWarning

__all__ = ["IMAGE_EXTENSIONS", "list_images", "read_image", "BadImage", "SkipLog"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm")
_HIGH_DEPTH = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def list_images(path, recursive: bool = False, subfolder_hint: str = "pass recursive=True to search them") -> list[str]:
    """Image file names under ``path`` (relative, ``/``-separated, sorted), or ``FileNotFoundError``.

    Without ``recursive`` only the folder itself is searched; when it holds no image but some of its
    subfolders do, the message names them and gives ``subfolder_hint`` (a command says it in its own options).
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"image folder not found: {path!r}.")
    if recursive:
        names = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            rel = os.path.relpath(root, path)
            names += [f if rel == "." else f"{rel}/{f}".replace(os.sep, "/") for f in files if _is_image(f)]
        names.sort()
    else:
        names = sorted(f for f in os.listdir(path) if _is_image(f) and os.path.isfile(os.path.join(path, f)))
    if names:
        return names
    hint = ""
    if not recursive:
        subs = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))
                      and any(_is_image(f) for _, _, fs in os.walk(os.path.join(path, d)) for f in fs))
        if subs:
            shown = ", ".join(repr(s) for s in subs[:5]) + (f" and {len(subs) - 5} more" if len(subs) > 5 else "")
            hint = f"; its subfolders {shown} hold some: {subfolder_hint}"
    raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {path!r}{hint}.")


class BadImage(Exception):
    """A file that could not be read as an image (the reason is the message)."""


def _scale(a: np.ndarray, mode: str) -> float:
    """The full-scale value of a high-bit-depth image: 65535 for 16-bit data, 1 for floats in [0, 1]."""
    if not np.isfinite(a).all():
        raise BadImage("it holds NaN or infinite pixel values")
    lo, hi = float(a.min()), float(a.max())
    if mode.startswith("I;16"):
        return 65535.0
    if mode == "I" and lo >= 0 and hi <= 65535:  # 16-bit data that PIL keeps as 32-bit integers
        return 65535.0
    if mode == "F" and lo >= 0 and hi <= 1:
        return 1.0
    kind = "32-bit integer" if mode == "I" else "floating-point"
    raise BadImage(f"it is a {kind} image with values in [{lo:g}, {hi:g}]; gahb reads 8- and 16-bit images and "
                   "floating-point images in [0, 1], and does not guess another range")


def read_image(filename, box_of=None, size=None, *, keep_uint8: bool = False):
    """An image file (a path or a file object) as float64 ``(H, W, 3)`` in [0, 1] (8-bit, 16-bit and float
    images alike), or ``BadImage``.

    ``box_of(width, height)`` gives the crop box; ``size`` ``(H, W)`` resizes with PIL's bicubic filter,
    on uint8 for 8-bit images (the paper's pipeline, unchanged) and on float32 for deeper ones.
    ``keep_uint8`` returns an 8-bit image as its uint8 array (0-255) instead.
    """
    from PIL import Image

    bicubic = getattr(Image, "Resampling", Image).BICUBIC
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(filename) as im:
                im.seek(0)
                im.load()
                if im.mode in _HIGH_DEPTH:
                    a = np.asarray(im, dtype=np.float64)
                    im = Image.fromarray((a / _scale(a, im.mode)).astype(np.float32), mode="F")
                    depth = "float"
                else:
                    im = im.convert("RGB")
                    depth = "8-bit"
    except BadImage:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise BadImage(f"it is larger than PIL's decompression-bomb limit ({exc})") from None
    except Exception as exc:  # PIL's decoders raise OSError, SyntaxError, ValueError, struct.error, ...
        raise BadImage(f"it cannot be decoded ({type(exc).__name__}: {exc})") from None
    # the image is decoded: what fails from here on is the caller's request (a crop too large), not the file
    if box_of is not None:
        im = im.crop(box_of(im.width, im.height))
    if size is not None and (im.height, im.width) != tuple(size):
        im = im.resize((size[1], size[0]), bicubic)
    if depth == "8-bit":
        return np.asarray(im) if keep_uint8 else np.asarray(im, dtype=np.float64) / 255.0
    return np.repeat(np.asarray(im, dtype=np.float64)[..., None], 3, axis=2)


class SkipLog:
    """Collects the files a loader skipped and reports them: one warning naming each, or ``ValueError`` (strict)."""

    def __init__(self, strict: bool):
        self.strict = strict
        self.skipped: list[str] = []
        self.reasons: list[str] = []

    def add(self, name: str, reason) -> None:
        if self.strict:
            raise ValueError(f"cannot read {name!r}: {reason} (strict=True; pass strict=False to skip such files "
                             "with a warning).")
        self.skipped.append(name)
        self.reasons.append(str(reason))


def read_images(records, box_of, size, grayscale: bool, log: SkipLog, n=None, hint: str = ""):
    """Read ``(key, file or bytes)`` records into one float32 array in [0, 1] and the keys kept, in order.

    Unreadable records go to ``log``; every image must come out with one shape (``hint`` says how). With ``n``
    (an upper bound on the count) one buffer is filled in place: no second copy when stacking a large folder.
    """
    out, chunks, keys = None, [], []
    for key, source in records:
        try:
            x = read_image(io.BytesIO(source) if isinstance(source, bytes) else source, box_of, size)
        except BadImage as exc:
            log.add(key, exc)
            continue
        x = x.mean(axis=2) if grayscale else x.transpose(2, 0, 1)
        first = out.shape[1:] if out is not None else (chunks[0].shape if chunks else x.shape)
        if x.shape != first:
            raise ValueError(f"{key!r} gives a {x.shape} image but earlier ones gave {first}; {hint}")
        x = np.clip(x, 0.0, 1.0)  # bicubic resizing overshoots a little
        if n is None:
            chunks.append(x.astype(np.float32))
        else:
            if out is None:
                out = np.empty((n,) + x.shape, dtype=np.float32)
            out[len(keys)] = x
        keys.append(key)
    images = out[: len(keys)] if out is not None else (np.stack(chunks) if chunks else None)
    return images, keys



def warn_skipped(skipped, reasons, n_files: int, stacklevel: int = 4) -> None:
    """One :class:`SkippedImageWarning` naming every skipped file with its reason (nothing when none was).

    The default ``stacklevel`` points at the caller of a public loader (through ``validate_params``'s wrapper).
    """
    if not len(skipped):
        return
    listed = "; ".join(f"{str(n)!r}: {r}" for n, r in list(zip(skipped, reasons))[:10])
    more = f"; and {len(skipped) - 10} more" if len(skipped) > 10 else ""
    warnings.warn(f"skipped {len(skipped)} of {n_files} unreadable image files ({listed}{more}). "
                  "Their names are in the result's 'skipped'; pass strict=True to stop at the first one instead.",
                  SkippedImageWarning, stacklevel=stacklevel)
