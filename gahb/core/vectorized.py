"""Many denoisers of one architecture trained as one network (``torch.func`` stacking + ``vmap``).

Model ``m`` keeps everything its own fit would have: its initial weights, its training set, its batch
indices from ``torch_generator(seed_m + 1)`` (CPU) and its noise levels and noise from
``torch_generator(seed_m + 2, device)``, drawn in the order of a single fit, and its own Adam state
(Adam is elementwise, so one optimizer over the stacked parameters is M independent ones). Only the
forward and backward passes run jointly, which changes float rounding, not the mathematics.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .random import torch_generator
from .training import lr_factor, sample_sigma

__all__ = ["train_stacked"]


def train_stacked(
    nets: list[nn.Module],
    datasets: list[torch.Tensor],
    seeds: list[int],
    *,
    max_iter: int,
    batch_size: int,
    learning_rate: float,
    lr_schedule: str,
    sigma_max: float,
    noise_distribution: str,
    device,
) -> torch.Tensor:
    """Train ``nets`` (same architecture, already initialised, on ``device``) jointly, each on its own data.

    The trained weights and buffers are copied back into ``nets``. Returns the loss of every model at
    every step, shape ``(max_iter, M)``, on the CPU (the residual loss of the paper's eq. 4, as in
    :func:`gahb.core.training.train_step`).

    See Also
    --------
    gahb.fit_vectorized : The estimator-level entry point (checks, split-out fitted estimators).
    gahb.core.training.train_step : One step of one model.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.nn import UNet, init_weights_
    >>> from gahb.core.random import torch_generator
    >>> nets = [init_weights_(UNet(1, 8, 1), torch_generator(s)) for s in (0, 1)]
    >>> data = [torch.rand(n, 1, 8, 8, generator=torch_generator(7)) for n in (2, 30)]
    >>> losses = train_stacked(nets, data, [0, 1], max_iter=5, batch_size=4, learning_rate=1e-3,
    ...                        lr_schedule="cosine", sigma_max=1.0, noise_distribution="quadratic", device="cpu")
    >>> losses.shape
    torch.Size([5, 2])
    """
    device = torch.device(device)
    params, buffers = stack_module_state(nets)  # leaves of shape (M, ...), requires_grad
    skeleton = copy.deepcopy(nets[0]).train()

    def residual(p, b, y):
        return functional_call(skeleton, (p, b), (y,))

    forward = vmap(residual)
    optimizer = torch.optim.Adam(list(params.values()), lr=learning_rate)
    g_batch = [torch_generator(s + 1) for s in seeds]
    g_noise = [torch_generator(s + 2, device) for s in seeds]
    losses = torch.empty(max_iter, len(nets), device=device)
    for step in range(max_iter):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate * lr_factor(step, max_iter, lr_schedule)
        xs, noises = [], []
        for data, gb, gn in zip(datasets, g_batch, g_noise):
            idx = torch.randint(data.shape[0], (batch_size,), generator=gb).to(device)
            sigma = sample_sigma(batch_size, sigma_max, noise_distribution, gn, device)
            x = data[idx]
            noise = torch.randn(x.shape, generator=gn, device=device, dtype=x.dtype) * sigma.view(-1, 1, 1, 1)
            xs.append(x)
            noises.append(noise)
        x, noise = torch.stack(xs), torch.stack(noises)
        loss = ((forward(params, buffers, x + noise) - noise) ** 2).flatten(1).sum(1) / batch_size
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        optimizer.step()
        losses[step] = loss.detach()
    with torch.no_grad():
        for m, net in enumerate(nets):
            state = {k: v[m] for k, v in {**params, **buffers}.items()}
            net.load_state_dict(state)
    return losses.cpu()
