"""load_lsun: top-left square crop, bicubic resize, grayscale; LMDB databases and exported image trees."""

import os

import numpy as np
import pytest

from gahb.datasets import load_lsun

Image = pytest.importorskip("PIL.Image")


def _photo(h, w, seed):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _expected(rgb, side, size):
    im = Image.fromarray(rgb[:side, :side])
    if size is not None:
        im = im.resize((size, size), getattr(Image, "Resampling", Image).BICUBIC)
    return np.asarray(im, dtype=np.float64).mean(axis=2) / 255.0


def test_exported_tree_crop_is_exactly_the_top_left_square(tmp_path):
    # an LSUN-export-like tree: nested folders, landscape and portrait images (png: lossless, so exact)
    rgbs = {"a/0/x.png": _photo(24, 40, 0), "a/1/y.png": _photo(40, 24, 1), "b/z.png": _photo(24, 24, 2)}
    for rel, rgb in rgbs.items():
        os.makedirs(tmp_path / os.path.dirname(rel), exist_ok=True)
        Image.fromarray(rgb).save(tmp_path / rel)
    full = load_lsun(tmp_path, image_size=None)
    assert full.names.tolist() == sorted(rgbs)
    for i, rel in enumerate(full.names):
        np.testing.assert_allclose(full.images[i], _expected(rgbs[rel], 24, None), atol=1e-6)
    small = load_lsun(tmp_path, image_size=8, n_samples=2)
    assert small.data.shape == (2, 64)
    for i, rel in enumerate(small.names):
        np.testing.assert_allclose(small.images[i], _expected(rgbs[rel], 24, 8), atol=1e-6)
    colour = load_lsun(tmp_path, image_size=8, grayscale=False)
    assert colour.image_shape == (3, 8, 8)


def test_lmdb_database(tmp_path):
    lmdb = pytest.importorskip("lmdb")
    rgbs = [_photo(20, 30, s) for s in range(3)]
    env = lmdb.open(str(tmp_path), map_size=2**24)
    with env.begin(write=True) as txn:
        for k, rgb in enumerate(rgbs):
            buf = __import__("io").BytesIO()
            Image.fromarray(rgb).save(buf, format="PNG")
            txn.put(f"key{k:03d}".encode(), buf.getvalue())
    env.close()
    res = load_lsun(tmp_path, image_size=10, crop_size=16)
    assert res.names.tolist() == ["key000", "key001", "key002"]
    for i in range(3):
        np.testing.assert_allclose(res.images[i], _expected(rgbs[i], 16, 10), atol=1e-6)


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_lsun(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no data.mdb"):
        load_lsun(tmp_path)
    Image.fromarray(_photo(10, 12, 0)).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match="crop_size"):
        load_lsun(tmp_path, crop_size=11)
    with pytest.raises(ValueError, match="n_samples"):
        load_lsun(tmp_path, n_samples=0)
