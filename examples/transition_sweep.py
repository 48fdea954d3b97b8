"""Memorization -> generalization in a few minutes on a laptop CPU, from Python rather than the command.

Two bias-free UNets per training-set size N, trained on disjoint sets of synthetic "dead leaves"
images and sampled with the same noise; the perfect memorizer (the empirical optimal denoiser) is run
through the same sweep as the known answer. Writes a report folder like `gahb transition` to DIR
(default: a new temporary folder).

    python examples/transition_sweep.py [--out DIR] [--sizes 1,10,100,1000] [--steps 1500]
"""

import argparse
import tempfile

import joblib

from gahb import DiffusionDenoiser, MemorizingDenoiser
from gahb.datasets import make_dead_leaves
from gahb.experiments import generalization_curve
from gahb.report import Report, markdown_table


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=None, help="report folder (default: a new temporary folder)")
    p.add_argument("--sizes", default="1,10,100,1000", help="training-set sizes N, comma-separated")
    p.add_argument("--steps", type=int, default=1500, help="optimizer steps per model")
    p.add_argument("--n-samples", type=int, default=32)
    args = p.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",")]
    X = make_dead_leaves(2 * sizes[-1] + 300, image_size=12, random_state=0).data

    # The reference: an exact memorizer. Its samples are training images at every N.
    ref = generalization_curve(MemorizingDenoiser(image_shape=(12, 12), beta=1.0), X, sizes, image_shape=(12, 12),
                               n_samples=args.n_samples, sigmas=[], verbose=0)

    # The networks: same number of optimizer steps for every N; beta = 1 (deterministic sampler) converges
    # in tens of iterations at this scale. n_jobs=2 runs two fits at a time; to use a dask cluster instead:
    #     with joblib.parallel_config(backend="dask"): ...
    est = DiffusionDenoiser(width=16, n_blocks=2, max_iter=args.steps, batch_size=64, beta=1.0, image_shape=(12, 12),
                            device="cpu", random_state=0)
    with joblib.parallel_config(n_jobs=2):
        res = generalization_curve(est, X, sizes, image_shape=(12, 12), n_samples=args.n_samples)

    cols = ["n_train", "mem_cosine_A", "mem_cosine_B", "cross_median", "chance_median", "psnr_gap"]
    print("perfect memorizer:\n" + markdown_table(ref.table(), cols))
    print("\nUNet:\n" + markdown_table(res.table(), cols))

    rep = Report(args.out or tempfile.mkdtemp(prefix="gahb-transition-"), "Memorization to generalization (example)")
    rep.add_heading("Reference: the empirical optimal denoiser")
    rep.add_table(ref.table(), cols[:-1])
    res.to_report(rep)
    print("wrote", *rep.write())


if __name__ == "__main__":
    main()
