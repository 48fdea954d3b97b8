"""Torch core of denoiser training: noise levels, learning-rate schedules and the training loop.

The loop never reads a device tensor back to the host inside a step: the loss is summed on the device and
read once every ``log_every`` steps (the NaN check happens then). Mixed precision uses autocast (bf16) or
autocast with gradient scaling (fp16); the weights and the optimizer stay in float32.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .batches import Batches
from .distributed import World

__all__ = ["sample_sigma", "lr_factor", "TrainConfig", "TrainState", "new_state", "prepare_model", "train_loop",
           "heldout_loss", "autocast"]

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def sample_sigma(n: int, sigma_max: float, distribution: str, generator: torch.Generator, device) -> torch.Tensor:
    """Per-image noise levels: ``quadratic`` σ = σ_max·u² (the authors' code; the paper says only "σ in [0, 1]")
    or ``uniform`` σ = σ_max·u.

    See Also
    --------
    train_loop : Adds noise of these levels.

    Examples
    --------
    >>> import torch
    >>> sample_sigma(3, 1.0, "quadratic", torch.Generator().manual_seed(0), "cpu")
    tensor([0.2463, 0.5902, 0.0078])
    """
    u = torch.rand(n, generator=generator, device=device)
    return sigma_max * (u * u if distribution == "quadratic" else u)


def lr_factor(step: int, max_iter: int, schedule: str) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based).

    ``halving``: halved at 10 %, 20 %, …, 90 % of training (the paper's epochs 100, 200, …, 900 of 1000);
    ``cosine``: cosine decay to 0; ``constant``: 1.

    See Also
    --------
    train_loop : The loop whose learning rate this scales.

    Examples
    --------
    >>> [lr_factor(t, 100, "halving") for t in (0, 10, 25, 99)]
    [1.0, 0.5, 0.25, 0.001953125]
    >>> lr_factor(50, 100, "cosine")
    0.5
    """
    if schedule == "halving":
        return 0.5 ** min(9, (10 * step) // max(max_iter, 1))
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * step / max(max_iter, 1)))
    return 1.0


def autocast(device: torch.device, precision: str):
    """Autocast context for ``precision`` ("fp32" disables it): weights stay float32, convolutions run in bf16/fp16.

    See Also
    --------
    train_loop : Runs the network under this context.

    Examples
    --------
    >>> import torch
    >>> with autocast(torch.device("cpu"), "bf16"):
    ...     y = torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3))
    >>> y.dtype
    torch.bfloat16
    """
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


@dataclass
class TrainConfig:
    """Settings of one training run (already validated by the estimator).

    See Also
    --------
    train_loop : The loop these settings drive.

    Examples
    --------
    >>> TrainConfig(max_iter=100, batch_size=64, precision="bf16").log_every
    50
    """

    max_iter: int
    batch_size: int  # global batch: all processes together
    learning_rate: float = 1e-3
    lr_schedule: str = "halving"
    sigma_max: float = 1.0
    noise_distribution: str = "quadratic"
    rescale: str | None = None
    precision: str = "fp32"
    log_every: int = 50
    checkpoint_every: int | None = None
    channels_last: bool = False
    compile: bool | str = False


@dataclass
class TrainState:
    """Everything a run needs to continue exactly where it stopped, besides the weights.

    See Also
    --------
    new_state : A fresh state.
    gahb.core.checkpoint.pack_state : The state as tensors and JSON.

    Examples
    --------
    See :func:`new_state`.

    >>> TrainState.__dataclass_fields__["step"].default
    0
    """

    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None
    g_batch: torch.Generator  # CPU: batch indices are identical on every device
    g_noise: torch.Generator  # on the training device
    step: int = 0
    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    window_sum: torch.Tensor | None = None  # loss summed on the device since the last log
    window_start: int = 0
    images_per_second: float = float("nan")


def new_state(net: nn.Module, config: TrainConfig, g_batch, g_noise, device: torch.device) -> TrainState:
    """A fresh state: Adam (the paper's optimizer, default betas) and, for fp16, a gradient scaler.

    See Also
    --------
    train_loop : Advances the state.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.nn import UNet
    >>> cfg = TrainConfig(max_iter=3, batch_size=4, precision="fp16")
    >>> state = new_state(UNet(width=4, n_blocks=1), cfg, torch.Generator(), torch.Generator(), torch.device("cpu"))
    >>> type(state.optimizer).__name__, state.scaler is not None, state.step
    ('Adam', True, 0)
    """
    optimizer = _adam(net.parameters(), config, device)
    scaler = torch.amp.GradScaler(device.type) if config.precision == "fp16" else None
    return TrainState(optimizer, scaler, g_batch, g_noise, window_sum=torch.zeros((), device=device))


