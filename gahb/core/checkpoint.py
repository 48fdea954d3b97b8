"""Training state as safetensors + JSON (never a pickle), written atomically.

A state holds the optimizer's tensors and settings, the gradient scaler, the step, the loss curves, the
loss summed since the last log and every process's generator states (torch generator states are byte
tensors, stored as tensors). Files are written to a temporary name in the same folder and renamed, so a
crash or a failing disk leaves the previous checkpoint intact.
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import torch

from gahb._files import replacing

from .distributed import World
from .training import TrainState

__all__ = ["pack_state", "unpack_state", "write_atomic", "read", "checkpoint_path", "find_checkpoints", "prune"]

_NAME = re.compile(r"^checkpoint-(\d+)\.safetensors$")


def pack_state(state: TrainState, world: World) -> tuple[dict, dict]:
    """``(tensors, meta)`` of a training state: CPU tensors and JSON-ready settings (collective under DDP)."""
    tensors, meta = {}, {}
    sd = state.optimizer.state_dict()
    for i, s in sd["state"].items():
        for k, v in s.items():
            tensors[f"optimizer.{i}.{k}"] = torch.as_tensor(v).detach().cpu().contiguous()
    meta["param_groups"] = sd["param_groups"]
    meta["scaler"] = None if state.scaler is None else state.scaler.state_dict()
    for r, g in enumerate(world.gather_bytes(state.g_batch.get_state())):
        tensors[f"rng.{r}.batch"] = g
    for r, g in enumerate(world.gather_bytes(state.g_noise.get_state())):
        tensors[f"rng.{r}.noise"] = g
    tensors["loss_curve"] = torch.tensor(state.loss_curve, dtype=torch.float64)
    tensors["validation_scores"] = torch.tensor(state.validation_scores, dtype=torch.float64)
    tensors["window_sum"] = state.window_sum.detach().cpu().reshape(1)
    meta.update(step=state.step, window_start=state.window_start, world_size=world.size)
    return tensors, meta


def unpack_state(tensors: dict, meta: dict, state: TrainState, world: World) -> bool:
    """Restore a packed state into ``state`` (built fresh for the same network). Returns False when the
    checkpoint was written by a different number of processes: the generators then keep their fresh seeds."""
    per_param: dict[int, dict] = {}
    for key, v in tensors.items():
        if key.startswith("optimizer."):
            _, i, k = key.split(".", 2)
            per_param.setdefault(int(i), {})[k] = v
    # the implementation flags (fused, foreach, ...) are this machine's, not the writer's
    own = state.optimizer.param_groups
    groups = [{**g, **{k: own[j][k] for k in ("fused", "foreach", "capturable") if k in own[j]}}
              for j, g in enumerate(meta["param_groups"])]
    state.optimizer.load_state_dict({"state": per_param, "param_groups": groups})
    if state.scaler is not None and meta.get("scaler"):
        state.scaler.load_state_dict(meta["scaler"])
    same_world = int(meta.get("world_size", 1)) == world.size
    if same_world:
        state.g_batch.set_state(tensors[f"rng.{world.rank}.batch"])
        state.g_noise.set_state(tensors[f"rng.{world.rank}.noise"])
    state.step = int(meta["step"])
    state.window_start = int(meta["window_start"])
    state.loss_curve = tensors["loss_curve"].tolist()
    state.validation_scores = tensors["validation_scores"].tolist()
    state.window_sum = tensors["window_sum"].reshape(()).to(state.window_sum.device, state.window_sum.dtype)
    return same_world


def write_atomic(path, tensors: dict, metadata: dict) -> Path:
    """Write a safetensors file with JSON ``metadata`` (under key "gahb") via a temporary file and a rename.

    A failed write (a full disk) is an ``OSError`` naming ``path``, whatever safetensors raised, and leaves an
    existing file at ``path`` as it was.
    """
    from safetensors.torch import save_file

    path = Path(path)
    with replacing(path) as tmp:
        try:
            save_file(tensors, tmp, metadata={"gahb": json.dumps(metadata)})
        except Exception as exc:  # safetensors reports I/O failures as its own error type
            raise OSError(errno.EIO, f"writing failed ({exc})", os.fspath(path)) from exc
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
    return path


def read(path) -> tuple[str, dict, dict]:
    """``(path, metadata, tensors)`` of a file written by :func:`write_atomic` (or a model file); a folder
    means its newest checkpoint. ValueError for a missing, empty or malformed one."""
    from safetensors import safe_open

    path = os.fspath(path)
    if os.path.isdir(path):
        found = find_checkpoints(path)
        if not found:
            raise ValueError(f"no checkpoint in folder {path!r}")
        path = os.fspath(found[-1])
    if not os.path.isfile(path):
        raise ValueError(f"no such model file: {path!r}")
    try:
        with safe_open(path, framework="pt") as f:
            meta = json.loads((f.metadata() or {})["gahb"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for malformed headers
        raise ValueError(f"{path!r} is not a gahb model file (safetensors with gahb metadata): {exc}") from exc
    return path, meta, tensors


def checkpoint_path(directory, step: int) -> Path:
    return Path(directory) / f"checkpoint-{step:09d}.safetensors"


def find_checkpoints(directory) -> list[Path]:
    """Checkpoint files of ``directory``, oldest step first (empty if the folder does not exist)."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def prune(directory, keep: int = 2) -> None:
    """Delete all but the newest ``keep`` checkpoints (the newest one and the one before, in case of trouble)."""
    for p in find_checkpoints(directory)[:-keep]:
        p.unlink(missing_ok=True)
