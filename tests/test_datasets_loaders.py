"""Offline loaders: CelebA-style folders, photo tiles, IDX / Fashion-MNIST, .npz caching."""

import gzip
import os
import struct
import warnings

import numpy as np
import pytest

from gahb.datasets import load_fashion_mnist, load_idx, load_image_folder, load_photo_tiles

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"
BACKGROUNDS = "/usr/share/backgrounds"


def _save(path, arr, **kw):
    Image.fromarray(np.asarray(arr, dtype=np.uint8)).save(path, **kw)


# --------------------------------------------------------------------------- image folders


def test_celeba_crop_is_rows_29_and_columns_9(tmp_path):
    rng = np.random.default_rng(0)
    src = rng.integers(0, 256, size=(2, 218, 178, 3), dtype=np.uint8)
    for k, s in enumerate(src):
        _save(tmp_path / f"{k:06d}.png", s)
    b = load_image_folder(tmp_path, image_size=160, crop="celeba")
    expect = src[:, 29:189, 9:169].astype(np.float64).mean(axis=3) / 255.0
    np.testing.assert_allclose(b.images, expect, rtol=0, atol=1e-7)
    assert b.image_shape == (160, 160) and b.data.dtype == np.float32
    assert list(b.filenames) == ["000000.png", "000001.png"]


def test_celeba_pipeline_exact_values_after_bicubic(tmp_path):
    img = np.zeros((218, 178, 3), dtype=np.uint8)
    img[..., 0] = 255  # red outside the crop must not leak in
    img[29:189, 9:169] = (30, 60, 90)
    _save(tmp_path / "a.png", img)
    b = load_image_folder(tmp_path, image_size=40)
    assert b.images.shape == (1, 40, 40)
    np.testing.assert_allclose(b.images, 60.0 / 255.0, rtol=0, atol=1e-7)
    rgb = load_image_folder(tmp_path, image_size=(20, 30), grayscale=False)
    assert rgb.images.shape == (1, 3, 20, 30) and rgb.image_shape == (3, 20, 30)
    np.testing.assert_allclose(rgb.images[0, :, 5, 5], np.array([30, 60, 90]) / 255.0, atol=1e-7)


