"""Model files of `DiffusionDenoiser`: every field checked on load, file-system errors as ``OSError`` on save.

A model file is safetensors (tensors) plus JSON metadata; loading never unpickles. A damaged or hand-edited
file must fail with a ``ValueError`` that names the field, never with an ``AttributeError`` from a
missing key or a shape error from torch long after loading, and never load with out-of-range parameters.
"""

from __future__ import annotations

import errno
import json
import math
import numbers
import os

import torch

from gahb._checks import check_image_shape
from gahb._networks import check_output_shape
from gahb._utils import resolve_device
from gahb.core.checkpoint import write_atomic

__all__ = ["check_fields", "check_training_state", "restore_estimator", "is_gahb_file", "write_model_file"]


class _Damaged(ValueError):
    pass


def _int(value, field: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise _Damaged(f"field {field!r} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def _vector(tensors: dict, name: str, size: int | None = None, optional: bool = False) -> torch.Tensor | None:
    t = tensors.get(name)
    if t is None:
        if optional:
            return None
        raise _Damaged(f"tensor {name!r} is missing")
    if t.dim() != 1 or not t.is_floating_point() or (size is not None and t.numel() != size):
        want = f"{size} " if size is not None else ""
        raise _Damaged(f"tensor {name!r} must be a 1-D float tensor of {want}values; got {t.dtype} of shape "
                       f"{tuple(t.shape)}")
    return t


def check_fields(meta, tensors: dict, known_params, path) -> dict:
    """The fields of a model file (a ``ValueError`` naming the first bad one): ``params`` (keys checked; values
    are checked by the estimator's constraints afterwards), ``image_shape_``, ``n_iter_``, ``n_features_in_``,
    ``train_mean_`` (finite, one value per pixel), ``loss_curve_``, ``validation_scores_`` and finite network
    weights."""
    try:
        if not isinstance(meta, dict):
            raise _Damaged(f"its metadata must be a JSON object; got {type(meta).__name__}")
        params = meta.get("params")
        if not isinstance(params, dict):
            raise _Damaged(f"field 'params' must be a JSON object of parameters; got {type(params).__name__}")
        unknown = sorted(set(params) - set(known_params))
        if unknown:
            raise _Damaged(f"field 'params' holds unknown parameters {unknown} (written by another gahb version?)")
        shape = meta.get("image_shape_")
        if not isinstance(shape, list) or len(shape) != 3:
            raise _Damaged(f"field 'image_shape_' must be a list [C, H, W]; got {shape!r}")
        shape = tuple(_int(s, f"image_shape_[{i}]", 1) for i, s in enumerate(shape))
        n_features = _int(meta.get("n_features_in_"), "n_features_in_", 1)
        if n_features != math.prod(shape):
            raise _Damaged(f"field 'n_features_in_' is {n_features} but image_shape_ {list(shape)} holds "
                           f"{math.prod(shape)} pixels")
        n_iter = _int(meta.get("n_iter_"), "n_iter_", 0)
        custom = meta.get("custom_architecture")
        if custom is not None and not isinstance(custom, str):
            raise _Damaged(f"field 'custom_architecture' must be a class name; got {custom!r}")
        train_mean = _vector(tensors, "train_mean_", n_features)
        loss_curve = _vector(tensors, "loss_curve_")
        validation = _vector(tensors, "validation_scores_", optional=True)
        weights = {k[len("network."):]: v for k, v in tensors.items() if k.startswith("network.")}
        if not weights:
            raise _Damaged("it holds no network weights")
        for name, t in list(weights.items()) + [("train_mean_", train_mean)]:
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise _Damaged(f"tensor {name!r} holds NaN or infinite values")
    except _Damaged as exc:
        raise ValueError(f"{os.fspath(path)!r} is a damaged gahb model file: {exc}.") from None
    return dict(params=params, image_shape_=shape, n_features_in_=n_features, n_iter_=n_iter, custom=custom,
                train_mean_=train_mean, loss_curve_=loss_curve, validation_scores_=validation, weights=weights)


def check_training_state(meta, tensors: dict, net: torch.nn.Module, n_iter: int, path) -> None:
    """The training state of a checkpoint against its own fields and the restored network (a ``ValueError``
    naming the field), so that a damaged checkpoint fails on load, not inside ``fit(warm_start=True)``."""
    try:
        if not isinstance(meta, dict):
            raise _Damaged(f"field 'training' must be a JSON object; got {type(meta).__name__}")
        step = _int(meta.get("step"), "training.step", 0)
        if step != n_iter:
            raise _Damaged(f"field 'training.step' is {step} but n_iter_ is {n_iter}")
        start = _int(meta.get("window_start"), "training.window_start", 0)
        if start > step:
            raise _Damaged(f"field 'training.window_start' ({start}) is after the step ({step})")
        world = _int(meta.get("world_size"), "training.world_size", 1)
        _int(meta.get("seed"), "training.seed", 0)
        _int(meta.get("n_val"), "training.n_val", 0)
        if not isinstance(meta.get("model"), dict) or not isinstance(meta.get("scaler"), (dict, type(None))):
            raise _Damaged("fields 'training.model' and 'training.scaler' must be JSON objects")
        params = list(net.parameters())
        groups = meta.get("param_groups")
        ids = [i for g in groups for i in g.get("params", [None])] if isinstance(groups, list) and all(
            isinstance(g, dict) for g in groups) else None
        if ids is None or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) or \
                sorted(ids) != list(range(len(params))):
            raise _Damaged(f"field 'training.param_groups' must list the network's {len(params)} parameters once")
        for key, t in tensors.items():
            if key.startswith("optimizer."):
                _, i, name = key.split(".", 2)
                if not i.isdigit() or int(i) >= len(params):
                    raise _Damaged(f"tensor 'state.{key}' names no parameter of the network")
                if name != "step" and t.shape != params[int(i)].shape:
                    raise _Damaged(f"tensor 'state.{key}' has shape {tuple(t.shape)}, its parameter "
                                   f"{tuple(params[int(i)].shape)}")
        for r in range(world):
            for kind in ("batch", "noise"):
                t = tensors.get(f"rng.{r}.{kind}")
                if t is None or t.dtype != torch.uint8 or t.dim() != 1:
                    raise _Damaged(f"tensor 'state.rng.{r}.{kind}' (a generator state of bytes) is missing or damaged")
        _vector(tensors, "loss_curve")
        _vector(tensors, "validation_scores")
        _vector(tensors, "window_sum", 1)
    except _Damaged as exc:
        raise ValueError(f"{os.fspath(path)!r} is a damaged gahb checkpoint: {exc}.") from None


def restore_estimator(cls, path, meta: dict, tensors: dict, device, architecture):
    """A fitted ``cls`` from the fields of a model file or checkpoint, each checked (``ValueError`` naming it)."""
    f = check_fields(meta, tensors, cls().get_params(), path)
    custom = f["custom"]
    if custom is not None and architecture is None:
        raise ValueError(f"{path!r} holds a model with the custom architecture {custom}; pass the same module: "
                         "DiffusionDenoiser.load(path, architecture=...).")
    if custom is None and architecture is not None:
        raise ValueError(f"{path!r} holds a model with a built-in architecture; architecture= is only for "
                         "models saved with a custom module.")
    params = dict(f["params"], device=str(device))
    if custom is not None:
        params["architecture"] = architecture
    if isinstance(params.get("image_shape"), list):
        params["image_shape"] = tuple(params["image_shape"])
    est = cls(**params)
    try:  # the same constraints as fit and sample (beta=7.5 in a file is as wrong as in the constructor)
        est._check_sampler_settings()
        if est.image_shape is not None and check_image_shape(est.image_shape) != f["image_shape_"]:
            raise ValueError(f"image_shape {est.image_shape} disagrees with image_shape_ {f['image_shape_']}")
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path!r} is a damaged gahb model file: field 'params': {exc}") from None
    est.image_shape_, est.n_features_in_, est.n_iter_ = f["image_shape_"], f["n_features_in_"], f["n_iter_"]
    est.device_ = resolve_device(device)
    est.train_mean_ = f["train_mean_"].double().numpy()
    est.loss_curve_ = f["loss_curve_"].tolist()
    try:
        est._restore_network(f["weights"])
        check_output_shape(est.network_, torch.zeros((1,) + est.image_shape_, device=est.device_))
    except (RuntimeError, ValueError) as exc:
        arch = est.architecture
        name = arch if isinstance(arch, str) else getattr(arch, "__name__", type(arch).__name__)
        raise ValueError(f"{path!r} is a damaged or incompatible gahb model file: its network weights do not "
                         f"fit a {name} network on images of shape {est.image_shape_}: "
                         f"{str(exc).splitlines()[0]}") from None
    val = f["validation_scores_"]
    est.validation_scores_ = None if val is None else val.tolist()
    if "training" in meta:  # a checkpoint: the state that fit(warm_start=True) continues from
        state = {k[len("state."):]: v for k, v in tensors.items() if k.startswith("state.")}
        check_training_state(meta["training"], state, est.network_, est.n_iter_, path)
        est._train_state = {"meta": meta["training"], "tensors": state}
    return est


