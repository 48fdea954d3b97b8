"""Chunked nearest-neighbour search (gahb.metrics) against dense references, measured side by side.

Prints median wall times and ratios for: dense sklearn cosine + argmax, chunked gahb at two chunk
sizes; and peak extra memory of each (the dense matrix is what the chunking avoids).

    python benchmarks/bench_metrics.py [--n-train 20000] [--n-samples 256] [--repeats 5]
"""

import argparse
import statistics
import time

import numpy as np
import torch
from sklearn.metrics.pairwise import cosine_similarity as sk_cosine

from gahb.metrics import memorization_rate, nearest_neighbors


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n-train", type=int, default=20000)
    p.add_argument("--n-samples", type=int, default=256)
    p.add_argument("--dim", type=int, default=144)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    X = rng.random((a.n_samples, a.dim)).astype(np.float32)
    Y = rng.random((a.n_train, a.dim)).astype(np.float32)

    def dense():
        Xc, Yc = X - X.mean(1, keepdims=True), Y - Y.mean(1, keepdims=True)
        S = sk_cosine(Xc, Yc)
        return S.argmax(1)

    ref = dense()
    rows = []
    t_dense = timed(dense, a.repeats)
    rows.append(("sklearn dense cosine + argmax", t_dense, a.n_samples * a.n_train * 8))
    for chunk in (1024, 4096):
        idx, _ = nearest_neighbors(X, Y, 1, chunk_size=chunk)
        assert np.array_equal(idx[:, 0], ref), "chunked and dense disagree"
        t = timed(lambda: nearest_neighbors(X, Y, 1, chunk_size=chunk), a.repeats)
        rows.append((f"gahb nearest_neighbors chunk={chunk}", t, min(chunk, a.n_samples) * chunk * 8))
    t_ratio = timed(lambda: memorization_rate(X, Y, rule="ratio"), a.repeats)
    rows.append(("gahb memorization_rate rule=ratio", t_ratio, min(4096, a.n_samples) * 4096 * 8))
    print(f"n_samples={a.n_samples} n_train={a.n_train} dim={a.dim} threads={a.threads} repeats={a.repeats} (medians)")
    print("| method | seconds | time / dense | similarity block bytes |")
    print("|---|---|---|---|")
    for name, t, mem in rows:
        print(f"| {name} | {t:.4f} | {t / t_dense:.2f} | {mem / 2**20:.1f} MiB |")


if __name__ == "__main__":
    main()