def test_folder_jpegs_sorted_and_close_to_png(tmp_path):
    yy, xx = np.mgrid[:218, :178]
    names = ["c.jpg", "a.jpg", "b.JPEG"]
    srcs = {}
    for k, name in enumerate(names):
        smooth = np.stack([(yy + 10 * k) % 256, xx, (yy + xx) // 2], axis=2)
        srcs[name] = smooth
        _save(tmp_path / name, smooth, quality=95)
    (tmp_path / "notes.txt").write_text("not an image")
    b = load_image_folder(tmp_path, image_size=20)
    assert list(b.filenames) == ["a.jpg", "b.JPEG", "c.jpg"]
    for name, img in zip(b.filenames, b.images):
        ref_dir = tmp_path / "ref"
        ref_dir.mkdir(exist_ok=True)
        _save(ref_dir / "x.png", srcs[name])
        ref = load_image_folder(ref_dir, image_size=20).images[0]
        assert np.abs(img - ref).max() < 0.03  # JPEG loss only


def test_crop_policies_for_other_sizes(tmp_path):
    rng = np.random.default_rng(1)
    src = rng.integers(0, 256, size=(100, 100, 3), dtype=np.uint8)
    _save(tmp_path / "sq.png", src)
    b = load_image_folder(tmp_path, image_size=90, crop="celeba")  # round(100 * 160 / 178) = 90
    np.testing.assert_allclose(b.images[0], src[5:95, 5:95].mean(axis=2) / 255.0, atol=1e-7)
    wide = tmp_path / "wide"
    wide.mkdir()
    src2 = rng.integers(0, 256, size=(80, 120, 3), dtype=np.uint8)
    _save(wide / "w.png", src2)
    c = load_image_folder(wide, image_size=None, crop="center")
    np.testing.assert_allclose(c.images[0], src2[:, 20:100].mean(axis=2) / 255.0, atol=1e-7)
    full = load_image_folder(wide, image_size=None, crop=None)
    assert full.image_shape == (80, 120)


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no image files"):
        load_image_folder(tmp_path)
    _save(tmp_path / "a.png", np.zeros((10, 10, 3)))
    _save(tmp_path / "b.png", np.zeros((12, 10, 3)))
    with pytest.raises(ValueError, match="crop"):
        load_image_folder(tmp_path, crop="middle")
    with pytest.raises(ValueError, match="image_size"):
        load_image_folder(tmp_path, image_size=None, crop=None)
    with pytest.raises(ValueError, match=".npz"):
        load_image_folder(tmp_path, image_size=4, cache=tmp_path / "c.pkl")


def test_cache_is_read_once_and_keyed(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for k in range(3):
        _save(folder / f"{k}.png", rng.integers(0, 256, size=(30, 30, 3)))
    cache = tmp_path / "c.npz"
    first = load_image_folder(folder, image_size=10, cache=cache)
    assert cache.exists()
    # same name, size and modification time, unreadable content: a cache hit never opens the file
    st = os.stat(folder / "1.png")
    (folder / "1.png").write_bytes(b"\0" * st.st_size)
    os.utime(folder / "1.png", ns=(st.st_atime_ns, st.st_mtime_ns))
    again = load_image_folder(folder, image_size=10, cache=cache)
    np.testing.assert_array_equal(first.data, again.data)
    np.testing.assert_array_equal(first.filenames, again.filenames)
    # other parameters miss the cache and read the folder again (skipping the broken file)
    with pytest.warns(UserWarning, match="unreadable"):
        other = load_image_folder(folder, image_size=8, cache=cache)
    assert other.data.shape == (2, 64) and list(other.filenames) == ["0.png", "2.png"]


# --------------------------------------------------------------------------- photo tiles


def _write_photos(folder, rng):
    folder.mkdir()
    photos = {}
    for k, (h, w) in enumerate([(40, 48), (36, 36), (44, 40), (32, 56)]):
        photos[f"p{k}.png"] = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    photos["p4_flat.png"] = np.full((40, 40, 3), 128, dtype=np.uint8)
    for name, arr in photos.items():
        _save(folder / name, arr)
    return photos


def test_photo_tiles_values_and_disjoint_halves(tmp_path):
    photos = _write_photos(tmp_path / "ph", np.random.default_rng(3))
    b = load_photo_tiles(tmp_path / "ph", tile_size=4, downscale=2, min_std=0.02)
    assert list(b.photos) == sorted(photos)
    assert b.image_shape == (4, 4) and b.data.shape[1] == 16
    assert b.data.std(axis=1).min() >= 0.02 - 1e-6
    flat = list(b.photos).index("p4_flat.png")
    assert not np.any(b.photo_index == flat)
    in_a, in_b = set(b.photo_index[b.half == 0]), set(b.photo_index[b.half == 1])
    assert in_a and in_b and not (in_a & in_b)
    counts = np.bincount(b.half)
    assert abs(counts[0] - counts[1]) <= np.bincount(b.photo_index).max()
    for t in range(0, len(b.data), 37):
        arr = photos[b.photos[b.photo_index[t]]].astype(np.float64).mean(axis=2) / 255.0
        h, w = arr.shape[0] // 2, arr.shape[1] // 2
        small = arr[: 2 * h, : 2 * w].reshape(h, 2, w, 2).mean(axis=(1, 3))
        r, c = b.positions[t]
        np.testing.assert_allclose(b.images[t], small[r : r + 4, c : c + 4], atol=1e-6)


def test_photo_tiles_stride_and_cache(tmp_path):
    _write_photos(tmp_path / "ph", np.random.default_rng(4))
    dense = load_photo_tiles(tmp_path / "ph", tile_size=4, downscale=1, stride=2, min_std=0.0)
    sparse = load_photo_tiles(tmp_path / "ph", tile_size=4, downscale=1, min_std=0.0)
    assert len(dense.data) > 3 * len(sparse.data)
    assert np.all(sparse.positions % 4 == 0) and np.any(dense.positions % 4 == 2)
    cache = tmp_path / "tiles.npz"
    a = load_photo_tiles(tmp_path / "ph", tile_size=4, downscale=2, cache=cache)
    b = load_photo_tiles(tmp_path / "ph", tile_size=4, downscale=2, cache=cache)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.half, b.half)
    X, groups = load_photo_tiles(tmp_path / "ph", tile_size=4, downscale=2, cache=cache, return_X_y=True)
    np.testing.assert_array_equal(X, a.data)
    np.testing.assert_array_equal(groups, a.photo_index)
    with pytest.raises(ValueError, match="min_std"):
        load_photo_tiles(tmp_path / "ph", tile_size=4, min_std=10.0)


def test_photo_tiles_on_scikit_image_bundled_images():
    skdata = pytest.importorskip("skimage.data")
    folder = os.path.dirname(skdata.__file__)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # one bundled TIFF is unreadable by PIL and skipped
        b = load_photo_tiles(folder, tile_size=8, downscale=4, min_std=0.05)
    assert len(b.data) > 1000 and b.data.min() >= 0 and b.data.max() <= 1
    assert not set(b.photo_index[b.half == 0]) & set(b.photo_index[b.half == 1])


@pytest.mark.skipif(not os.path.isdir(BACKGROUNDS), reason=f"{BACKGROUNDS} absent (apt-get install lomiri-wallpapers-16.04)")
def test_photo_tiles_real_wallpapers():
    b = load_photo_tiles(BACKGROUNDS, tile_size=8, downscale=4, min_std=0.02)
    n_photos = len(b.photos)
    assert n_photos >= 2 and len(b.data) > 1000
    assert not set(b.photo_index[b.half == 0]) & set(b.photo_index[b.half == 1])
    counts = np.bincount(b.half)
    assert min(counts) > 0.3 * len(b.data)


# --------------------------------------------------------------------------- IDX / Fashion-MNIST

_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
          np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


def _write_idx(path, arr, compress):
    arr = np.asarray(arr)
    head = bytes([0, 0, _CODES[arr.dtype], arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    payload = head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    with (gzip.open(path, "wb") if compress else open(path, "wb")) as fh:
        fh.write(payload)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, dtype, compress):
    rng = np.random.default_rng(5)
    arr = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    f = tmp_path / "x.idx"  # no .gz suffix even when compressed: detection reads the bytes
    _write_idx(f, arr, compress)
    out = load_idx(f)
    assert out.dtype == arr.dtype and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)
    _write_idx(f, arr[0, 0], compress)
    np.testing.assert_array_equal(load_idx(f), arr[0, 0])


def test_idx_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "none")
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="not an IDX"):
        load_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    with pytest.raises(ValueError, match="header"):
        load_idx(tmp_path / "short")


