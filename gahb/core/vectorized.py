"""Many denoisers of one architecture trained as one network (``torch.func`` stacking + ``vmap``).

Model ``m`` keeps everything its own fit would have (:func:`gahb.core.training.train_loop` in one process):
its initial weights, its training set, its batch indices from ``torch_generator(seed_m + 1)`` (CPU) and its
noise levels, optional rescaling factors and noise from ``torch_generator(seed_m + 2, device)``, drawn in the
same order, its own Adam state (Adam is elementwise, so one optimizer over the stacked parameters is M
independent ones) and its own batch-norm statistics. Only the forward and backward passes run jointly, which
changes float rounding, not the mathematics.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .batches import Batches
from .random import torch_generator
from .training import TrainConfig, _adam, _check_window, _noisy_batch, _set_learning_rate

__all__ = ["train_stacked"]


def train_stacked(nets: list[nn.Module], datasets: list[Batches], seeds: list[int], config: TrainConfig,
                  device) -> list[list[float]]:
    """Train ``nets`` (same architecture, already initialised, on ``device``) jointly, each on its own data.

    ``datasets[m]`` serves model ``m``'s training images (as in :func:`gahb.core.training.train_loop`). The trained weights and
    buffers are copied back into ``nets``. Returns each model's loss curve: the mean of the residual loss
    (the paper's eq. 4, as in :func:`gahb.core.training.train_loop`) over each window of
    ``config.log_every`` steps, read once per window, when a non-finite loss raises ``FloatingPointError``
    naming the model. Only ``precision="fp32"`` without channels-last or compilation is supported.

    See Also
    --------
    gahb.fit_vectorized : The estimator-level entry point (checks, split-out fitted estimators).
    gahb.core.training.train_loop : The loop of one model, whose draws this reproduces.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.batches import Batches
    >>> from gahb.core.nn import UNet, init_weights_
    >>> from gahb.core.training import TrainConfig
    >>> from gahb.core.random import torch_generator
    >>> nets = [init_weights_(UNet(1, 8, 1), torch_generator(s)) for s in (0, 1)]
    >>> data = [Batches(torch.rand(n, 1, 8, 8, generator=torch_generator(7)), "cpu") for n in (2, 30)]
    >>> curves = train_stacked(nets, data, [0, 1], TrainConfig(max_iter=6, batch_size=4, log_every=3), "cpu")
    >>> [len(c) for c in curves]
    [2, 2]
    """
    device = torch.device(device)
    params, buffers = stack_module_state(nets)  # leaves of shape (M, ...), requires_grad
    skeleton = copy.deepcopy(nets[0]).train()

    def residual(p, b, y):
        return functional_call(skeleton, (p, b), (y,))

    forward = vmap(residual)
    optimizer = _adam(list(params.values()), config, device)  # the optimizer of a single fit
    g_batch = [torch_generator(s + 1) for s in seeds]
    g_noise = [torch_generator(s + 2, device) for s in seeds]
    b = config.batch_size
    window = torch.zeros(len(nets), device=device)
    curves, start = [[] for _ in nets], 0
    for step in range(config.max_iter):
        _set_learning_rate(optimizer, step, config)
        x, noise = map(torch.stack, zip(*(_noisy_batch(data, b, config, gb, gn, device)
                                         for data, gb, gn in zip(datasets, g_batch, g_noise))))
        loss = ((forward(params, buffers, x + noise) - noise) ** 2).flatten(1).sum(1) / b
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()
        window.add_(loss.detach())
        if (step + 1) % config.log_every == 0 or step + 1 == config.max_iter:
            for m, total in enumerate(window.tolist()):
                mean = total / (step + 1 - start)
                _check_window(mean, start + 1, step + 1, whose=f" of model {m}")
                curves[m].append(mean)
            window.zero_()
            start = step + 1
    with torch.no_grad():
        for m, net in enumerate(nets):
            net.load_state_dict({k: v[m] for k, v in {**params, **buffers}.items()})
    return curves
