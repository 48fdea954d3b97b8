"""Blockwise near-duplicate removal: peak memory and time against the dense N x N correlation matrix.

Run:  python benchmarks/bench_dedup.py [--n 50000] [--repeats 1]

Prints two tables:
1. at N (default 50,000) images of 20 x 20 (no pooling needed), for several block sizes: wall time
   (median of --repeats), peak traced memory (tracemalloc: numpy buffers), and the ratio to the memory
   one dense float32 N x N matrix would need (what the paper's code allocates);
2. at a small N where the dense computation fits, blockwise vs dense time and whether both keep
   exactly the same indices.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from gahb.datasets import make_dead_leaves, remove_near_duplicates


def _measure(fn, repeats):
    times, peaks, out = [], [], None
    for _ in range(repeats):
        tracemalloc.start()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return float(np.median(times)), max(peaks), out


def _dense(X, threshold):
    Z = X.astype(np.float32) - X.mean(axis=1, keepdims=True, dtype=np.float32)
    Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-30)
    G = np.abs(Z @ Z.T)
    dup = (np.tril(G, k=-1) > threshold).any(axis=1)
    return np.flatnonzero(~dup)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--small-n", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--block-sizes", type=int, nargs="+", default=[1024, 4096])
    args = parser.parse_args(argv)

    side, thr = 20, 0.95
    t0 = time.perf_counter()
    X = make_dead_leaves(args.n, image_size=side, oversample=2, random_state=0).data
    print(f"data: {args.n} dead-leaves images {side}x{side} ({X.nbytes / 2**20:.1f} MiB float32), "
          f"generated in {time.perf_counter() - t0:.1f} s")
    dense_bytes = 4 * args.n**2
    print(f"\nN = {args.n}, {side}x{side}, threshold {thr}; dense float32 N x N matrix = {dense_bytes / 2**30:.2f} GiB")
    print(f"{'block_size':>10} | {'time (s)':>9} | {'peak traced (MiB)':>17} | {'peak / dense':>12} | {'dropped':>7}")
    print("-" * 68)
    for bs in args.block_sizes:
        t, peak, (keep, dropped) = _measure(lambda: remove_near_duplicates(X, (side, side), thr, block_size=bs), args.repeats)
        print(f"{bs:>10} | {t:>9.1f} | {peak / 2**20:>17.1f} | {peak / dense_bytes:>12.4f} | {dropped:>7}")
    print(f"process max RSS so far: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")

    Xs = X[: args.small_n]
    tb, pb, (keep_b, _) = _measure(lambda: remove_near_duplicates(Xs, (side, side), thr, block_size=1024), max(3, args.repeats))
    td, pd, keep_d = _measure(lambda: _dense(Xs, thr), max(3, args.repeats))
    print(f"\nN = {args.small_n}: blockwise (1024) vs dense, medians of {max(3, args.repeats)}")
    print(f"{'method':>10} | {'time (s)':>9} | {'peak traced (MiB)':>17} | {'kept':>6}")
    print("-" * 52)
    print(f"{'blockwise':>10} | {tb:>9.2f} | {pb / 2**20:>17.1f} | {len(keep_b):>6}")
    print(f"{'dense':>10} | {td:>9.2f} | {pd / 2**20:>17.1f} | {len(keep_d):>6}")
    print(f"time ratio blockwise/dense = {tb / td:.2f}; memory ratio = {pb / pd:.3f}; "
          f"same indices: {np.array_equal(keep_b, keep_d)}")


if __name__ == "__main__":
    main()
