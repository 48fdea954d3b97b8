"""Corrupt files never escape the documented exception: model files, checkpoints, IDX files, caches, sweep fits.

Each small valid file is truncated at every offset and fed random bytes and random byte flips (Hypothesis).
A model file or an IDX file either loads or raises ``ValueError``; a cache is rebuilt (with a warning) and
the loader returns exactly the folder's images, or, when the damage leaves a readable ``.npz`` without
gahb's key, the loader refuses it with ``ValueError`` and leaves it alone. A damaged fit file of a resumable
sweep is trained again (the same numbers), or refused with ``ValueError`` when it reads as another's. The default run keeps the budget
small (about a second per file); ``-m slow`` runs the long version.
"""

import gzip
import os
import struct
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gahb import DiffusionDenoiser
from gahb.datasets import load_idx, load_image_folder

PIL = pytest.importorskip("PIL")
from PIL import Image  # noqa: E402

QUICK = settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
LONG = settings(max_examples=1500, suppress_health_check=[HealthCheck.function_scoped_fixture])
FILE_BYTES = st.binary(min_size=0, max_size=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    X = np.random.default_rng(0).random((6, 16))
    model = tmp / "model.safetensors"
    den = DiffusionDenoiser(width=2, n_blocks=1, max_iter=1, batch_size=2, image_shape=(4, 4), random_state=0,
                            device="cpu", checkpoint_dir=tmp / "ckpt").fit(X)
    den.save(model)
    checkpoint = next((tmp / "ckpt").glob("checkpoint-*.safetensors")).read_bytes()
    idx_raw = bytes([0, 0, 0x08, 2]) + struct.pack(">II", 3, 5) + bytes(range(15))
    folder = tmp / "imgs"
    folder.mkdir()
    for k in range(2):
        Image.fromarray((X[k].reshape(4, 4) * 255).astype(np.uint8)).save(folder / f"{k}.png")
    cache = tmp / "cache.npz"
    expected = load_image_folder(folder, image_size=None, crop=None, cache=cache).data
    sweep = _sweep(X, tmp / "sweep")
    return dict(tmp=tmp, model=model.read_bytes(), checkpoint=checkpoint, idx=idx_raw, idx_gz=gzip.compress(idx_raw, mtime=0),
                folder=folder, cache=cache.read_bytes(), expected=expected,
                sweep=(tmp / "sweep" / "N2_A.safetensors").read_bytes(), sweep_samples=sweep[2]["samples_A"], X=X)


def _sweep(X, folder):
    from gahb import MemorizingDenoiser
    from gahb.experiments import generalization_curve

    return generalization_curve(MemorizingDenoiser(image_shape=(4, 4), beta=1.0), X, [2], n_samples=3, sigmas=[],
                                verbose=0, cache_dir=folder)


def _load_model(path):
    try:
        DiffusionDenoiser.load(path, device="cpu")
    except ValueError:
        pass


def _load_idx(path):
    try:
        load_idx(path)
    except ValueError:
        pass


def _load_cached(files, path):
    """The loader with a damaged cache: the right images, or ValueError for a readable foreign .npz."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "cannot be read ... rebuilding it"
        try:
            out = load_image_folder(files["folder"], image_size=None, crop=None, cache=path).data
        except ValueError as exc:
            assert "not a cache written by gahb" in str(exc)
            return
    np.testing.assert_array_equal(out, files["expected"])


LOADERS = {"model": (_load_model, ".safetensors"), "checkpoint": (_load_model, ".safetensors"),
           "idx": (_load_idx, ".idx"), "idx_gz": (_load_idx, ".gz")}
KINDS = ["model", "checkpoint", "idx", "idx_gz", "cache", "sweep"]


def _resume_sweep(files, data):
    """A sweep whose fit file is damaged: the same numbers (the fit retrained), or ValueError refusing a file that
    reads as written by someone else."""
    (files["tmp"] / "sweep" / "N2_A.safetensors").write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "is damaged ...; that fit is trained again"
        try:
            res = _sweep(files["X"], files["tmp"] / "sweep")
        except ValueError as exc:
            assert "cache folder" in str(exc)
            return
    np.testing.assert_array_equal(res[2]["samples_A"], files["sweep_samples"])


def _run(files, kind, data, name="f"):
    if kind == "sweep":
        _resume_sweep(files, data)
        return
    if kind == "cache":
        path = files["tmp"] / f"{name}.npz"
        path.write_bytes(data)
        _load_cached(files, path)
        return
    load, suffix = LOADERS[kind]
    path = files["tmp"] / f"{name}{suffix}"
    path.write_bytes(data)
    load(path)


def _truncations(data, step=1):
    return range(0, len(data), step)


@pytest.mark.parametrize("kind", KINDS)
def test_every_truncation(files, kind):
    data = files[kind]
    # a model file's header and metadata at every offset, its tensor bytes every 7th; a checkpoint (three times
    # larger) every 5th and 31st byte; a sweep's fit file (each cut retrains it) every 5th; the slow test cuts
    # all three at every offset
    offsets = list(_truncations(data, {"model": 7, "checkpoint": 31, "sweep": 5}.get(kind, 1)))
    if kind in ("model", "checkpoint"):
        header = 8 + struct.unpack("<Q", data[:8])[0]
        offsets = sorted(set(range(0, header + 1, 1 if kind == "model" else 5)) | set(offsets) | {header})
    for n in offsets:
        _run(files, kind, data[:n], "cut")


@pytest.mark.parametrize("kind", KINDS)
@QUICK
@given(junk=FILE_BYTES)
def test_random_bytes(files, kind, junk):
    _run(files, kind, junk, "junk")


def _flipped(raw, data, max_flips):
    """``raw`` with 1 to ``max_flips`` bytes set to values drawn by Hypothesis."""
    raw = bytearray(raw)
    for _ in range(data.draw(st.integers(1, max_flips))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    return bytes(raw)


@pytest.mark.parametrize("kind", KINDS)
@QUICK
@given(data=st.data())
def test_byte_flips(files, kind, data):
    _run(files, kind, _flipped(files[kind], data, 4), "flip")


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@LONG
@given(data=st.data())
def test_byte_flips_long(files, kind, data):
    raw = _flipped(files[kind], data, 16)
    _run(files, kind, raw[: data.draw(st.integers(0, len(raw)))], "flip-long")


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
@LONG
@given(junk=st.binary(min_size=0, max_size=4096))
def test_random_bytes_long(files, kind, junk):
    _run(files, kind, junk, "junk-long")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["model", "checkpoint", "sweep"])
def test_every_truncation_of_the_whole_file(files, kind):
    for n in range(len(files[kind])):
        _run(files, kind, files[kind][:n], "cut-all")


def test_nothing_left_behind(files):
    """No temporary files from the rebuilt caches or retrained sweep fits; the originals are intact. (It runs
    after the fuzz tests of this module, which share the fixture's folder.)"""
    left = [p.name for p in files["tmp"].rglob("*.tmp")]
    assert not left, left
    assert os.path.isfile(files["folder"] / "0.png")
