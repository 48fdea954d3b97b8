"""Batched sampling vs one sample at a time (the official code's way), same model, same noise, same steps.

Run:  python benchmarks/bench_sampling.py [--n-samples 64] [--steps 50] [--repeats 3] [--threads 1]

Trains one small DiffusionDenoiser briefly (the timing does not depend on how well it is trained), then
draws ``--n-samples`` samples with :func:`gahb.core.sampling.sample_ks` a) in one batch, b) in a plain Python
loop of batch-1 calls. ``sigma_final=0`` makes every sample run exactly ``--steps`` updates in both, so
the work is identical; per-sample CPU generators give both the same noise, and the table reports the
largest difference between the two results. Prints medians over ``--repeats`` and the images/s ratio.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gahb import DiffusionDenoiser
from gahb.core.random import sample_generators
from gahb.core.sampling import sample_ks


def _images(n, size, seed):
    rng = np.random.default_rng(seed)
    u = np.arange(size) + 0.5
    cy, cx = rng.uniform(2, size - 2, (2, n, 1, 1))
    w, a, b = rng.uniform(1.0, 3.0, (n, 1, 1)), rng.uniform(0.4, 0.8, (n, 1, 1)), rng.uniform(0.1, 0.3, (n, 1, 1))
    X = b + a * np.exp(-((u[None, :, None] - cy) ** 2 + (u[None, None, :] - cx) ** 2) / (2 * w**2))
    return np.clip(X, 0, 1).reshape(n, -1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-samples", type=int, default=64)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--size", type=int, default=12)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--n-blocks", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    model = DiffusionDenoiser(width=args.width, n_blocks=args.n_blocks, max_iter=200, batch_size=32,
                              image_shape=(args.size, args.size), random_state=0, device=args.device)
    model.fit(_images(1000, args.size, 0))
    n_params = sum(p.numel() for p in model.network_.parameters())
    mean = torch.as_tensor(model.train_mean_, dtype=torch.float32).reshape(model.image_shape_).to(model.device_)
    kw = dict(sigma_final=0.0, max_steps=args.steps)  # never stops early: a fixed number of steps for both

    def sync():
        if model.device_.type == "cuda":
            torch.cuda.synchronize()

    def batched():
        return sample_ks(model.denoiser_, mean, sample_generators(0, args.n_samples), **kw).x

    def one_at_a_time():
        return torch.cat([sample_ks(model.denoiser_, mean, sample_generators(0, 1, start=i), **kw).x
                          for i in range(args.n_samples)])

    rows, outs = [], {}
    for name, fn in [("batched", batched), ("one at a time", one_at_a_time)]:
        times = []
        for _ in range(args.repeats):
            sync()
            t0 = time.perf_counter()
            outs[name] = fn()
            sync()
            times.append(time.perf_counter() - t0)
        rows.append((name, float(np.median(times))))
    diff = (outs["batched"] - outs["one at a time"]).abs().max().item()

    print(f"model: UNet width {args.width}, {args.n_blocks} blocks, {n_params:,} parameters, "
          f"{args.size}x{args.size}, device {model.device_}, {torch.get_num_threads()} thread(s)")
    print(f"{args.n_samples} samples x {args.steps} steps (sigma_final=0), median of {args.repeats} repeats; "
          f"max |batched - one at a time| = {diff:.2e}\n")
    print(f"| {'mode':<14} | {'time (s)':>9} | {'images/s':>9} | {'ratio':>6} |")
    print(f"|{'-' * 16}|{'-' * 11}|{'-' * 11}|{'-' * 8}|")
    base = rows[1][1]
    for name, t in rows:
        print(f"| {name:<14} | {t:9.3f} | {args.n_samples / t:9.1f} | {base / t:6.1f} |")


if __name__ == "__main__":
    main()
