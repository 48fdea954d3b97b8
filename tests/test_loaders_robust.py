"""Loaders never misread: bit depths, nested folders, bad files skipped (or strict), caches and IDX headers checked."""

import gzip
import struct
import warnings

import numpy as np
import pytest

from gahb.datasets import load_idx, load_image_folder, load_photo_tiles
from gahb.exceptions import SkippedImageWarning

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402


def _ramp(h=24, w=24):
    return (np.add.outer(np.arange(h), np.arange(w)) / (h + w - 2)).astype(np.float64)  # in [0, 1]


# --------------------------------------------------------------------------- bit depths


def test_16bit_png_is_scaled_by_65535_not_clipped(tmp_path):
    ref = _ramp()
    Image.fromarray(np.round(ref * 255).astype(np.uint8)).save(tmp_path / "a8.png")
    Image.fromarray(np.round(ref * 65535).astype(np.uint16)).save(tmp_path / "b16.png")
    assert Image.open(tmp_path / "b16.png").mode.startswith("I")
    b = load_image_folder(tmp_path, image_size=None, crop=None)
    eight, sixteen = b.images
    assert (sixteen == 1.0).mean() < 0.01 and sixteen.mean() < 0.6  # clipped at 255 it would be ~all white
    np.testing.assert_allclose(sixteen, ref, atol=1e-5)  # 16-bit quantization: 0.5 / 65535
    np.testing.assert_allclose(eight, sixteen, atol=0.5 / 255 + 1e-6)
    resized = load_image_folder(tmp_path, image_size=12, crop=None).images  # 16-bit resized in float
    np.testing.assert_allclose(resized[0], resized[1], atol=2 / 255)


def test_float_image_in_unit_range_is_read_and_outside_is_skipped_or_strict(tmp_path):
    ref = _ramp().astype(np.float32)
    Image.fromarray(ref).save(tmp_path / "a.tif")
    Image.fromarray(ref * 1000).save(tmp_path / "b.tif")
    with pytest.warns(SkippedImageWarning, match=r"'b.tif'.*floating-point image with values in \[0, 1000\]"):
        b = load_image_folder(tmp_path, image_size=None, crop=None)
    np.testing.assert_allclose(b.images[0], ref, atol=1e-6)
    assert list(b.filenames) == ["a.tif"] and list(b.skipped) == ["b.tif"]
    with pytest.raises(ValueError, match=r"cannot read 'b.tif'.*strict=True"):
        load_image_folder(tmp_path, image_size=None, crop=None, strict=True)


def test_16bit_photo_tiles_match_the_8bit_ones(tmp_path):
    rng = np.random.default_rng(0)
    ref = rng.random((32, 32))
    for name, arr in (("a8", np.round(ref * 255).astype(np.uint8)), ("b16", np.round(ref * 65535).astype(np.uint16))):
        (tmp_path / name).mkdir()
        Image.fromarray(arr).save(tmp_path / name / "p.png")
    t8 = load_photo_tiles(tmp_path / "a8", tile_size=4, downscale=2, min_std=0.0)
    t16 = load_photo_tiles(tmp_path / "b16", tile_size=4, downscale=2, min_std=0.0)
    np.testing.assert_allclose(t8.data, t16.data, atol=0.5 / 255 + 1e-6)


# --------------------------------------------------------------------------- nested folders


def test_recursive_and_the_message_naming_subfolders(tmp_path):
    for sub in ("b", "a/deep"):
        (tmp_path / sub).mkdir(parents=True)
        Image.fromarray(np.full((8, 8), 100, np.uint8)).save(tmp_path / sub / "x.png")
    with pytest.raises(FileNotFoundError, match=r"subfolders 'a', 'b' hold some: pass recursive=True"):
        load_image_folder(tmp_path, image_size=4)
    b = load_image_folder(tmp_path, image_size=4, recursive=True)
    assert list(b.filenames) == ["a/deep/x.png", "b/x.png"]
    t = load_photo_tiles(tmp_path, tile_size=4, downscale=1, min_std=0.0, recursive=True)
    assert list(t.photos) == ["a/deep/x.png", "b/x.png"] and len(t.data) == 8
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files") as exc:
        load_image_folder(tmp_path / "empty")
    assert "subfolders" not in str(exc.value)


# --------------------------------------------------------------------------- bad files