def is_gahb_file(path) -> bool:
    """True when ``path`` is a safetensors file with gahb metadata (a model or a checkpoint)."""
    from safetensors import safe_open

    try:
        with safe_open(os.fspath(path), framework="pt") as f:
            return isinstance(json.loads((f.metadata() or {})["gahb"]), dict)
    except Exception:  # not safetensors, no gahb metadata, unreadable: not ours
        return False


def write_model_file(path, tensors: dict, meta: dict, overwrite: bool = False) -> None:
    """Write a model file atomically (:func:`gahb.core.checkpoint.write_atomic`: temporary file, then rename).

    File-system problems are ``OSError`` subclasses naming the path: ``FileNotFoundError`` (no such folder),
    ``IsADirectoryError``, ``PermissionError``, ``FileExistsError`` (a non-empty file that is not a gahb model
    and ``overwrite`` is False); a failed write leaves an existing file as it was.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(errno.ENOENT, "the folder of the model file does not exist", folder)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "a model file path names a folder", path)
    if not os.access(folder, os.W_OK):
        raise PermissionError(errno.EACCES, "the folder of the model file is not writable", folder)
    if os.path.exists(path) and os.path.getsize(path) and not overwrite and not is_gahb_file(path):
        raise FileExistsError(errno.EEXIST, "the file exists and is not a gahb model file; pass overwrite=True to "
                              "replace it", path)
    write_atomic(path, tensors, meta)