def _fake_fashion(folder, rng):
    folder.mkdir()
    parts = {}
    for prefix, n in (("train", 5), ("t10k", 3)):
        X = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, size=n, dtype=np.uint8)
        _write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", X, True)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", y, False)
        parts[prefix] = (X, y)
    return parts


def test_fashion_mnist_from_any_folder(tmp_path):
    parts = _fake_fashion(tmp_path / "fm", np.random.default_rng(6))
    b = load_fashion_mnist(tmp_path / "fm", kind="all", crop=24, image_size=12)
    X = np.concatenate([parts["train"][0], parts["t10k"][0]]).astype(np.float64) / 255.0
    expect = X[:, 2:26, 2:26].reshape(8, 12, 2, 12, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(b.images, expect, atol=1e-6)
    np.testing.assert_array_equal(b.target, np.concatenate([parts["train"][1], parts["t10k"][1]]))
    t = load_fashion_mnist(tmp_path / "fm", kind="test")
    assert t.data.shape == (3, 784) and t.image_shape == (28, 28)
    np.testing.assert_allclose(t.data, parts["t10k"][0].reshape(3, -1) / 255.0, atol=1e-7)
    X_t, y_t = load_fashion_mnist(tmp_path / "fm", kind="test", return_X_y=True)
    np.testing.assert_array_equal(X_t, t.data)
    np.testing.assert_array_equal(y_t, parts["t10k"][1])
    odd = load_fashion_mnist(tmp_path / "fm", kind="train", image_size=10)  # area resampling, 28 -> 10
    assert odd.data.shape == (5, 100)
    np.testing.assert_allclose(odd.images.mean(axis=(1, 2)), parts["train"][0].mean(axis=(1, 2)) / 255.0, atol=1e-5)


def test_fashion_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path / "nowhere")
    _fake_fashion(tmp_path / "fm", np.random.default_rng(7))
    os.remove(tmp_path / "fm" / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match="t10k-labels"):
        load_fashion_mnist(tmp_path / "fm", kind="test")
    with pytest.raises(ValueError, match="kind"):
        load_fashion_mnist(tmp_path / "fm", kind="val")
    with pytest.raises(ValueError, match="crop"):
        load_fashion_mnist(tmp_path / "fm", crop=30)


@pytest.mark.skipif(
    not os.path.isfile(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")),
    reason=f"Fashion-MNIST absent from {FASHION} (apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist_real_files():
    b = load_fashion_mnist(FASHION, kind="test")
    assert b.data.shape == (10000, 784) and b.data.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(b.target), np.full(10, 1000))
    assert b.data.min() == 0.0 and b.data.max() == 1.0
    small = load_fashion_mnist(FASHION, kind="test", crop=24, image_size=12)
    assert small.data.shape == (10000, 144)


def test_photo_tiles_default_stride_follows_non_square_tiles(tmp_path):
    from PIL import Image

    img = (np.arange(12 * 24).reshape(12, 24) % 251).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(img[::-1]).save(tmp_path / "b.png")
    t = load_photo_tiles(tmp_path, tile_size=(2, 6), downscale=1, min_std=0.0)
    cols = np.unique(t.positions[:, 1])
    rows = np.unique(t.positions[:, 0])
    np.testing.assert_array_equal(cols, [0, 6, 12, 18])  # tiles 6 wide, every 6 columns: no overlap
    np.testing.assert_array_equal(rows, np.arange(0, 12, 2))


def test_cache_notices_a_rewritten_file_of_the_same_size(tmp_path):
    import os

    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(folder / "a.bmp")
    cache = str(tmp_path / "c.npz")
    first = load_photo_tiles(folder, tile_size=4, downscale=1, min_std=0.0, cache=cache)
    Image.fromarray(np.full((16, 16), 255, np.uint8)).save(folder / "a.bmp")
    st = os.stat(folder / "a.bmp")
    os.utime(folder / "a.bmp", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    second = load_photo_tiles(folder, tile_size=4, downscale=1, min_std=0.0, cache=cache)
    assert first.data.max() == 0.0 and second.data.min() == 1.0
