"""Training throughput: gahb's training loop (fp32, bf16, channels_last, torch.compile) and
DiffusionDenoiser.fit against a plain PyTorch loop training the same network, in the same run.

The plain loop is what a user would write by hand (no held-out loss, no progress, no schedule, no
checkpoints). gahb's loop is the one ``fit`` runs (``gahb.core.training.train_loop``); its images/s are
timed after ``--warmup`` steps (so compilation is not counted), like the plain loop's. The ``fit`` column
times the whole ``DiffusionDenoiser.fit`` call (validation, weight init, warm-up: everything a user pays).
Runs alternate (plain, gahb variants, plain, ...; the order rotates every repeat) so machine noise hits all
alike; the table reports median images/s and ratios to the plain loop (target for fp32: >= 0.95).

    python benchmarks/bench_training.py [--repeats 6] [--threads 1] [--configs small,paper] [--clock cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from gahb import DiffusionDenoiser
from gahb.core.batches import Batches, host_images
from gahb.core.distributed import World
from gahb.core.nn import UNet, init_weights_
from gahb.core.random import torch_generator
from gahb.core.training import TrainConfig, new_state, prepare_model, train_loop

# name -> (image side, width, levels, batch, timed steps, warm-up steps)
CONFIGS = {
    "small": (12, 16, 2, 64, 50, 5),  # the default network of `gahb transition` / `gahb fit`
    "paper": (80, 64, 3, 4, 3, 1),  # the paper's 7.66M-parameter UNet on 80 x 80 (batch 512 in the paper)
}
# wall clock by default; --clock cpu times this process's CPU seconds instead, which a shared machine disturbs
# far less (with 1 thread, compute time)
CLOCK = time.perf_counter
VARIANTS = {"fp32": {}, "bf16": {"precision": "bf16"}, "channels_last": {"channels_last": True},
            "compile": {"compile": True}}


def plain_loop(X, side, width, n_blocks, batch, steps, warmup, seed) -> float:
    """Hand-written training loop; seconds of the ``steps`` timed steps."""
    g = torch.Generator().manual_seed(seed)
    data = torch.tensor(X, dtype=torch.float32).reshape(-1, 1, side, side)
    net = init_weights_(UNet(1, width, n_blocks), g).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for i in range(warmup + steps):
        if i == warmup:
            t0 = CLOCK()
        x = data[torch.randint(len(data), (batch,), generator=g)]
        sigma = torch.rand(batch, generator=g) ** 2
        z = torch.randn(x.shape, generator=g) * sigma.view(-1, 1, 1, 1)
        loss = ((net(x + z) - z) ** 2).sum() / batch
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return CLOCK() - t0


def gahb_loop(X, side, width, n_blocks, batch, steps, warmup, seed, **options) -> float:
    """gahb's training loop (what fit runs); seconds of the ``steps`` steps after ``warmup``."""
    cfg = TrainConfig(max_iter=warmup + steps, batch_size=batch, log_every=steps, **options)
    device = torch.device("cpu")
    with torch.random.fork_rng(devices=[]):
        net = UNet(1, width, n_blocks)
    init_weights_(net, torch_generator(seed))
    state = new_state(net, cfg, torch_generator(seed + 1), torch_generator(seed + 2, device), device)
    data = Batches(host_images(X, (1, side, side)), device)
    marks = {}
    train_loop(prepare_model(net, cfg, World(), device), net, data, cfg, state,
               on_step=lambda s: marks.setdefault(s, CLOCK()) if s == warmup else None)
    return CLOCK() - marks[warmup] if warmup else float("nan")


def whole_fit(X, side, width, n_blocks, batch, steps, warmup, seed) -> float:
    """Seconds of a whole fit of ``warmup + steps`` steps, scaled to ``steps`` (the warm-up's cost included)."""
    est = DiffusionDenoiser(width=width, n_blocks=n_blocks, max_iter=warmup + steps, batch_size=batch,
                            log_every=steps, image_shape=(side, side), random_state=seed, device="cpu")
    t0 = CLOCK()
    est.fit(X)
    return (CLOCK() - t0) * steps / (warmup + steps)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=6)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--configs", default="small,paper")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall: elapsed seconds; cpu: this process's CPU seconds (steadier on a shared machine)")
    args = p.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    variants = args.variants.split(",")
    print(f"torch {torch.__version__}, {args.threads} threads, {args.repeats} repeats (medians), {args.clock} clock",
          flush=True)
    rows = []
    for name in args.configs.split(","):
        side, width, n_blocks, batch, steps, warmup = CONFIGS[name]
        X = np.random.default_rng(0).uniform(size=(2000, side * side)).astype(np.float32)
        shape = (side, width, n_blocks, batch)
        times = {k: [] for k in ["plain", "fit", *variants]}
        runs = {"plain": lambda r: plain_loop(X, *shape, steps, warmup, r),
                "fit": lambda r: whole_fit(X, *shape, steps, warmup, r),
                **{v: (lambda r, v=v: gahb_loop(X, *shape, steps, warmup, r, **VARIANTS[v])) for v in variants}}
        order = list(runs)
        for r in range(args.repeats):
            # rotate the order every repeat: a load change on a shared machine then hits every column alike
            for k in order[r % len(order):] + order[: r % len(order)]:
                times[k].append(runs[k](r))
            print(f"  {name} repeat {r + 1}: " + ", ".join(f"{k} {t[-1]:.2f} s" for k, t in times.items()), flush=True)
        ips = {k: steps * batch / statistics.median(t) for k, t in times.items()}
        rows.append((f"{side}x{side}", f"UNet w{width} b{n_blocks}", batch, ips))
    print()
    cols = ["plain", "fit", *variants]
    print("| image | network | batch | " + " | ".join(f"{c} img/s" for c in cols) + " | "
          + " | ".join(f"{c} / plain" for c in cols[1:]) + " |")
    print("|---|---|---|" + "---|" * (2 * len(cols) - 1))
    for image, net, batch, ips in rows:
        print(f"| {image} | {net} | {batch} | " + " | ".join(f"{ips[c]:,.1f}" for c in cols) + " | "
              + " | ".join(f"{ips[c] / ips['plain']:.3f}" for c in cols[1:]) + " |")


if __name__ == "__main__":
    main()