def _folder_with_bad_files(tmp_path):
    rng = np.random.default_rng(1)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(tmp_path / f"good{k}.png")
    whole = (tmp_path / "good0.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "garbage.jpg").write_bytes(b"not an image at all")
    return tmp_path


def test_unreadable_truncated_files_are_skipped_named_and_counted(tmp_path):
    folder = _folder_with_bad_files(tmp_path)
    with pytest.warns(SkippedImageWarning, match=r"skipped 2 of 5 unreadable image files \('garbage.jpg'.*'truncated.png'"):
        b = load_image_folder(folder, image_size=8)
    assert list(b.filenames) == ["good0.png", "good1.png", "good2.png"]
    assert list(b.skipped) == ["garbage.jpg", "truncated.png"]
    with pytest.warns(SkippedImageWarning):
        t = load_photo_tiles(folder, tile_size=4, downscale=1, min_std=0.0)
    assert list(t.skipped) == ["garbage.jpg", "truncated.png"] and set(np.unique(t.photo_index)) == {1, 2, 3}
    with pytest.raises(ValueError, match=r"cannot read 'garbage.jpg'"):
        load_photo_tiles(folder, tile_size=4, downscale=1, strict=True)


def test_image_over_the_decompression_bomb_limit_is_skipped(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "small.png")
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 40 x 40 is over it, 8 x 8 is not
    with pytest.warns(SkippedImageWarning, match=r"'huge.png': it is larger than PIL's decompression-bomb limit"):
        b = load_image_folder(tmp_path, image_size=4)
    assert list(b.filenames) == ["small.png"]


def test_all_files_unreadable_is_a_clear_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match=r"no readable image.*all 1 files failed.*'a.png'"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            load_image_folder(tmp_path)


# --------------------------------------------------------------------------- caches


def _cached_folder(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for k in range(3):
        Image.fromarray(rng.integers(0, 256, (12, 12), dtype=np.uint8)).save(folder / f"{k}.png")
    return folder, tmp_path / "c.npz"


def test_truncated_cache_is_rebuilt_with_a_warning(tmp_path):
    folder, cache = _cached_folder(tmp_path)
    first = load_image_folder(folder, image_size=6, cache=cache)
    data = cache.read_bytes()
    cache.write_bytes(data[: len(data) // 2])  # what an interrupted copy leaves
    with pytest.warns(UserWarning, match="cannot be read.*rebuilding it"):
        again = load_image_folder(folder, image_size=6, cache=cache)
    np.testing.assert_array_equal(first.data, again.data)
    assert cache.read_bytes() == data or len(cache.read_bytes()) > len(data) // 2  # rewritten whole
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_image_folder(folder, image_size=6, cache=cache)  # and trusted again, silently


def test_inconsistent_cache_is_rebuilt_and_a_foreign_npz_is_never_overwritten(tmp_path):
    folder, cache = _cached_folder(tmp_path)
    first = load_image_folder(folder, image_size=6, cache=cache)
    with np.load(cache) as z:
        parts = {k: z[k] for k in z.files}
    parts["images"] = parts["images"] * 7  # right key, impossible pixel values
    np.savez(cache, **parts)
    with pytest.warns(UserWarning, match=r"inconsistent arrays \(pixel values outside \[0, 1\]\); rebuilding"):
        again = load_image_folder(folder, image_size=6, cache=cache)
    np.testing.assert_array_equal(first.data, again.data)
    mine = tmp_path / "mine.npz"
    np.savez(mine, weights=np.arange(3))
    before = mine.read_bytes()
    with pytest.raises(ValueError, match="not a cache written by gahb; it is left as it is"):
        load_image_folder(folder, image_size=6, cache=mine)
    assert mine.read_bytes() == before


def test_cache_that_cannot_be_written_only_warns(tmp_path):
    folder, _ = _cached_folder(tmp_path)
    with pytest.warns(UserWarning, match="could not write the cache"):
        b = load_image_folder(folder, image_size=6, cache=tmp_path / "no-such-dir" / "c.npz")
    assert b.data.shape == (3, 36)
    assert not list(tmp_path.glob("**/*.tmp"))


# --------------------------------------------------------------------------- IDX headers


def _idx_bytes(arr):
    arr = np.asarray(arr, dtype=np.uint8)
    return bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape) + arr.tobytes()


@pytest.mark.parametrize("payload, match", [
    (b"", "bad magic number empty"),
    (b"\x00\x00\x08", "bad magic number"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "announces 3 dimensions but the file ends after 1"),
    (b"\x00\x00\x08\x02" + b"\xff\xff\xff\xff" * 2 + b"ab", r"\(18446744065119617025 data bytes\) but the file holds 2"),
    (_idx_bytes(np.zeros((2, 3))) + b"x", "but the file holds 7"),
    (_idx_bytes(np.zeros((2, 3)))[:-1], "but the file holds 5"),
])
def test_idx_header_is_checked_against_the_file(tmp_path, payload, match):
    f = tmp_path / "x.idx"
    f.write_bytes(payload)
    with pytest.raises(ValueError, match=match):
        load_idx(f)


def test_gzip_idx_truncated_or_claiming_too_much(tmp_path):
    raw = _idx_bytes(np.arange(4000).reshape(40, 100) % 251)
    f = tmp_path / "x.gz"
    f.write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(load_idx(f), np.arange(4000).reshape(40, 100) % 251)
    whole = f.read_bytes()
    f.write_bytes(whole[:-12])
    with pytest.raises(ValueError, match="damaged or truncated gzip|file holds"):
        load_idx(f)
    f.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + struct.pack(">III", 60000, 2000, 2000)))
    with pytest.raises(ValueError, match=r"more than a \d+-byte gzip file can hold"):
        load_idx(f)


def test_fashion_mnist_with_wrong_dtype_is_refused(tmp_path):
    from gahb.datasets import load_fashion_mnist

    for prefix in ("train", "t10k"):
        arr = np.zeros((2, 28, 28), np.float32)
        head = bytes([0, 0, 0x0D, 3]) + struct.pack(">III", 2, 28, 28)
        (tmp_path / f"{prefix}-images-idx3-ubyte").write_bytes(head + arr.astype(">f4").tobytes())
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(2)))
    before = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    with pytest.raises(ValueError, match="uint8 images"):
        load_fashion_mnist(tmp_path)
    assert (tmp_path / "train-images-idx3-ubyte").read_bytes() == before  # the user's file is left as it was
