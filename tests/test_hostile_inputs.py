"""The hostile-input table: bad input anywhere in the public API gets the documented exception, naming the problem.

Each row is one bad input to a public function, an estimator, a loader, a model file or a command. Python
rows assert the exception type and a message that names the problem. Command rows run ``gahb`` in a
process of its own (tests/_cli_runner.py forks one per command line from an interpreter that imported gahb
once) and assert exit code 2, exactly one line on stderr starting with ``gahb: error:``, no traceback, and
that no training or experiment started (a marker replaces them and would exit with 99), within a time bound.
"""

import json
import os
import re
import subprocess
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gahb import DiffusionDenoiser, GAHBShrinkage, JacobianEigenbasis, MemorizingDenoiser, TrainingSubset, datasets
from gahb import metrics as M
from gahb.experiments import generalization_curve
from gahb.experiments.optimality import c_alpha_optimality, disk_optimality, shuffled_control

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
rng = np.random.default_rng(0)
X16 = rng.random((12, 16))
NAN = X16.copy()
NAN[3, 5] = np.nan
INF = X16.copy()
INF[0, 0] = np.inf
CPLX = X16.astype(complex)
NO_CUDA = not torch.cuda.is_available()


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    """Files the rows need: a fitted model and its file, image folders, an IDX file, a cache."""
    from PIL import Image

    tmp = tmp_path_factory.mktemp("hostile")
    den = DiffusionDenoiser(width=4, n_blocks=1, max_iter=2, batch_size=4, image_shape=(4, 4), random_state=0,
                            device="cpu").fit(X16)
    model = tmp / "model.safetensors"
    den.save(model)
    DiffusionDenoiser(width=4, n_blocks=1, max_iter=2, batch_size=4, image_shape=(4, 4), random_state=0, device="cpu",
                      checkpoint_dir=tmp / "ckpt").fit(X16)
    checkpoint = next((tmp / "ckpt").glob("checkpoint-*.safetensors"))
    empty, nested, photos = tmp / "empty", tmp / "nested" / "sub", tmp / "photos"
    for d in (empty, nested, photos):
        d.mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(nested / "a.png")
    Image.fromarray((rng.random((16, 16)) * 255).astype(np.uint8)).save(photos / "a.png")
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    note = tmp / "notes.txt"
    note.write_text("my notes")
    foreign = tmp / "mine.npz"
    np.savez(foreign, a=np.arange(3))
    return SimpleNamespace(tmp=tmp, den=den, model=model, checkpoint=checkpoint, empty=empty, nested=nested.parent, photos=photos, note=note,
                           foreign=foreign, memo=MemorizingDenoiser(image_shape=(4, 4), beta=1.0).fit(X16))


