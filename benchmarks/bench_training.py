"""Training throughput: DiffusionDenoiser.fit vs a plain PyTorch loop training the same network.

Both train the same bias-free UNet on the same data with the same batch size, noise distribution and
Adam optimizer; the plain loop is what a user would write by hand (no validation, no progress, no
schedule bookkeeping). Runs alternate (gahb, plain, gahb, plain, ...) so machine noise hits both alike;
the table reports median images/s and the ratio (target >= 0.95).

    python benchmarks/bench_training.py [--repeats 5] [--steps 150] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from gahb import DiffusionDenoiser
from gahb.core.nn import UNet, init_weights_


def plain_loop(X: np.ndarray, image_shape, width, n_blocks, steps, batch_size, seed) -> float:
    """Hand-written training loop; returns seconds spent in the loop."""
    g = torch.Generator().manual_seed(seed)
    data = torch.tensor(X, dtype=torch.float32).reshape((-1, 1) + image_shape)
    net = init_weights_(UNet(1, width, n_blocks), g).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for _ in range(steps):
        x = data[torch.randint(len(data), (batch_size,), generator=g)]
        sigma = torch.rand(batch_size, generator=g) ** 2
        z = torch.randn(x.shape, generator=g) * sigma.view(-1, 1, 1, 1)
        loss = ((net(x + z) - z) ** 2).sum() / batch_size
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def gahb_fit(X, image_shape, width, n_blocks, steps, batch_size, seed) -> float:
    est = DiffusionDenoiser(width=width, n_blocks=n_blocks, max_iter=steps, batch_size=batch_size,
                            image_shape=image_shape, random_state=seed, device="cpu")
    t0 = time.perf_counter()
    est.fit(X)  # includes validation, weight init and the data copy: everything a user pays for
    return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    print(f"torch {torch.__version__}, {args.threads} threads, {args.steps} steps x {args.repeats} repeats (medians)")
    for size, width, n_blocks, batch in [(12, 16, 3, 64), (16, 16, 3, 64), (32, 16, 2, 32)]:
        X = np.random.default_rng(0).uniform(size=(2000, size * size))
        shape = (size, size)
        gahb_fit(X, shape, width, n_blocks, 5, batch, 0)  # warm-up both paths
        plain_loop(X, shape, width, n_blocks, 5, batch, 0)
        t_gahb, t_plain = [], []
        for r in range(args.repeats):
            t_gahb.append(gahb_fit(X, shape, width, n_blocks, args.steps, batch, r))
            t_plain.append(plain_loop(X, shape, width, n_blocks, args.steps, batch, r))
        ips_gahb = args.steps * batch / statistics.median(t_gahb)
        ips_plain = args.steps * batch / statistics.median(t_plain)
        rows.append((f"{size}x{size}", f"UNet w{width} b{n_blocks}", batch, ips_plain, ips_gahb, ips_gahb / ips_plain))
        print(f"  {rows[-1][0]} done: ratio {rows[-1][5]:.3f}", flush=True)
    print()
    print("| image | network | batch | plain loop img/s | DiffusionDenoiser img/s | ratio (target >= 0.95) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:,.0f} | {r[4]:,.0f} | {r[5]:.3f} |")


if __name__ == "__main__":
    main()
