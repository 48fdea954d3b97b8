"""Jacobian tools, measured side by side (medians of --repeats runs), on a lightly trained bias-free UNet.

(a) dense J (gahb.core.jacobian.full_jacobian) vs the per-pixel autograd loop: the UNet at 32x32 and 64x64 (its
    receptive field covers the image, so one vectorised VJP per row), and a BF-CNN (21 layers, receptive radius
    21) trained at 64x64 and evaluated at 64x64 and 96x96 (rows 43 pixels apart share one VJP);
(b) Hutchinson tr J vs the exact trace of the dense J, 64x64 (speed and relative error);
(c) Lanczos top-32 eigenpairs vs dense J + eigh, 64x64 (speed, eigenvalue error, subspace agreement), and
    with --c-sizes 64,96 larger test images for the same network;
(d) the largest square image each method handles within a memory budget (default 16 GiB), from the
    measured per-image autograd bytes and the d x d matrices (an estimate), and with --d-sizes 128,256 measured
    Lanczos runs (time, products, peak RSS) on larger images;

Targets (CPU): (a) >= 3x, (b) >= 20x at <= 3 % error, (c) >= 10x.

    python benchmarks/bench_jacobian.py [--repeats 3] [--threads 1] [--device cpu] [--parts abcd] [--c-sizes 64]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from gahb import DiffusionDenoiser
from gahb.core import jacobian as jb
from gahb.core.jacobian._dense import _bytes_per_image
from gahb.core.nn import receptive_radius
from gahb.datasets import make_c_alpha


def timed(fn, repeats, device):
    times, out = [], None
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def model(size, args, device, architecture="unet"):
    """A network trained for a few hundred steps on C^alpha images of this size."""
    data = make_c_alpha(args.n_train, image_size=size, alpha=3.0, random_state=0)
    den = DiffusionDenoiser(architecture=architecture, width=args.width, n_blocks=args.n_blocks, n_layers=args.layers,
                            max_iter=args.steps, batch_size=16, image_shape=(size, size), random_state=0,
                            device=device).fit(data.data)
    return den.denoiser_


def noisy_image(size, device):
    """One held-out C^alpha image of this size plus noise of standard deviation 0.1."""
    x = make_c_alpha(1, image_size=size, alpha=3.0, random_state=1).data
    x = torch.as_tensor(x, dtype=torch.float32).reshape(1, size, size)
    return (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))).to(device)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--loop-repeats", type=int, default=1, help="repeats of the slow per-pixel loop")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--n-blocks", type=int, default=3)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--n-train", type=int, default=512)
    p.add_argument("--layers", type=int, default=21, help="BF-CNN depth")
    p.add_argument("--probes", type=int, default=32, help="Hutchinson probes")
    p.add_argument("--k", type=int, default=32, help="Lanczos eigenpairs")
    p.add_argument("--c-sizes", default="64", help="image sides for (c), e.g. 64,96 (dense baseline run once "
                   "above 64)")
    p.add_argument("--d-sizes", default="", help="image sides for measured Lanczos runs in (d), e.g. 128,256")
    p.add_argument("--budget-gib", type=float, default=16.0)
    p.add_argument("--parts", default="abcd", help="which benchmarks to run, e.g. 'cd' (default: %(default)s)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"UNet width {args.width}, {args.n_blocks} levels, {args.steps} training steps")
    rows = []
    f64 = y64 = J64 = t_full64 = None
    for size in (32, 64) if "a" in args.parts else (64,):
        f, y = model(size, args, device), noisy_image(size, device)
        t_full, J = timed(lambda f=f, y=y: jb.full_jacobian(f, y), args.repeats, device)
        if "a" in args.parts:
            t_loop, J_loop = timed(lambda f=f, y=y: jb.jacobian_by_loop(f, y), args.loop_repeats, device)
            err = float((J - J_loop).abs().max() / J_loop.abs().max())
            rows.append((f"(a) UNet, dense J: {size * size} vectorised VJPs vs per-pixel loop", f"{size}x{size}",
                         t_loop, t_full, f"max rel diff {err:.1e}", 3.0))
        if size == 64:
            f64, y64, J64, t_full64 = f, y, J, t_full
    if "a" in args.parts:
        f = model(64, args, device, architecture="bfcnn")
        r = receptive_radius(f)
        for size in (64, 96):
            y = noisy_image(size, device)
            n_vjp = min(size, 2 * r + 1) ** 2
            t_full, J = timed(lambda f=f, y=y: jb.full_jacobian(f, y), args.repeats, device)
            t_loop, J_loop = timed(lambda f=f, y=y: jb.jacobian_by_loop(f, y), args.loop_repeats, device)
            err = float((J - J_loop).abs().max() / J_loop.abs().max())
            rows.append((f"(a) BF-CNN (radius {r}), dense J: {n_vjp} compressed VJPs vs per-pixel loop",
                         f"{size}x{size}", t_loop, t_full, f"max rel diff {err:.1e}", 3.0))
    if "b" in args.parts:
        exact = float(J64.double().trace())
        t_h, est = timed(lambda: jb.hutchinson_trace(f64, y64, args.probes, random_state=0), args.repeats, device)
        rel = abs(est.estimate - exact) / abs(exact)
        rows.append((f"(b) Hutchinson tr J ({args.probes} probes) vs exact", "64x64", t_full64, t_h,
                     f"tr {exact:.1f}, est {est.estimate:.1f} +- {est.std_error:.1f}, error {100 * rel:.2f} %", 20.0))

    if "c" in args.parts:
        for size in [int(v) for v in args.c_sizes.split(",")]:
            # the UNet trained at 64x64 is fully convolutional: larger test images show how the ratio scales
            y_c = y64 if size == 64 else noisy_image(size, device)
            t_eigh, (lam, E) = timed(lambda y=y_c: jb.symmetric_eigh(jb.full_jacobian(f64, y)),
                                     args.repeats if size == 64 else 1, device)
            t_lan, (lam_k, E_k, n_prod) = timed(lambda y=y_c: jb.top_eigenpairs(f64, y, args.k, random_state=0),
                                                args.repeats, device)
            cos = torch.linalg.svdvals(E[:, : args.k].cpu().T @ E_k.cpu())
            rows.append((f"(c) Lanczos top-{args.k} vs dense J + eigh", f"{size}x{size}", t_eigh, t_lan,
                         f"{n_prod} products, max |dlambda| {float((lam_k - lam[: args.k].cpu()).abs().max()):.1e}, "
                         f"min cos {float(cos.min()):.4f}", 10.0))
    print()
    print("| benchmark | size | baseline s | gahb s | ratio | target | notes |")
    print("|---|---|---|---|---|---|---|")
    for name, size, base, new, notes, target in rows:
        print(f"| {name} | {size} | {base:.3f} | {new:.3f} | {base / new:.1f}x | >= {target:g}x | {notes} |")

    if "d" not in args.parts:
        return
    # (d) memory model: activations per image are measured at two sizes and scale with the pixel count.
    budget = args.budget_gib * 2**30
    per_pixel = _bytes_per_image(f64, y64) / y64.numel()
    print(f"\n(d) largest square image within {args.budget_gib:g} GiB (autograd bytes per pixel, measured at 64x64: "
          f"{per_pixel:.0f}; width {args.width}):")
    print("| method | memory model | largest side |")
    print("|---|---|---|")
    # dense: J float32 + symmetric part and eigenvectors float64 (eigh workspace ~ one more d x d) + a chunk of
    # at least one image's autograd buffers; matrix-free: one image's buffers + (2k+1) Lanczos vectors (float64)
    models = [
        ("dense J only (float32)", lambda d: 4 * d * d + per_pixel * d),
        ("dense J + eigh (float64)", lambda d: 4 * d * d + 3 * 8 * d * d + per_pixel * d),
        ("per-pixel loop (J float32 + one graph)", lambda d: 4 * d * d + per_pixel * d),
        (f"Lanczos top-{args.k} / Hutchinson (one image per product)",
         lambda d: per_pixel * d + 8 * d * (2 * args.k + 1) * 2),
    ]
    for name, mem in models:
        side = 8
        while mem((side + 8) ** 2) <= budget:
            side += 8
        print(f"| {name} | {'d^2 + activations' if 'dense' in name or 'loop' in name else 'activations'} | {side} |")
    if not args.d_sizes:
        return
    # measured points for the matrix-free route: the 64x64-trained UNet on larger images, peak RSS of this process
    import resource

    print(f"\n(d) measured: Lanczos top-{args.k} on larger images (peak RSS of this process; "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB before)")
    print("| size | seconds | products | model GiB | peak RSS GiB |")
    print("|---|---|---|---|---|")
    for size in [int(v) for v in args.d_sizes.split(",")]:
        y = noisy_image(size, device)
        t, (_, _, n_prod) = timed(lambda y=y: jb.top_eigenpairs(f64, y, args.k, random_state=0), 1, device)
        d = y.numel()
        model_gib = (per_pixel * d + 8 * d * (2 * args.k + 1) * 2) / 2**30
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux
        print(f"| {size}x{size} | {t:.1f} | {n_prod} | {model_gib:.2f} | {peak:.2f} |")


if __name__ == "__main__":
    main()
