"""The adaptive basis of a denoiser, and how close its shrinkage is to the oracle (paper §3.1).

Trains a small bias-free UNet on 16 x 16 disks (about a minute on a laptop CPU), then at one noisy test
image: the Jacobian eigenvalues (shrinkage factors), effective dimension and asymmetry, the eigenvectors
as images, and the network's PSNR against oracle shrinkage in its own basis and in wavelets.

    python examples/eigenbasis.py [--steps 600] [--out DIR]

The eigenvector grid is written to DIR/eigenbasis.png (default: a new temporary folder).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from gahb import DiffusionDenoiser, GAHBShrinkage, JacobianEigenbasis
from gahb.datasets import make_disks


def psnr(x, ref):
    """Per-image PSNR in dB of rows in [0, 1]."""
    return 10 * np.log10(1.0 / np.mean((np.asarray(x, np.float64) - ref) ** 2, axis=1))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--n-train", type=int, default=1990)
    p.add_argument("--sigma", type=float, default=0.1)
    p.add_argument("--out", default=None, help="folder for eigenbasis.png (default: a new temporary folder)")
    args = p.parse_args(argv)

    data = make_disks(args.n_train + 10, image_size=16, random_state=0)
    X_train, X_test = data.data[: args.n_train], data.data[args.n_train :]
    den = DiffusionDenoiser(width=16, n_blocks=2, max_iter=args.steps, image_shape=(16, 16), random_state=0)
    den.fit(X_train)

    # sigma set: transform() takes clean images, adds noise, returns <x, e_k(y)> on the basis of y = x + sigma z
    eb = JacobianEigenbasis(den, sigma=args.sigma, random_state=0).fit(X_test)
    res = eb.decompose(X_test[:4])  # everything of this call; transform() would return res.coefficients only
    coef = res.coefficients
    print(f"top-10 shrinkage factors at sigma={args.sigma}:", np.round(res.eigenvalues[0, :10], 3))
    print("effective dimension tr J:", np.round(res.effective_dimension, 1), "of", X_test.shape[1])
    print("asymmetry ||J - J^T|| / ||J||:", np.round(res.asymmetry, 3))
    print("Euler identity error ||J y - f(y)|| / ||f(y)||:", res.homogeneity_error.max())
    print("largest |<x, e_k>| of image 0 at k =", np.argsort(-np.abs(coef[0]))[:8])

    Y = res.noisy
    rows = {"network f(y)": den.transform(Y)}
    for basis in ("adaptive", "wavelet", "dct"):
        sh = GAHBShrinkage(den, basis=basis, shrinkage="oracle", sigma=args.sigma, image_shape=(16, 16))
        rows[f"oracle shrinkage, {basis} basis"] = sh.fit(X_test).transform(Y, X_clean=X_test[:4])
    print(f"\nmean PSNR (dB) of 4 test images at sigma={args.sigma} (input {-20 * np.log10(args.sigma):.1f} dB):")
    for name, out in rows.items():
        print(f"  {name:34s} {np.mean(psnr(out, X_test[:4])):.2f}")

    from gahb.report import plot_image_grid, save_figure

    ks = [0, 1, 2, 3, 4, 5, 6, 8, 16, 32, 64, 128]
    grid = [[res.components[0, k] for k in ks], [X_test[0], Y[0], rows["network f(y)"][0]]]
    fig = plot_image_grid(grid, (16, 16), row_labels=["e_k(y)", "x, y, f(y)"], vmin=None, vmax=None,
                          col_labels=[f"k={k}" for k in ks])
    out = Path(args.out or tempfile.mkdtemp(prefix="gahb-eigenbasis-"))
    print("wrote", save_figure(fig, out / "eigenbasis.png"))


if __name__ == "__main__":
    main()
