"""Sweep throughput: models trained per hour, vectorized (one network for all models) vs one fit per model.

The default transition sweep trains 10 copies of one small bias-free UNet (width 16, 2 levels, batch 32,
2000 steps), one per training set. Three ways to train them are timed side by side in one run, alternating so that machine
noise hits all alike (medians over ``--repeats``):

- ``one fit per model``: ``DiffusionDenoiser.fit`` for each model in turn (what ``vectorize=False`` runs);
- ``vectorized (vmap)``: :func:`gahb.fit_vectorized`, ``torch.func`` stacking + ``vmap`` (what
  ``vectorize=True`` runs), each model with its own data, seed, batches, noise and Adam state;
- ``grouped conv, bare loop``: the same UNet written with grouped convolutions (one group per model), the
  other way to fuse models, in a bare training loop (no checks, no per-model random streams), compared with
  the same bare loop over one model at a time (``bare loop per model``).

Each method runs ``2 S`` and ``S`` steps; their difference is the cost of ``S`` steps without the one-off setup
of a fit (validation, building the network). Models per hour = 3600 / (seconds per model-step x
``--max-iter``, the default sweep's steps per model).

    python benchmarks/bench_sweep.py [--sizes 8,12,16] [--models 10] [--threads 1] [--steps 20] [--repeats 3]
    python benchmarks/bench_sweep.py --device cuda --sizes 12,40 --models 10,20,50   # on a GPU
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gahb import DiffusionDenoiser, fit_vectorized
from gahb.core.nn import BiasFreeBatchNorm2d, UNet

WIDTH, N_BLOCKS = 16, 2
BATCH = 32  # the default sweep's


class _GroupedConv(nn.Module):
    def __init__(self, groups, c_in, c_out, transpose=False):
        super().__init__()
        self.groups, self.transpose = groups, transpose
        shape = (groups * c_in, c_out, 2, 2) if transpose else (groups * c_out, c_in, 3, 3)
        self.weight = nn.Parameter(torch.randn(shape) * (2.0 / (c_in * (4 if transpose else 9))) ** 0.5)

    def forward(self, x):
        if self.transpose:
            return F.conv_transpose2d(x, self.weight, stride=2, groups=self.groups)
        return F.conv2d(x, self.weight, padding=1, groups=self.groups)


def _grouped_block(m, c_in, c_out, first_bn=True):
    layers = [_GroupedConv(m, c_in, c_out)] + ([BiasFreeBatchNorm2d(m * c_out)] if first_bn else [])
    layers += [nn.ReLU(inplace=True), _GroupedConv(m, c_out, c_out), BiasFreeBatchNorm2d(m * c_out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class GroupedUNet(nn.Module):
    """``m`` bias-free UNets (gahb.core.nn.UNet's layout) as one network: channels ``(model, channel)``."""

    def __init__(self, m, width=WIDTH, n_blocks=N_BLOCKS):
        super().__init__()
        self.m, self.n_blocks = m, n_blocks
        ch = [width * 2**b for b in range(n_blocks + 1)]
        self.encoder = nn.ModuleList([_grouped_block(m, 1, ch[0], False)] +
                                     [_grouped_block(m, ch[b - 1], ch[b]) for b in range(1, n_blocks)])
        self.mid = _grouped_block(m, ch[-2], ch[-1])
        self.up = nn.ModuleList([_GroupedConv(m, ch[b + 1], ch[b], transpose=True) for b in range(n_blocks)])
        self.decoder = nn.ModuleList([nn.Sequential(_GroupedConv(m, 2 * ch[0], ch[0]), BiasFreeBatchNorm2d(m * ch[0]),
                                                    nn.ReLU(inplace=True), _GroupedConv(m, ch[0], 1))] +
                                     [_grouped_block(m, 2 * ch[b], ch[b]) for b in range(1, n_blocks)])

    def _cat(self, u, s):
        """Concatenate per model: (n, m, c, h, w) along c, so each group sees only its own model's channels."""
        n, _, h, w = u.shape
        return torch.cat([u.view(n, self.m, -1, h, w), s.view(n, self.m, -1, h, w)], 2).view(n, -1, h, w)

    def forward(self, x):
        skips = []
        for block in self.encoder:
            skips.append(block(x))
            x = F.avg_pool2d(skips[-1], 2)
        x = self.mid(x)
        for b in reversed(range(self.n_blocks)):
            x = self.decoder[b](self._cat(self.up[b](x), skips[b]))
        return x


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _est(seed, size, steps, device, batch):
    return DiffusionDenoiser(width=WIDTH, n_blocks=N_BLOCKS, max_iter=steps, batch_size=batch, lr_schedule="cosine",
                             image_shape=(size, size), random_state=seed, device=device)


def time_one_by_one(Xs, size, steps, device, batch):
    t0 = time.perf_counter()
    for seed, X in enumerate(Xs):
        _est(seed, size, steps, device, batch).fit(X)
    _sync(device)
    return time.perf_counter() - t0


def time_vectorized(Xs, size, steps, device, batch):
    t0 = time.perf_counter()
    fit_vectorized([_est(seed, size, steps, device, batch) for seed in range(len(Xs))], Xs)
    _sync(device)
    return time.perf_counter() - t0


def _bare_loop(net, data, steps, device, batch, m):
    """A bare training loop (no checks, no per-model streams): ``data`` holds ``m`` sets, stacked as channels."""
    g = torch.Generator(device=device).manual_seed(0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(steps):
        x = torch.cat([d[torch.randint(len(d), (batch,), generator=g, device=device)] for d in data], 1)
        noise = torch.randn(x.shape, generator=g, device=device) * \
            torch.rand(batch, m, 1, 1, generator=g, device=device) ** 2
        loss = ((net(x + noise) - noise) ** 2).sum() / batch
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def _tensors(Xs, size, device):
    return [torch.as_tensor(X, dtype=torch.float32, device=device).reshape(-1, 1, size, size) for X in Xs]


def time_plain(Xs, size, steps, device, batch):
    data = _tensors(Xs, size, device)
    t0 = time.perf_counter()
    for d in data:
        _bare_loop(UNet(1, WIDTH, N_BLOCKS).to(device).train(), [d], steps, device, batch, 1)
    _sync(device)
    return time.perf_counter() - t0


def time_grouped(Xs, size, steps, device, batch):
    data = _tensors(Xs, size, device)
    t0 = time.perf_counter()
    _bare_loop(GroupedUNet(len(Xs)).to(device).train(), data, steps, device, batch, len(Xs))
    _sync(device)
    return time.perf_counter() - t0


# (name, function, the method it is compared with)
METHODS = {"one fit per model": (time_one_by_one, None),
           "vectorized (vmap)": (time_vectorized, "one fit per model"),
           "bare loop per model": (time_plain, None),
           "grouped conv, bare loop": (time_grouped, "bare loop per model")}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="8,12,16")
    p.add_argument("--models", default="10", help="models per sweep, comma separated")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=20, help="S: runs of 2S and S steps per model are timed")
    p.add_argument("--max-iter", type=int, default=2000, help="steps per model of the sweep (for models/hour)")
    p.add_argument("--batch-size", type=int, default=BATCH)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"torch {torch.__version__} on {args.device}, {args.threads} thread(s), UNet width {WIDTH}, {N_BLOCKS} levels, "
          f"batch {args.batch_size}; marginal cost of {args.steps} steps, {args.repeats} repeats (medians); "
          f"models/hour at {args.max_iter} steps per model")
    print("| image | models | method | ms per model-step | models per hour | speed-up |")
    print("|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        for n_models in (int(m) for m in args.models.split(",")):
            Xs = [rng.random((n, size * size)).astype(np.float32)
                  for n in np.geomspace(1, 10000, n_models).astype(int)]
            for fn, _ in METHODS.values():  # warm-up (allocator, oneDNN / cuDNN kernels)
                fn(Xs, size, 2, args.device, args.batch_size)
            times = {name: [] for name in METHODS}
            for _ in range(args.repeats):
                for name, (fn, _) in METHODS.items():
                    # marginal cost of a step: (2S steps - S steps) / S, so the one-off setup of each fit cancels
                    long = fn(Xs, size, 2 * args.steps, args.device, args.batch_size)
                    short = fn(Xs, size, args.steps, args.device, args.batch_size)
                    times[name].append((long - short) / (args.steps * n_models))
            med = {name: statistics.median(ts) for name, ts in times.items()}
            for name, t in med.items():
                ref = METHODS[name][1]
                ratio = f"{med[ref] / t:.2f}x vs {ref}" if ref else "1.00x"
                print(f"| {size}x{size} | {n_models} | {name} | {t * 1e3:.2f} | {3600 / (t * args.max_iter):.0f} | "
                      f"{ratio} |", flush=True)


if __name__ == "__main__":
    main()