def _adam(params, config: TrainConfig, device: torch.device) -> torch.optim.Adam:
    """The paper's optimizer, Adam with default betas; fused on CUDA (its fast path), on the CPU the default
    (foreach), which keeps the weights of earlier releases bitwise."""
    return torch.optim.Adam(params, lr=config.learning_rate, fused=device.type == "cuda" or None)


def _set_learning_rate(optimizer: torch.optim.Optimizer, step: int, config: TrainConfig) -> None:
    """The schedule's rate of 0-based ``step`` on every parameter group."""
    for group in optimizer.param_groups:
        group["lr"] = config.learning_rate * lr_factor(step, config.max_iter, config.lr_schedule)


def _noisy_batch(data: Batches, n: int, config: TrainConfig, g_batch, g_noise, device) -> tuple:
    """``n`` clean training images and their noise z = sigma * N(0, I) (eq. 1 of the residual loss).

    The order of the draws (indices from ``g_batch``; sigma, the rescaling factor and z from ``g_noise``) is the
    random-stream contract that resumed, distributed and vectorized fits all reproduce."""
    x = data.get(torch.randint(data.n, (n,), generator=g_batch))
    sigma = sample_sigma(n, config.sigma_max, config.noise_distribution, g_noise, device)
    if config.rescale == "uniform":  # positive intensity rescaling of the clean images (Fig. 19)
        x = torch.rand(n, generator=g_noise, device=device)[:, None, None, None] * x
    return x, torch.randn(x.shape, generator=g_noise, device=device, dtype=x.dtype) * sigma.view(-1, 1, 1, 1)


def _check_window(mean: float, first: int, last: int, whose: str = "", hint: str = "") -> None:
    """A non-finite window mean stops training with the steps named (read once per window, never per step)."""
    if not math.isfinite(mean):
        raise FloatingPointError(f"training loss{whose} became {mean} in steps {first}-{last}; lower learning_rate"
                                 f"{hint} or check {'its ' if whose else ''}X.")


class _StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM (torchrun's and batch schedulers' stop) becomes a flag read between steps,
    so a step is never cut in half; a second signal raises KeyboardInterrupt at once. Off the main thread
    (joblib workers) signals cannot be caught and a KeyboardInterrupt stops training instead."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = None
        self.honoured = False
        self._previous = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, exc_type, exc, tb):
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        if self.requested and not self.honoured and exc_type is None:
            # it came after the last step's check (during its log or progress bar): training is complete, and the
            # signal goes to whoever handled it before, as if it had arrived now, instead of being lost
            signal.raise_signal(self.signum)
        return False


@torch.no_grad()
def heldout_loss(net: nn.Module, data: Batches, config: TrainConfig, generator: torch.Generator,
                 chunk: int = 256) -> torch.Tensor:
    """Mean residual loss of ``net`` (eval mode) on held-out images, with noise drawn from a freshly seeded
    ``generator`` so every evaluation sees the same noise; stays on the device (read it at log time).

    See Also
    --------
    train_loop : Calls it at every log.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.batches import Batches
    >>> from gahb.core.nn import UNet
    >>> val = Batches(torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(0)), "cpu")
    >>> cfg = TrainConfig(max_iter=1, batch_size=1)
    >>> bool(heldout_loss(UNet(width=4, n_blocks=1), val, cfg, torch.Generator().manual_seed(4)) > 0)
    True
    """
    device = generator.device
    total = torch.zeros((), device=device)
    was_training = net.training
    net.eval()
    try:
        for start in range(0, data.n, chunk):
            x = data.get(torch.arange(start, min(start + chunk, data.n)))
            sigma = sample_sigma(x.shape[0], config.sigma_max, config.noise_distribution, generator, device)
            noise = torch.randn(x.shape, generator=generator, device=device, dtype=x.dtype) * sigma.view(-1, 1, 1, 1)
            with autocast(device, config.precision):
                out = net(x + noise)
            total += ((out.float() - noise) ** 2).sum()
    finally:
        net.train(was_training)
    return total / data.n


def prepare_model(net: nn.Module, config: TrainConfig, world: World, device: torch.device) -> nn.Module:
    """The module the loop calls: ``net`` in channels-last layout, wrapped in DDP under a process group, compiled.

    See Also
    --------
    train_loop : Calls the returned module.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.distributed import World
    >>> from gahb.core.nn import UNet
    >>> cfg = TrainConfig(max_iter=1, batch_size=1)
    >>> type(prepare_model(UNet(width=4, n_blocks=1), cfg, World(), torch.device("cpu"))).__name__
    'UNet'
    """
    if config.channels_last:
        net.to(memory_format=torch.channels_last)  # before DDP, which keeps views of the parameters
    model = world.wrap(net, device)
    if config.compile:
        model = torch.compile(model, **({} if config.compile is True else {"backend": config.compile}))
    return model


