"""The data options shared by the commands (``--dataset``, ``--data-path``, ``--image-size``, ``--dedup``)."""

from __future__ import annotations

import os

import numpy as np

from gahb.cli._common import UsageError, check_arguments, usage_errors

DATASETS = ("dead-leaves", "c-alpha", "disks", "photo-tiles", "fashion-mnist", "celeba")
FASHION_MNIST_PATH = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist package
_NEEDS_PATH = ("photo-tiles", "celeba")


def add_data_arguments(parser, *, dataset: str = "dead-leaves") -> None:
    """Options that choose the images."""
    parser.add_argument("--dataset", choices=DATASETS, default=dataset,
                        help="image source: dead-leaves, c-alpha and disks are synthetic (no files needed)")
    parser.add_argument("--data-path", default=None, metavar="PATH",
                        help=f"folder or file for photo-tiles / celeba (required) and fashion-mnist "
                             f"(default {FASHION_MNIST_PATH})")
    parser.add_argument("--recursive", action="store_true",
                        help="photo-tiles / celeba: also read the images in subfolders of --data-path")
    parser.add_argument("--dedup", type=float, default=None, metavar="THRESHOLD",
                        help="drop near-duplicates above this mean-removed cosine before splitting (off when not given)")


def _source(name):
    """The dataset function of ``--dataset`` and the name of its size argument."""
    from gahb import datasets

    return {"dead-leaves": (datasets.make_dead_leaves, "image_size"), "c-alpha": (datasets.make_c_alpha, "image_size"),
            "disks": (datasets.make_disks, "image_size"), "photo-tiles": (datasets.load_photo_tiles, "tile_size"),
            "fashion-mnist": (datasets.load_fashion_mnist, "image_size"),
            "celeba": (datasets.load_image_folder, "image_size")}[name]


def check_data_source(args) -> None:
    """:class:`UsageError` when the chosen data cannot be read, before any work.

    Checks that the files are there (the image folder lists images, the four Fashion-MNIST files exist)
    and that ``--image-size`` passes the dataset function's own constraints; reading the images is work
    and happens later (:func:`load_pool`).
    """
    from gahb.datasets._images import list_images
    from gahb.datasets._loaders import _find_idx

    path = args.data_path
    if args.dataset in _NEEDS_PATH and not path:
        raise UsageError(f"--dataset {args.dataset} needs --data-path (a folder of images).")
    if args.dataset == "fashion-mnist":
        path = path or FASHION_MNIST_PATH
    if path is not None and not os.path.exists(path):
        hint = " (apt-get install dataset-fashion-mnist)" if path == FASHION_MNIST_PATH else ""
        raise UsageError(f"--data-path {path} does not exist{hint}.")
    if args.dedup is not None and not 0 < args.dedup <= 1:
        raise UsageError(f"--dedup must lie in (0, 1]; got {args.dedup}.")
    try:
        if args.dataset in _NEEDS_PATH:
            list_images(path, recursive=getattr(args, "recursive", False), subfolder_hint="pass --recursive")
        elif args.dataset == "fashion-mnist":
            if not os.path.isdir(path):
                raise FileNotFoundError(f"{path!r} is not a folder")
            for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                         "t10k-labels-idx1-ubyte"):
                _find_idx(path, stem)
    except FileNotFoundError as exc:
        raise UsageError(f"--data-path {path}: {str(exc).rstrip('.')}.") from None
    func, size_name = _source(args.dataset)
    check_arguments(func, {size_name: "--image-size"}, **{size_name: args.image_size})


def load_pool(args, n_images: int, *, n_B: int | None = None):
    """The images chosen by the data options: ``(X, X_B or None, image_shape, description)``.

    With ``n_B`` and photo tiles, ``X_B`` holds ``n_B`` tiles of one half of the photos and ``X`` at most
    ``n_images - n_B`` of the other half, so two models never see the same photograph. Otherwise ``X`` is a
    fixed random subset of at most ``n_images`` images.
    """
    from gahb import datasets

    name, size, seed, path = args.dataset, args.image_size, args.seed, args.data_path
    recursive = getattr(args, "recursive", False)
    X_B = None
    if name == "dead-leaves":
        b = datasets.make_dead_leaves(n_images, image_size=size, random_state=seed)
        desc = f"synthetic dead leaves (3-8 occluding ellipses), {size}x{size}, generated with seed {seed}"
    elif name == "c-alpha":
        b = datasets.make_c_alpha(n_images, image_size=size, random_state=seed)
        desc = f"synthetic C^alpha images (alpha 2), {size}x{size}"
    elif name == "disks":
        b = datasets.make_disks(n_images, image_size=size, random_state=seed)
        desc = f"synthetic disks, {size}x{size}"
    elif name == "photo-tiles":
        with usage_errors({"tile_size": "--image-size"}):  # e.g. no tile of this size passes min_std
            b = datasets.load_photo_tiles(path, tile_size=size, recursive=recursive)
        desc = f"photo tiles {size}x{size} from {path} (photos shrunk 4x)"
    elif name == "fashion-mnist":
        crop = 24 if size <= 24 else None
        b = datasets.load_fashion_mnist(path or FASHION_MNIST_PATH, kind="all", crop=crop, image_size=size)
        desc = f"Fashion-MNIST (train + test, 70,000 images), centre crop {crop}, area-resized to {size}x{size}"
    else:
        with usage_errors({"image_size": "--image-size"}):  # e.g. no readable image in the folder
            b = datasets.load_image_folder(path, image_size=size, recursive=recursive)
        desc = f"image folder {path} (CelebA crop) at {size}x{size}"
    X = np.asarray(b.data, dtype=np.float32)
    shape = tuple(b.image_shape)
    half = np.asarray(b.half) if name == "photo-tiles" else None
    if args.dedup:
        keep, _ = datasets.remove_near_duplicates(X, shape, threshold=args.dedup)
        desc += f"; near-duplicates (|corr| > {args.dedup}) removed: {X.shape[0]} -> {keep.size}"
        X = X[keep]
        half = None if half is None else half[keep]
    rng = np.random.default_rng(seed)
    if half is not None and n_B is not None:
        desc += "; models A and B draw from disjoint sets of photos"
        X, X_B = X[half == 0], X[half == 1]
        X = X[rng.permutation(X.shape[0])[: n_images - n_B]]
        X_B = X_B[rng.permutation(X_B.shape[0])[:n_B]]
    elif X.shape[0] > n_images:  # a fixed random subset, so a run only touches what it needs
        X = X[rng.permutation(X.shape[0])[:n_images]]
    return X, X_B, shape, desc