def _damaged_model(ctx, name, edit_meta=None, edit_tensors=None, source=None):
    """A copy of the fitted model file (or of ``source``, e.g. a checkpoint) with its metadata or tensors edited."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(source or ctx.model), framework="pt") as f:
        meta = json.loads(f.metadata()["gahb"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if edit_meta:
        meta = edit_meta(meta)
    if edit_tensors:
        edit_tensors(tensors)
    path = ctx.tmp / f"damaged-{name}.safetensors"
    save_file(tensors, str(path), metadata={"gahb": json.dumps(meta)})
    return DiffusionDenoiser.load(path, device="cpu")


def _damaged_ckpt(ctx, name, edit_training=None, edit_tensors=None):
    """A copy of the checkpoint with its training state (``meta['training']``) or tensors edited."""
    edit = None if edit_training is None else (lambda m: _set(m, "training", edit_training(m["training"])))
    return _damaged_model(ctx, "ckpt-" + name, edit, edit_tensors, source=ctx.checkpoint)


def _set(d, key, value):
    d = dict(d)
    d[key] = value
    return d


def _param(name, value):
    return lambda m: _set(m, "params", _set(m["params"], name, value))


def _fit(**params):
    return lambda ctx: DiffusionDenoiser(**{"width": 4, "n_blocks": 1, "max_iter": 2, "image_shape": (4, 4),
                                            "device": "cpu", **params}).fit(X16)


def _clone_fitted(den, params):
    import copy

    d = copy.deepcopy(den)
    return d.set_params(**params)


def _write(path, data):
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def _idx(ctx, name, payload):
    return datasets.load_idx(_write(ctx.tmp / name, payload))


V = ValueError
T = TypeError
PY_CASES = [
    # ---- metrics: NaN, infinity, complex, shapes, thresholds
    ("memorization_rate NaN in X_train", lambda c: M.memorization_rate(X16[:2], NAN), V, "X_train contains NaN"),
    ("memorization_rate NaN in samples", lambda c: M.memorization_rate(NAN, X16), V, "samples contains NaN"),
    ("memorization_rate inf", lambda c: M.memorization_rate(INF, X16), V, "samples contains NaN or infinity"),
    ("memorization_rate complex", lambda c: M.memorization_rate(CPLX, X16), T, "samples must be a numeric array"),
    ("memorization_rate threshold 1e9", lambda c: M.memorization_rate(X16, X16, threshold=1e9), V, r"\[-1, 1\]"),
    ("memorization_rate threshold -1e9", lambda c: M.memorization_rate(X16, X16, threshold=-1e9), V, r"\[-1, 1\]"),
    ("memorization_rate ratio 0", lambda c: M.memorization_rate(X16, X16, rule="ratio", threshold=0), V, r"\(0, 1\]"),
    ("memorization_rate ratio 2", lambda c: M.memorization_rate(X16, X16, rule="ratio", threshold=2), V, r"\(0, 1\]"),
    ("memorization_rate ratio one image", lambda c: M.memorization_rate(X16, X16[:1], rule="ratio"), V, "at least 2"),
    ("memorization_rate features", lambda c: M.memorization_rate(X16, X16[:, :8]), V, "16 features but X_train has 8"),
    ("memorization_rate 1-D", lambda c: M.memorization_rate(X16[0], X16), V, "must be 2-D"),
    ("memorization_rate empty", lambda c: M.memorization_rate(X16[:0], X16), V, "is empty"),
    ("memorization_rate strings", lambda c: M.memorization_rate(np.array([["a", "b"]]), X16), T, "numeric array"),
    ("memorization_scorer threshold", lambda c: M.memorization_scorer(threshold=5), V, r"\[-1, 1\]"),
    ("memorization_scorer NaN X", lambda c: M.memorization_scorer(2)(c.memo, NAN), V, "X contains NaN"),
    ("cosine_similarity NaN", lambda c: M.cosine_similarity(NAN), V, "X contains NaN"),
    ("cosine_similarity complex", lambda c: M.cosine_similarity(CPLX), T, "numeric array"),
    ("cosine_similarity features", lambda c: M.cosine_similarity(X16, X16[:, :3]), V, "features"),
    ("paired_cosine NaN", lambda c: M.paired_cosine_similarity(X16, NAN), V, "Y contains NaN"),
    ("paired_cosine rows", lambda c: M.paired_cosine_similarity(X16, X16[:3]), V, "same number of rows"),
    ("nearest_neighbors NaN", lambda c: M.nearest_neighbors(X16, NAN), V, "Y contains NaN"),
    ("nearest_neighbors k too big", lambda c: M.nearest_neighbors(X16, X16[:2], 3), V, "exceeds the 2 rows"),
    ("nearest_similarity inf", lambda c: M.nearest_similarity(INF, X16), V, "X contains NaN or infinity"),
    ("data_baseline NaN", lambda c: M.data_baseline(X16, NAN), V, "X2 contains NaN"),
    ("data_baseline complex", lambda c: M.data_baseline(CPLX, X16), T, "X1 must be a numeric array"),
    ("score_generalization NaN", lambda c: M.score_generalization(NAN, X16), V, "A contains NaN"),
    ("score_generalization rows", lambda c: M.score_generalization(X16, X16[:3]), V, "same number of rows"),
    ("summarize complex", lambda c: M.summarize(np.ones(3, complex)), T, "real numbers"),
    ("psnr_gap complex", lambda c: M.psnr_gap(np.ones(2, complex), [1.0, 2.0]), T, "real numbers"),
    ("psnr_gap grids", lambda c: M.psnr_gap([1.0, 2.0], [1.0]), V, "same grid"),
    ("effective_memorization complex", lambda c: M.effective_memorization([1, 2], [1j, 1]), T, "real numbers"),
    ("effective_memorization lengths", lambda c: M.effective_memorization([1, 2], [1.0]), V, "same length"),
    ("psnr_curve NaN", lambda c: M.psnr_curve(c.den, NAN), V, "X contains NaN"),
    ("psnr_curve sigmas negative", lambda c: M.psnr_curve(c.den, X16, sigmas=[0.1, -1]), V, "positive finite"),
    ("psnr_curve sigmas complex", lambda c: M.psnr_curve(c.den, X16, sigmas=[1j]), T, "sigmas must hold real"),
    ("psnr_curve callable shape", lambda c: M.psnr_curve(lambda y: y[..., :2], X16, image_shape=(4, 4)), V,
     r"maps \(\d+, 1, 4, 4\) to \(\d+, 1, 4, 2\)"),
    ("psnr_curve callable not tensor", lambda c: M.psnr_curve(lambda y: y.numpy(), X16, image_shape=(4, 4)), V,
     "to ndarray"),
    ("psnr_curve callable raises", lambda c: M.psnr_curve(lambda y: 1 / 0, X16, image_shape=(4, 4)), V,
     "denoiser failed on a batch of shape .*ZeroDivisionError"),
    ("psnr_curve callable no shape", lambda c: M.psnr_curve(lambda y: y, X16), V, "image_shape is required"),
    ("psnr_curve image_shape", lambda c: M.psnr_curve(lambda y: y, X16, image_shape=(3, 3)), V, "holds 9 pixels"),
    # ---- estimators: parameters, data, sampler settings
    ("fit beta 0", _fit(beta=0), V, "'beta' parameter"),
    ("fit beta 7.5", _fit(beta=7.5), V, "'beta' parameter"),
    ("fit h0 2", _fit(h0=2), V, "'h0' parameter"),
    ("fit sigma_final >= sigma_0", _fit(sigma_final=2.0), V, r"sigma_final \(2.0\) must be smaller than sigma_0"),
    ("fit width 0", _fit(width=0), V, "'width' parameter"),
    ("fit learning_rate nan", _fit(learning_rate=float("nan")), V, "'learning_rate' parameter"),
    ("fit max_iter 0", _fit(max_iter=0), V, "'max_iter' parameter"),
    ("fit architecture name", _fit(architecture="resnet"), V, "'architecture' parameter"),
    ("fit architecture class", _fit(architecture=dict), T, "torch.nn.Module"),
    ("fit architecture wrong shape", _fit(architecture=torch.nn.Conv2d(1, 2, 1, bias=False)), V,
     r"maps \(2, 1, 4, 4\) to \(2, 2, 4, 4\)"),
    ("fit random_state -1", _fit(random_state=-1), V, "'random_state' parameter"),
    ("fit device", _fit(device="tpu"), V, "device"),
    ("fit image_shape pixels", _fit(image_shape=(3, 3)), V, "holds 9 pixels but X has 16"),
    ("fit image_shape zero", _fit(image_shape=(0, 16)), V, "positive"),
    ("fit NaN", lambda c: DiffusionDenoiser(image_shape=(4, 4)).fit(NAN), V, "NaN"),
    ("fit complex", lambda c: DiffusionDenoiser(image_shape=(4, 4)).fit(CPLX), V, "Complex data not supported"),
    ("fit 1-D", lambda c: DiffusionDenoiser().fit(X16[0]), V, "2D array"),
    ("fit strings", lambda c: DiffusionDenoiser().fit(np.array([["x"]])), V, "float"),
    ("fit images disagree", lambda c: DiffusionDenoiser(image_shape=(2, 8)).fit(X16.reshape(12, 4, 4)), V,
     "images of shape"),
    ("transform features", lambda c: c.den.transform(X16[:, :8]), V, "8 features"),
    ("transform NaN", lambda c: c.den.transform(NAN), V, "NaN"),
    ("sample after set_params sigma_final", lambda c: _clone_fitted(c.den, {"sigma_final": 5.0}).sample(2), V,
     "sigma_final"),
    ("sample after set_params beta", lambda c: _clone_fitted(c.den, {"beta": 3.0}).sample(2), V, "'beta' parameter"),
    ("sample after set_params steps", lambda c: _clone_fitted(c.den, {"max_sample_steps": 0}).sample(2), V,
     "'max_sample_steps' parameter"),
    ("sample n 0", lambda c: c.den.sample(0), V, "'n_samples' parameter"),
    ("sample sampler", lambda c: c.den.sample(2, sampler="ddpm"), V, "'sampler' parameter"),
    ("sample generators length", lambda c: c.den.sample(2, random_state=[torch.Generator()]), V,
     r"one torch.Generator per sample \(2\)"),
    ("sample on_divergence", lambda c: c.den.sample(2, on_divergence="hope"), V, "'on_divergence' parameter"),
    ("memorizer sample sigma_final", lambda c: _clone_fitted(c.memo, {"sigma_final": 2.0}).sample(2), V,
     "sigma_final"),
    ("memorizer fit NaN", lambda c: MemorizingDenoiser().fit(NAN), V, "NaN"),
    ("eigenbasis callable shape", lambda c: JacobianEigenbasis(lambda y: y[:, :, :2], image_shape=(4, 4)).fit(X16), V,
     r"maps \(1, 1, 4, 4\) to \(1, 1, 2, 4\)"),
    ("eigenbasis callable raises", lambda c: JacobianEigenbasis(lambda y: y.view(-1, 7), image_shape=(4, 4)).fit(X16[:, :16]),
     V, "denoiser failed"),
    ("eigenbasis n_components", lambda c: JacobianEigenbasis(c.den, n_components=99).fit(X16), V, "exceeds"),
    ("eigenbasis no denoiser", lambda c: JacobianEigenbasis().fit(X16), V, "denoiser is required"),
    ("eigenbasis features", lambda c: JacobianEigenbasis(c.den).fit(X16[:, :9]), V, "9 features"),
    ("shrinkage basis", lambda c: GAHBShrinkage(c.den, basis="fourier").fit(X16), V, "'basis' parameter"),
    ("shrinkage callable shape", lambda c: GAHBShrinkage(lambda y: y[..., :1], image_shape=(4, 4)).fit(X16[:2]), V,
     "same shape"),
    ("training subset n_train 0", lambda c: TrainingSubset(c.memo, n_train=0).fit(X16), V, "'n_train' parameter"),
    ("training subset too few", lambda c: TrainingSubset(MemorizingDenoiser(), n_train=50).fit(X16), V, "50"),
    # ---- experiments
    ("generalization_curve threshold", lambda c: generalization_curve(c.memo, X16, [2], threshold=1e9), V, "threshold"),
    ("generalization_curve epsilon", lambda c: generalization_curve(c.memo, X16, [2], epsilon=5), V, "epsilon"),
    ("generalization_curve NaN", lambda c: generalization_curve(c.memo, NAN, [2]), V, "X contains NaN"),
    ("generalization_curve sizes", lambda c: generalization_curve(c.memo, X16, [0, 2]), V, "positive"),
    ("generalization_curve sizes float", lambda c: generalization_curve(c.memo, X16, [1.5]), V, "integers"),
    ("generalization_curve too few", lambda c: generalization_curve(c.memo, X16, [7]), V, r"needs 2\*N = 14"),
    ("generalization_curve X_B features", lambda c: generalization_curve(c.memo, X16, [2], X_B=X16[:, :4]), V,
     "X_B must have 16 features"),
    ("generalization_curve sigmas", lambda c: generalization_curve(c.memo, X16, [2], sigmas=[-1]), V, "sigmas"),
    ("generalization_curve sigma order", lambda c: generalization_curve(
        DiffusionDenoiser(sigma_final=3.0, image_shape=(4, 4)), X16, [2]), V, "sigma_final"),
    ("generalization_curve image_shape", lambda c: generalization_curve(
        DiffusionDenoiser(image_shape=(5, 5)), X16, [2]), V, "holds 25 pixels"),
    ("generalization_curve estimator", lambda c: generalization_curve(object(), X16, [2]), V, "'estimator' parameter"),
    ("c_alpha image_size", lambda c: c_alpha_optimality([1], image_size=3), V, "'image_size' parameter"),
    ("c_alpha alphas", lambda c: c_alpha_optimality("abc"), V, "'alphas' parameter"),
    ("disk n_train", lambda c: disk_optimality(n_train=0), V, "'n_train' parameter"),
    ("shuffled image_shape", lambda c: shuffled_control(X16, X16, (5, 5)), V, "25 pixels|image_shape"),
    # ---- datasets: generators and loaders
    ("dead_leaves image_size", lambda c: datasets.make_dead_leaves(2, image_size=1), V, "'image_size' parameter"),
    ("dead_leaves n_samples", lambda c: datasets.make_dead_leaves(0), V, "'n_samples' parameter"),
    ("c_alpha alpha", lambda c: datasets.make_c_alpha(2, alpha=-1), V, "'alpha' parameter"),
    ("disks seed", lambda c: datasets.make_disks(2, random_state=-3), V, "'random_state' parameter"),
    ("dedup threshold", lambda c: datasets.remove_near_duplicates(X16, (4, 4), threshold=2), V, "'threshold' parameter"),
    ("image folder missing", lambda c: datasets.load_image_folder(c.tmp / "nope"), FileNotFoundError, "not found"),
    ("image folder is a file", lambda c: datasets.load_image_folder(c.note), FileNotFoundError, "not found"),
    ("image folder empty", lambda c: datasets.load_image_folder(c.empty), FileNotFoundError, "no image files"),
    ("image folder nested", lambda c: datasets.load_image_folder(c.nested), FileNotFoundError,
     "subfolders 'sub' hold some: pass recursive=True"),
    ("image folder strict", lambda c: datasets.load_image_folder(c.photos, strict=True), V, "cannot read 'broken.png'"),
    ("image folder crop", lambda c: datasets.load_image_folder(c.photos, crop="middle"), V, "'crop' parameter"),
    ("image folder cache suffix", lambda c: datasets.load_image_folder(c.photos, cache=c.tmp / "c.pkl"), V,
     "ending in .npz"),
    ("image folder foreign cache", lambda c: datasets.load_image_folder(c.photos, cache=c.foreign), V,
     "not a cache written by gahb"),
    ("image folder cache is a folder", lambda c: datasets.load_image_folder(c.photos, cache=c.empty.with_suffix(
        ".npz") if c.empty.with_suffix(".npz").mkdir() is None else None), V, "is a folder"),
    ("photo tiles strict", lambda c: datasets.load_photo_tiles(c.photos, strict=True), V, "cannot read 'broken.png'"),
    ("photo tiles min_std", lambda c: datasets.load_photo_tiles(c.photos, tile_size=4, min_std=5.0), V,
     "no tile .* passed min_std"),
    ("photo tiles tile_size", lambda c: datasets.load_photo_tiles(c.photos, tile_size=0), V, "'tile_size' parameter"),
    ("fashion missing", lambda c: datasets.load_fashion_mnist(c.empty), FileNotFoundError, "train-images"),
    ("idx missing", lambda c: datasets.load_idx(c.tmp / "none.idx"), FileNotFoundError, "IDX file not found"),
    ("idx empty", lambda c: _idx(c, "e.idx", b""), V, "bad magic number empty"),
    ("idx bad magic", lambda c: _idx(c, "m.idx", b"\x01\x00\x08\x01\x00\x00\x00\x01a"), V, "not an IDX file"),
    ("idx type code", lambda c: _idx(c, "t.idx", b"\x00\x00\x07\x01\x00\x00\x00\x01a"), V, "not an IDX file"),
    ("idx zero dims", lambda c: _idx(c, "z.idx", b"\x00\x00\x08\x00"), V, "0 dimensions"),
    ("idx short header", lambda c: _idx(c, "s.idx", b"\x00\x00\x08\x04\x00\x00\x00\x01"), V, "ends after 1"),
    ("idx huge shape", lambda c: _idx(c, "h.idx", b"\x00\x00\x08\x03" + b"\xff\xff\xff\xff" * 3), V,
     "data bytes\\) but the file holds 0"),
    ("idx trailing", lambda c: _idx(c, "tr.idx", b"\x00\x00\x08\x01\x00\x00\x00\x01ab"), V, "file holds 2"),
    ("idx gzip truncated", lambda c: _idx(c, "g.idx", __import__("gzip").compress(b"\x00\x00\x08\x01\x00\x00\x00\x04"
                                                                                  b"abcd")[:-6]), V,
     "damaged or truncated gzip"),
    # ---- model files: load
    ("load missing", lambda c: DiffusionDenoiser.load(c.tmp / "none.safetensors"), V, "no such model file"),
    ("load random bytes", lambda c: DiffusionDenoiser.load(_write(c.tmp / "r.safetensors", os.urandom(64))), V,
     "not a gahb model file"),
    ("load text file", lambda c: DiffusionDenoiser.load(c.note), V, "not a gahb model file"),
    ("load folder", lambda c: DiffusionDenoiser.load(c.empty), V, "no such model file|no checkpoint"),
    ("load device", lambda c: DiffusionDenoiser.load(c.model, device="tpu"), V, "device"),
    ("meta not object", lambda c: _damaged_model(c, "list", lambda m: [m]), V, "not written by DiffusionDenoiser"),
    ("meta format", lambda c: _damaged_model(c, "fmt", lambda m: _set(m, "format", "other/9")), V, "format 'other/9'"),
    ("meta params list", lambda c: _damaged_model(c, "pl", lambda m: _set(m, "params", [1])), V, "field 'params'"),
    ("meta params unknown", lambda c: _damaged_model(c, "pu", _param("colour", 3)), V, r"unknown parameters \['colour'\]"),
    ("meta beta 7.5", lambda c: _damaged_model(c, "beta", _param("beta", 7.5)), V, "field 'params'.*'beta' parameter"),
    ("meta h0 string", lambda c: _damaged_model(c, "h0", _param("h0", "big")), V, "field 'params'.*'h0' parameter"),
    ("meta width 0", lambda c: _damaged_model(c, "w0", _param("width", 0)), V, "'width' parameter"),
    ("meta sigma order", lambda c: _damaged_model(c, "so", _param("sigma_final", 9.0)), V, "sigma_final"),
    ("meta architecture", lambda c: _damaged_model(c, "ar", _param("architecture", "resnet")), V, "'architecture'"),
    ("meta width other", lambda c: _damaged_model(c, "w8", _param("width", 8)), V, "weights do not fit a unet"),
    ("meta image_shape param", lambda c: _damaged_model(c, "isp", _param("image_shape", [2, 8])), V,
     "disagrees with image_shape_"),
    ("meta image_shape_ missing", lambda c: _damaged_model(c, "ism", lambda m: {k: v for k, v in m.items()
                                                                              if k != "image_shape_"}), V,
     "field 'image_shape_' must be a list"),
    ("meta image_shape_ ints", lambda c: _damaged_model(c, "isi", lambda m: _set(m, "image_shape_", [1, "4", 4])), V,
     r"image_shape_\[1\]' must be an integer"),
    ("meta image_shape_ vs mean", lambda c: _damaged_model(c, "isv", lambda m: _set(
        _set(m, "image_shape_", [1, 8, 8]), "n_features_in_", 64)), V, "'train_mean_' must be a 1-D float tensor of 64"),
    ("meta channels vs weights", lambda c: _damaged_model(c, "ch", lambda m: _set(
        _set(_param("image_shape", None)(m), "image_shape_", [2, 4, 2]), "n_features_in_", 16)), V, "weights do not fit"),
    ("meta n_features_in_", lambda c: _damaged_model(c, "nf", lambda m: _set(m, "n_features_in_", 15)), V,
     "'n_features_in_' is 15"),
    ("meta n_iter_", lambda c: _damaged_model(c, "ni", lambda m: _set(m, "n_iter_", -1)), V, "'n_iter_' must be"),
    ("meta n_iter_ float", lambda c: _damaged_model(c, "nif", lambda m: _set(m, "n_iter_", 2.5)), V, "'n_iter_'"),
    ("meta custom", lambda c: _damaged_model(c, "cu", lambda m: _set(m, "custom_architecture", 5)), V,
     "custom_architecture"),
    ("tensor mean missing", lambda c: _damaged_model(c, "tm", None, lambda t: t.pop("train_mean_")), V,
     "'train_mean_' is missing"),
    ("tensor mean NaN", lambda c: _damaged_model(c, "tn", None, lambda t: t["train_mean_"].fill_(float("nan"))), V,
     "'train_mean_' holds NaN"),
    ("tensor weight NaN", lambda c: _damaged_model(c, "wn", None, lambda t: next(
        v for k, v in t.items() if k.startswith("network.") and v.is_floating_point()).fill_(float("inf"))), V,
     "holds NaN or infinite"),
    ("tensor weights missing", lambda c: _damaged_model(c, "wm", None, lambda t: [t.pop(k) for k in list(t)
                                                                                   if k.startswith("network.")]), V,
     "no network weights"),
    ("tensor weight shape", lambda c: _damaged_model(c, "ws", None, lambda t: t.update(
        {k: v[:1] for k, v in t.items() if k.startswith("network.") and v.dim() == 4})), V, "weights do not fit"),
    ("tensor loss_curve 2-D", lambda c: _damaged_model(c, "lc", None, lambda t: t.update(
        loss_curve_=t["loss_curve_"].reshape(1, -1))), V, "'loss_curve_' must be a 1-D"),
    # ---- checkpoints: the training state that fit(warm_start=True) continues from
    ("checkpoint step", lambda c: _damaged_ckpt(c, "st", lambda t: _set(t, "step", 7)), V,
     "'training.step' is 7 but n_iter_ is 2"),
    ("checkpoint window", lambda c: _damaged_ckpt(c, "ws", lambda t: _set(t, "window_start", 5)), V,
     "'training.window_start' \\(5\\) is after the step"),
    ("checkpoint world", lambda c: _damaged_ckpt(c, "wo", lambda t: _set(t, "world_size", 0)), V,
     "'training.world_size' must be an integer >= 1"),
    ("checkpoint seed", lambda c: _damaged_ckpt(c, "se", lambda t: _set(t, "seed", "x")), V, "'training.seed'"),
    ("checkpoint not object", lambda c: _damaged_ckpt(c, "no", lambda t: [t]), V, "'training' must be a JSON object"),
    ("checkpoint param groups", lambda c: _damaged_ckpt(c, "pg", lambda t: _set(t, "param_groups", [{"params": [0]}])),
     V, "'training.param_groups' must list the network's"),
    ("checkpoint optimizer shape", lambda c: _damaged_ckpt(c, "os", None, lambda t: t.update(
        {k: v[..., :1].contiguous() for k, v in t.items() if k.startswith("state.optimizer.") and k.endswith("exp_avg")})),
     V,
     "'state.optimizer.0.exp_avg' has shape"),
    ("checkpoint optimizer index", lambda c: _damaged_ckpt(c, "oi", None, lambda t: t.update(
        {"state.optimizer.99.exp_avg": torch.zeros(1)})), V, "names no parameter"),
    ("checkpoint generator", lambda c: _damaged_ckpt(c, "rg", None, lambda t: t.pop("state.rng.0.noise")), V,
     "'state.rng.0.noise'"),
    ("checkpoint loss curve", lambda c: _damaged_ckpt(c, "lc", None, lambda t: t.pop("state.loss_curve")), V,
     "'loss_curve' is missing"),
    ("checkpoint folder without checkpoints", lambda c: DiffusionDenoiser.load(c.empty), V, "no checkpoint"),
    # ---- model files: save
    ("save missing folder", lambda c: c.den.save(c.tmp / "no" / "m.safetensors"), FileNotFoundError, "does not exist"),
    ("save onto folder", lambda c: c.den.save(c.empty), IsADirectoryError, "names a folder"),
    ("save over a text file", lambda c: c.den.save(c.note), FileExistsError, "not a gahb model file.*overwrite=True"),
    ("save unfitted", lambda c: DiffusionDenoiser().save(c.tmp / "u.safetensors"), Exception, "not fitted"),
]


@pytest.mark.parametrize("fn, exc, match", [c[1:] for c in PY_CASES], ids=[c[0] for c in PY_CASES])
def test_python_input(ctx, fn, exc, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a skipped file's warning is tested elsewhere; the error is tested here
        with pytest.raises(exc, match=match):
            fn(ctx)


def test_the_damaged_files_start_from_good_ones(ctx):
    """The model and checkpoint rows edit files that load, so each row's error comes from its one edit."""
    assert DiffusionDenoiser.load(ctx.model, device="cpu").n_iter_ == 2
    resumed = DiffusionDenoiser.load(ctx.checkpoint, device="cpu")
    assert resumed._train_state["meta"]["step"] == 2
    assert _damaged_ckpt(ctx, "same").n_iter_ == 2  # a copy without edits loads too


