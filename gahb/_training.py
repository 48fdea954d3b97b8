"""``DiffusionDenoiser.fit``: input checks, held-out split, warm start and checkpoints around the core loop.

Everything the user gave is checked here before any training; the loop itself (``gahb.core.training``)
assumes valid input.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import validate_data

from gahb._checks import ensure_writable_folder, resolve_image_shape, resolve_seed
from gahb._networks import check_architecture, warn_if_not_bias_free
from gahb._utils import image_rows, resolve_device
from gahb.core import checkpoint as ckpt
from gahb.core.batches import Batches, host_images
from gahb.core.distributed import World, rank_seeds
from gahb.core.random import torch_generator
from gahb.core.training import TrainConfig, heldout_loss, new_state, prepare_model, train_loop
from gahb.exceptions import TrainingInterruptedWarning

__all__ = ["fit_denoiser"]

# parameters that define the network: a warm start or a resumed checkpoint must not change them
_ARCHITECTURE = ("architecture", "width", "n_blocks", "n_layers")


def _model_id(v):
    """A JSON-ready name of a parameter that defines the network (a custom module: its class)."""
    if isinstance(v, torch.nn.Module) or isinstance(v, type):
        cls = v if isinstance(v, type) else type(v)
        return f"{cls.__module__}.{cls.__qualname__}"
    return v.item() if isinstance(v, np.generic) else v


def training_rows(est, X, reset: bool = True):
    """``(rows, image_shape)`` of training images given as rows or image-shaped arrays, checked as ``fit`` does."""
    X, array_shape = image_rows(X, est.image_shape)
    X = validate_data(est, X, dtype=[np.float64, np.float32], reset=reset)
    return X, array_shape or resolve_image_shape(est.image_shape, X.shape[1])


def train_config(est) -> TrainConfig:
    """The torch core's training settings from the estimator's parameters."""
    return TrainConfig(
        max_iter=est.max_iter, batch_size=est.batch_size, learning_rate=est.learning_rate,
        lr_schedule=est.lr_schedule, sigma_max=est.sigma_max, noise_distribution=est.noise_distribution,
        rescale=getattr(est, "rescale", None), precision=est.precision, log_every=est.log_every,
        checkpoint_every=est.checkpoint_every, channels_last=est.channels_last, compile=est.compile,
    )


def fit_denoiser(est, X, X_val=None):
    """Check everything, then train ``est`` (a DiffusionDenoiser whose parameters are validated)."""
    warm = bool(est.warm_start) and hasattr(est, "network_")
    X, image_shape = training_rows(est, X, reset=not warm)
    world = World()
    device = _training_device(est.device, world)
    est._check_sigma_order()
    check_architecture(est.architecture)
    if X_val is not None:
        if est.validation_fraction is not None:
            raise ValueError("pass either validation_fraction or X_val, not both.")
        X_val, _ = image_rows(X_val, image_shape)
        X_val = validate_data(est, X_val, dtype=[np.float64, np.float32], reset=False)
    if warm:
        seed = _check_warm_start(est, image_shape)
    else:
        seed = resolve_seed(est.random_state)
    n_val = 0 if est.validation_fraction is None else int(np.ceil(est.validation_fraction * X.shape[0]))
    if n_val and n_val >= X.shape[0]:
        raise ValueError(f"validation_fraction={est.validation_fraction} leaves no training image of {X.shape[0]}.")
    _check_checkpoint_dir(est, warm, world)
    if warm and est.n_iter_ == est.max_iter:
        return est  # nothing left to do

    config = train_config(est)
    train_rows, val_rows = _split(X.shape[0], n_val, seed)
    images = host_images(X, image_shape)
    data = Batches(images, device, train_rows)  # on the device when it fits, else streamed (the held-out set too)
    heldout = None
    if X_val is not None or n_val:
        val = Batches(host_images(X_val, image_shape), device) if X_val is not None else Batches(images, device, val_rows)
        heldout = lambda: heldout_loss(est.network_, val, config, torch_generator(seed + 4, device))

    est.image_shape_, est.device_ = image_shape, device
    est.train_mean_ = _mean_rows(X, train_rows)
    probe = None
    if not warm:
        probe = est._init_network(seed)  # a custom module's bias-free check input, or None
        est.loss_curve_, est.n_iter_ = [], 0
    else:
        est.network_.to(device)
    net = est.network_
    s_batch, s_noise = rank_seeds(seed, world.rank)
    state = new_state(net, config, torch_generator(s_batch), torch_generator(s_noise, device), device)
    if warm:
        st = est._train_state
        if not ckpt.unpack_state(st["tensors"], st["meta"], state, world):
            s_batch, s_noise = rank_seeds(seed, world.rank, state.step)
            state.g_batch, state.g_noise = torch_generator(s_batch), torch_generator(s_noise, device)
            warnings.warn(f"the training state was written by {st['meta'].get('world_size')} processes and is "
                          f"resumed by {world.size}: new random streams from step {state.step} on.",
                          RuntimeWarning, stacklevel=3)
    est._train_meta = {"seed": seed, "n_val": n_val, "explicit_val": X_val is not None,
                       "model": {k: _model_id(getattr(est, k)) for k in _ARCHITECTURE}}
    est.validation_scores_ = state.validation_scores if heldout is not None else None

    def sync(state):  # the estimator's attributes follow the state at every log and checkpoint
        est.n_iter_, est.loss_curve_ = state.step, list(state.loss_curve)
        if heldout is not None:
            est.validation_scores_ = list(state.validation_scores)

    def checkpoint(state):
        sync(state)
        write_checkpoint(est, state, world)

    bar = _progress(est, config, world, state.step)
    on_log = sync
    if bar is not None:
        def on_log(state):
            sync(state)
            bar.set_postfix(loss=f"{state.loss_curve[-1]:.4g}", img_s=f"{state.images_per_second:,.0f}")

    model = prepare_model(net, config, world, device)
    stopped = False
    try:
        stopped = train_loop(model, net, data, config, state, world=world, heldout=heldout,
                             on_step=None if bar is None else (lambda step: bar.update(1)), on_log=on_log,
                             on_checkpoint=checkpoint if est.checkpoint_dir is not None else None)
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the main thread: stop at once, no checkpoint
        stopped = True
        if state.step == 0:
            raise
    finally:
        if bar is not None:
            bar.close()
        if config.channels_last:
            net.to(memory_format=torch.contiguous_format)
        world.sync_buffers(net)
        net.eval()
    sync(state)
    est._train_state = _packed(state, world, est)
    if probe is not None:  # a bias initialised to zero only shows after training
        warn_if_not_bias_free(net, probe, "after training")
    if stopped:
        where = f"; checkpoint in {est.checkpoint_dir}" if est.checkpoint_dir is not None else ""
        warnings.warn(f"training interrupted after {est.n_iter_} of {est.max_iter} steps; the model is usable{where}.",
                      TrainingInterruptedWarning, stacklevel=3)
    return est


def write_checkpoint(est, state, world: World) -> None:
    """Checkpoint of ``est`` at ``state.step`` into ``est.checkpoint_dir`` (collective; rank 0 writes)."""
    packed = _packed(state, world, est)
    if world.rank != 0:
        return
    tensors, meta = est._payload()
    tensors.update({f"state.{k}": v for k, v in packed["tensors"].items()})
    meta["training"] = packed["meta"]
    ckpt.write_atomic(ckpt.checkpoint_path(est.checkpoint_dir, state.step), tensors, meta)
    ckpt.prune(est.checkpoint_dir)


def _packed(state, world, est) -> dict:
    tensors, meta = ckpt.pack_state(state, world)
    meta.update(est._train_meta)
    return {"tensors": tensors, "meta": meta}


def _training_device(device, world: World) -> torch.device:
    dev = resolve_device(device)
    if world.active and dev.type == "cuda" and dev.index is None:  # one GPU per process, as torchrun numbers them
        local = int(os.environ.get("LOCAL_RANK", world.rank % torch.cuda.device_count()))
        dev = torch.device("cuda", local)
    if world.active and dev.type == "cuda":
        torch.cuda.set_device(dev)  # NCCL collectives of Python objects use the current device
    return dev


def _check_warm_start(est, image_shape) -> int:
    """The seed of the run being continued; ValueError if it cannot be continued with these parameters."""
    state = getattr(est, "_train_state", None)
    if state is None:
        raise ValueError("warm_start=True needs a training state: fit this estimator first or load a checkpoint "
                         "(a file written by save() holds the weights only).")
    trained = state["meta"].get("model", {})
    changed = [f"{k} {trained[k]!r} -> {_model_id(getattr(est, k))!r}" for k in _ARCHITECTURE
               if k in trained and trained[k] != _model_id(getattr(est, k))]
    if tuple(image_shape) != tuple(est.image_shape_):
        changed.append(f"image shape {tuple(est.image_shape_)} -> {tuple(image_shape)}")
    if changed:
        raise ValueError("warm_start=True cannot continue a different model: " + "; ".join(changed) + ".")
    if est.max_iter < est.n_iter_:
        raise ValueError(f"max_iter={est.max_iter} is below the {est.n_iter_} steps already taken (warm_start=True "
                         "continues to max_iter steps in total).")
    return int(state["meta"]["seed"])


def _check_checkpoint_dir(est, warm: bool, world: World) -> None:
    if est.checkpoint_dir is None:
        return
    d = Path(est.checkpoint_dir)
    if d.exists() and not d.is_dir():
        raise ValueError(f"checkpoint_dir {os.fspath(d)!r} is a file, not a folder.")
    found = ckpt.find_checkpoints(d)
    if found and not warm:
        raise ValueError(f"checkpoint_dir {os.fspath(d)!r} already holds checkpoints (newest: {found[-1].name}); "
                         "load it and fit with warm_start=True to continue, or choose an empty folder.")
    if world.rank != 0:  # rank 0 writes the checkpoints
        return
    try:
        ensure_writable_folder(d)
    except OSError as exc:
        raise ValueError(f"checkpoint_dir {os.fspath(d)!r} is not writable: {exc.strerror or exc}.") from None


def _split(n: int, n_val: int, seed: int):
    """(training rows, held-out rows) as CPU index tensors; (None, None) without a held-out share."""
    if not n_val:
        return None, None
    perm = np.random.default_rng(seed + 3).permutation(n)
    return torch.from_numpy(np.sort(perm[n_val:])), torch.from_numpy(np.sort(perm[:n_val]))


def _mean_rows(X, rows, chunk: int = 8192) -> np.ndarray:
    """Mean of the rows ``rows`` (all when None) as float64; a subset is read a chunk at a time (X may be a
    memory map)."""
    if rows is None:
        return np.asarray(X.mean(axis=0), dtype=np.float64)
    idx = rows.numpy()
    total = np.zeros(X.shape[1], dtype=np.float64)
    for a in range(0, idx.size, chunk):
        total += np.asarray(X[idx[a : a + chunk]], dtype=np.float64).sum(axis=0)
    return total / idx.size


def _progress(est, config, world: World, start: int):
    if not est.verbose or world.rank != 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=config.max_iter, initial=start, desc="training denoiser", unit="step", leave=False)
