"""Compute cost of a network: floating-point operations of one forward pass and of one training step, the
memory a training step holds, and a measured step time (for time estimates).

Convolutions dominate gahb's networks (bias-free BN, ReLU and pooling add one or two operations per activation,
under 1 % of the total), so the count covers ``Conv2d`` and ``ConvTranspose2d`` exactly and ignores the rest.
One multiply-add counts as two operations.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["forward_flops", "training_flops", "training_memory", "step_seconds"]


def _conv_flops(module: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    k = module.weight.shape[2] * module.weight.shape[3]
    c_in, c_out, g = module.in_channels, module.out_channels, module.groups
    if isinstance(module, nn.ConvTranspose2d):  # every input pixel scatters a k x k patch into every output channel
        return 2 * (c_in // g) * c_out * k * inp[0, 0].numel() * inp.shape[0]
    return 2 * (c_in // g) * c_out * k * out[0, 0].numel() * out.shape[0]


@torch.no_grad()
def forward_flops(net: nn.Module, image_shape) -> int:
    """Operations of one forward pass of ``net`` on one image of shape ``(C, H, W)`` (convolutions only).

    Runs the network once on a zero image (on the network's device, in eval mode, then restores its mode) and
    adds up each convolution's multiply-adds times two.

    See Also
    --------
    training_flops : One training step.
    gahb.core.nn.count_parameters : The network's size.

    Examples
    --------
    >>> from gahb.core.nn import UNet
    >>> forward_flops(UNet(), (1, 80, 80)) / 1e9  # the paper's UNet on one 80 x 80 image: 6.70 GFLOP
    6.6994176
    """
    total = [0]

    def hook(module, inputs, output):
        total[0] += _conv_flops(module, inputs[0], output)

    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    handles = [m.register_forward_hook(hook) for m in convs]
    p = next(net.parameters(), None)
    x = torch.zeros((1, *tuple(image_shape)), device=p.device if p is not None else "cpu",
                    dtype=p.dtype if p is not None else torch.float32)
    was_training = net.training
    try:
        net.eval()
        net(x)
    finally:
        net.train(was_training)
        for h in handles:
            h.remove()
    return int(total[0])


def training_flops(net: nn.Module, image_shape, batch_size: int) -> int:
    """Operations of one training step on ``batch_size`` images: forward plus backward, about 3x the forward.

    The backward pass computes gradients for both the activations and the weights of each convolution, two
    products of the forward's size (the first layer's input gradient, not needed, is counted: < 1 % at width 64).

    See Also
    --------
    forward_flops : One forward pass.

    Examples
    --------
    >>> from gahb.core.nn import UNet
    >>> net = UNet(width=4, n_blocks=1)
    >>> training_flops(net, (1, 8, 8), batch_size=2) == 6 * forward_flops(net, (1, 8, 8))
    True
    """
    return 3 * int(batch_size) * forward_flops(net, image_shape)


def training_memory(net: nn.Module, image_shape, batch_size: int, precision: str = "fp32") -> dict:
    """Bytes a training step holds: weights, gradients and Adam's two moments (16 bytes per float32
    parameter), and the tensors autograd saves for the backward pass, measured on one and on two images (in
    the given precision, on the network's device): the difference per image times the batch, plus what does
    not grow with the batch (autocast's low-precision copies of the weights). Allocator workspace comes on top.

    See Also
    --------
    training_flops : The operations of the same step.
    step_seconds : Its measured time.

    Examples
    --------
    >>> from gahb.core.nn import UNet
    >>> net = UNet(width=8, n_blocks=2)
    >>> mem = training_memory(net, (1, 16, 16), batch_size=64)
    >>> mem["parameters_and_optimizer"] == 16 * sum(p.numel() for p in net.parameters())
    True
    >>> training_memory(net, (1, 16, 16), 64, "bf16")["activations"] < mem["activations"]
    True
    """
    from .training import autocast

    p = next(net.parameters())

    def saved_bytes(n: int) -> int:
        seen, total = set(), [0]

        def pack(t):
            key = (t.untyped_storage().data_ptr(), t.dtype)
            if key not in seen and not isinstance(t, nn.Parameter):
                seen.add(key)
                total[0] += t.untyped_storage().nbytes()
            return t

        x = torch.zeros((n, *tuple(image_shape)), device=p.device)
        # enable_grad: under a caller's no_grad autograd saves nothing and the estimate would read 0
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), \
                autocast(p.device, precision):
            net(x).float().sum()
        return total[0]

    was_training = net.training
    try:
        net.train()
        buffers = {k: b.clone() for k, b in net.named_buffers()}  # BN running statistics: given back below
        one, two = saved_bytes(1), saved_bytes(2)
        for k, b in net.named_buffers():
            b.copy_(buffers[k])
    finally:
        net.train(was_training)
    n_params = sum(q.numel() for q in net.parameters())
    per_image = two - one
    return {"parameters_and_optimizer": 16 * n_params, "activations": per_image * int(batch_size) + one - per_image}


def step_seconds(net: nn.Module, image_shape, batch_size: int, precision: str = "fp32", steps: int = 2) -> float:
    """Median seconds of a training step (forward, backward, Adam) of ``batch_size`` random images on the
    network's device, after one warm-up step. Trains a copy: ``net`` is not changed.

    See Also
    --------
    training_flops : FLOPs of the step, to turn the time into FLOP/s.

    Examples
    --------
    >>> from gahb.core.nn import UNet
    >>> step_seconds(UNet(width=4, n_blocks=1), (1, 8, 8), batch_size=2) > 0
    True
    """
    import copy
    import statistics
    import time

    from .training import autocast

    p = next(net.parameters())
    net = copy.deepcopy(net).train()
    opt = torch.optim.Adam(net.parameters())
    x = torch.rand((int(batch_size), *tuple(image_shape)), device=p.device)
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        with autocast(p.device, precision):
            loss = net(x).float().square().sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if p.device.type == "cuda":
            torch.cuda.synchronize(p.device)
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)