def test_the_saving_rows_lose_nothing(ctx):
    """After the rows ran: the text file is untouched and no temporary file was left anywhere."""
    assert ctx.note.read_text() == "my notes"
    assert not [p for p in ctx.tmp.rglob("*.tmp")]


# ----------------------------------------------------------------------------------------------- commands
# {tmp} is the folder of the command rows: {tmp}/empty (no images), {tmp}/nested (images in sub/ only),
# {tmp}/notes.txt (a file), {tmp}/done, {tmp}/done-opt/disks and {tmp}/fit-done (an earlier run's report.md),
# {tmp}/damaged-ckpt (a damaged checkpoint), {tmp}/read-only;
# {tmp}/out does not exist (and must not exist after a refused command).
_T, _O, _F, _G = ["transition"], ["optimality", "disks"], ["fit"], ["figure", "1"]
CLI_CASES = [
    (_T + ["--beta", "0"], "--beta must be"),
    (_T + ["--beta", "7.5"], "--beta must be"),
    (_T + ["--h0", "2"], "--h0 must be"),
    (_T + ["--h0", "nan"], "--h0 must be"),
    (_T + ["--sigma-final", "2"], "sigma_final .* must be smaller than sigma_0"),
    (_T + ["--learning-rate", "-1"], "--learning-rate must be"),
    (_T + ["--image-size", "1"], "--image-size must be"),
    (_T + ["--n-layers", "1", "--architecture", "bfcnn"], "--n-layers must be"),
    (_T + ["--seed", "-1"], "--seed must be"),
    (_T + ["--device", "tpu"], "--device tpu"),
    (_T + ["--sizes", "0"], "--sizes must be positive"),
    (_T + ["--sizes", "a,b"], "--sizes must be comma-separated"),
    (_T + ["--jobs", "0"], "--jobs must be positive or -1"),
    (_T + ["--dedup", "2"], r"--dedup must lie in \(0, 1\]"),
    (_T + ["--dataset", "celeba"], "needs --data-path"),
    (_T + ["--dataset", "photo-tiles", "--data-path", "{tmp}/nowhere"], "does not exist"),
    (_T + ["--dataset", "photo-tiles", "--data-path", "{tmp}/empty"], "no image files"),
    (_T + ["--dataset", "celeba", "--data-path", "{tmp}/nested"], "subfolders 'sub' hold some: pass --recursive"),
    (_T + ["--dataset", "celeba", "--data-path", "{tmp}/notes.txt"], "image folder not found"),
    (_T + ["--dataset", "fashion-mnist", "--data-path", "{tmp}/empty"], "Fashion-MNIST file"),
    (_T + ["--steps", "0"], "--steps: expected a positive integer"),
    (_T + ["--width", "-2"], "--width: expected a positive integer"),
    (_T + ["--architecture", "resnet"], "invalid choice"),
    (_T + ["--colour", "blue"], "unrecognized arguments"),
    (_T + ["-o", "{tmp}/notes.txt"], "is a file, not a folder"),
    (_T + ["-o", "{tmp}/notes.txt/sub"], "is not writable"),
    (_T + ["-o", "{tmp}/done"], "already holds report.md .*--overwrite"),
    (_O + ["--steps", "0"], "--steps: expected a positive integer"),
    (_O + ["--threads", "0"], "--threads: expected a positive integer"),
    (_O + ["--image-size", "3"], "--image-size must be"),
    (_O + ["--n-train", "0"], "--n-train: expected a positive integer"),
    (_O + ["--alphas", "0"], "--alphas must be positive"),
    (_O + ["--alphas", "x"], "--alphas must be comma-separated numbers"),
    (_O + ["--window", "30,12"], "--window must be lo,hi with lo < hi"),
    (_O + ["--window", "1"], "--window needs 2"),
    (_O + ["--device", "tpu"], "--device tpu"),
    (_O + ["--seed", "-1"], "--seed must be"),
    (_O + ["-o", "{tmp}/notes.txt"], "is not writable|is a file"),
    (_O + ["-o", "{tmp}/done-opt"], "already holds report.md"),
    (_F + ["--steps", "0"], "--steps: expected a positive integer"),
    (_F + ["--image-size", "1"], "--image-size must be"),
    (_F + ["--seed", "-1"], "--seed must be"),
    (_F + ["--checkpoint-every", "0"], "--checkpoint-every must be"),
    (_F + ["--n-val", "-1"], "--n-val must be >= 0"),
    (_F + ["--sigma-max", "-1"], "--sigma-max must be"),
    (_F + ["--learning-rate", "0"], "--learning-rate must be"),
    (_F + ["--precision", "fp8"], "invalid choice"),
    (_F + ["--device", "tpu"], "--device tpu"),
    (_F + ["--dataset", "celeba"], "needs --data-path"),
    (_F + ["--dataset", "photo-tiles", "--data-path", "{tmp}/nested"], "pass --recursive"),
    (_F + ["--resume"], "--resume: no checkpoint in"),
    (_F + ["--resume", "-o", "{tmp}/damaged-ckpt"], "--resume: .* is not a gahb model file"),
    (_F + ["-o", "{tmp}/notes.txt"], "is a file, not a folder"),
    (_F + ["-o", "{tmp}/fit-done"], "already holds .*model.safetensors"),
    (_G + ["--seed", "-1"], "--seed must be"),
    (_G + ["--jobs", "0"], "--jobs must be positive"),
    (_G + ["--device", "tpu"], "--device tpu"),
    (_G + ["--data-path", "{tmp}/nowhere"], "does not exist"),
    (_G + ["--data-path", "{tmp}/empty"], "no image files"),
    (_G + ["--data-path", "{tmp}/nested"], "subfolders 'sub' hold some: point --data-path"),
    (["figure", "4", "--data-path", "{tmp}/empty"], "uses synthetic data only"),
    (_G + ["--quick", "--scale", "paper"], "exclude each other"),
    (_G + ["--tflops", "-1"], "--tflops must be positive"),
    (_G + ["-o", "{tmp}/notes.txt"], "is a file, not a folder"),
    (["figure", "99"], "Figures 1-21"),
    (["figure", "abc"], "figure numbers are 1-21"),
    (["figure"], "name a figure"),
    (["optimality", "everything"], "invalid choice"),
    (["nosuchcommand"], "invalid choice"),
] + ([(_T + ["--device", "cuda"], "CUDA is not available"), (_O + ["--device", "cuda:1"], "CUDA")] if NO_CUDA else []) \
  + ([(_T + ["-o", "{tmp}/read-only/rep"], "is not writable: Permission denied"),
      (_O + ["-o", "{tmp}/read-only/rep"], "is not writable: Permission denied")] if os.geteuid() != 0 else [])