def train_loop(
    model: nn.Module,
    net: nn.Module,
    data: Batches,
    config: TrainConfig,
    state: TrainState,
    *,
    world: World | None = None,
    heldout: Callable[[], torch.Tensor] | None = None,
    on_step: Callable[[int], None] | None = None,
    on_log: Callable[[TrainState], None] | None = None,
    on_checkpoint: Callable[[TrainState], None] | None = None,
) -> bool:
    """Train from ``state.step`` to ``config.max_iter`` with the residual form of the paper's loss (Section 2.1, eq. 4):
    ‖net(x + σz) − σz‖² summed over pixels, averaged over the global batch. Returns True if Ctrl-C stopped it.

    ``model`` is ``net`` as :func:`prepare_model` returns it. Each step draws, in this order: batch indices
    from ``state.g_batch`` (CPU), σ, the optional rescaling factors and z from ``state.g_noise``. Under a
    process group each process draws its own share of the global batch from its own generators and DDP
    averages the gradients. ``heldout()`` returns a device scalar (the held-out loss), evaluated at each log.

    See Also
    --------
    new_state : The state it starts from.
    prepare_model : The module it calls.
    gahb.DiffusionDenoiser.fit : Checks the input and runs this loop.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.batches import Batches
    >>> from gahb.core.distributed import World
    >>> from gahb.core.nn import UNet
    >>> cpu = torch.device("cpu")
    >>> net, cfg = UNet(width=4, n_blocks=1), TrainConfig(max_iter=10, batch_size=4, log_every=5)
    >>> data = Batches(torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0)), cpu)
    >>> state = new_state(net, cfg, torch.Generator().manual_seed(1), torch.Generator().manual_seed(2), cpu)
    >>> train_loop(prepare_model(net, cfg, World(), cpu), net, data, cfg, state)
    False
    >>> state.step, len(state.loss_curve)
    (10, 2)
    """
    world = world or World()
    device = state.window_sum.device
    local_batch = world.share(config.batch_size)
    divisor = config.batch_size / world.size  # DDP averages over processes: this makes it the global mean
    optimizer, scaler = state.optimizer, state.scaler
    model.train()
    t_log = time.perf_counter()
    with _StopRequest() as stop:
        for step in range(state.step, config.max_iter):
            _set_learning_rate(optimizer, step, config)
            x, noise = _noisy_batch(data, local_batch, config, state.g_batch, state.g_noise, device)
            y = x + noise
            if config.channels_last:
                y = y.contiguous(memory_format=torch.channels_last)
            with autocast(device, config.precision):
                out = model(y)
            loss = ((out.float() - noise) ** 2).sum() / divisor
            optimizer.zero_grad(set_to_none=True)
            if scaler is None:
                loss.backward()
                optimizer.step()
            else:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            state.window_sum.add_(loss.detach())
            state.step = step + 1
            if on_step is not None:
                on_step(state.step)
            at_log = state.step % config.log_every == 0 or state.step == config.max_iter
            # a stop leaves the window open (its sum goes into the checkpoint), so a resumed run logs exactly
            # the windows of an uninterrupted one; under DDP the processes agree on a stop at a log
            stop_now = stop.requested and world.size == 1
            if at_log:
                stop_now = _log(net, state, world, stop.requested, heldout, config.batch_size, t_log)
                t_log = time.perf_counter()
                if on_log is not None:
                    on_log(state)
            if on_checkpoint is not None and (stop_now or (config.checkpoint_every
                                                           and state.step % config.checkpoint_every == 0)):
                on_checkpoint(state)
            if stop_now:
                stop.honoured = True
                return True
    if on_checkpoint is not None and not (config.checkpoint_every and state.step % config.checkpoint_every == 0):
        on_checkpoint(state)  # the finished run is always on disk
    return False


def _log(net, state: TrainState, world: World, stop: bool, heldout, batch_size: int, t_last: float) -> bool:
    """Read the window's summed loss once, check it, append the window mean (and the held-out loss)."""
    total, stop = world.reduce_window(state.window_sum, stop)
    n_steps = state.step - state.window_start
    mean = total / max(n_steps, 1)
    _check_window(mean, state.window_start + 1, state.step, hint=", use precision='fp32'")
    state.loss_curve.append(mean)
    state.window_sum.zero_()
    world.sync_buffers(net)  # held-out loss and checkpoints see rank 0's running statistics on every rank
    if heldout is not None:
        state.validation_scores.append(float(heldout().item()))
    elapsed = time.perf_counter() - t_last
    state.images_per_second = n_steps * batch_size / elapsed if elapsed > 0 else float("nan")
    state.window_start = state.step
    return stop