def _argv(argv, tmp):
    argv = [a.format(tmp=tmp) for a in argv]
    if argv[0] in ("transition", "optimality", "fit", "figure") and "-o" not in argv:
        argv += ["-o", f"{tmp}/out"]
    return argv


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    """Every command row run once, each in its own forked process (tests/_cli_runner.py)."""
    from PIL import Image

    tmp = tmp_path_factory.mktemp("cli")
    for d in ("empty", "nested/sub", "done", "done-opt/disks", "read-only"):
        (tmp / d).mkdir(parents=True)
    (tmp / "read-only").chmod(0o500)  # refuses writes to everyone but root
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp / "nested" / "sub" / "a.png")
    (tmp / "notes.txt").write_text("x")
    for d in ("done", "done-opt/disks", "fit-done"):
        (tmp / d).mkdir(parents=True, exist_ok=True)
        (tmp / d / "report.md").write_text("# an earlier run")
    (tmp / "fit-done" / "model.safetensors").write_text("an earlier model")
    (tmp / "damaged-ckpt" / "checkpoints").mkdir(parents=True)
    (tmp / "damaged-ckpt" / "checkpoints" / "checkpoint-000000010.safetensors").write_bytes(b"\x08" + b"\0" * 20)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "_cli_runner.py")],
                          input=json.dumps([_argv(a, tmp) for a, _ in CLI_CASES]), capture_output=True, text=True,
                          env=env, timeout=600, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    yield dict(zip((" ".join(a) for a, _ in CLI_CASES), json.loads(proc.stdout))), tmp
    assert not (tmp / "out").exists()  # no refused command left an empty output folder behind
    assert (tmp / "done" / "report.md").read_text() == "# an earlier run"


@pytest.mark.parametrize("argv, match", CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_command(cli_results, argv, match):
    """Exit 2, exactly one line on stderr naming the problem, no traceback, no training started, quickly."""
    results, _ = cli_results
    r = results[" ".join(argv)]
    lines = r["stderr"].strip().splitlines()
    assert r["rc"] == 2, r["stderr"][-2000:]
    assert len(lines) == 1 and lines[0].startswith("gahb: error:"), r["stderr"]
    assert re.search(match, lines[0]), lines[0]
    assert r["seconds"] < 30, "a usage error must be reported before any work"
