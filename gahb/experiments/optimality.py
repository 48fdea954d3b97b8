"""Optimality experiments of GAHB §3.2 (Figs 3-5, App. C): C^alpha slopes, disks, shuffled-pixel control.

Each experiment trains small bias-free denoisers (CPU scale by default, paper scale with larger
``image_size``/``n_train``/``max_iter`` and ``device="cuda"``), measures PSNR-vs-noise curves and
Jacobian spectra, and returns a ``Bunch``; ``write_*_report`` turns it into ``report.md`` + ``report.json``
with figures. ``gahb optimality {c-alpha,disks,shuffled,all}`` runs them from the command line (each result is also
saved as ``result.joblib`` so a report can be rewritten without retraining).
"""

from __future__ import annotations

import time

import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils import Bunch

from gahb._checks import resolve_seed
from gahb._utils import psnr
from gahb.basis import GAHBShrinkage, JacobianEigenbasis, wavelet_basis
from gahb.core.random import sample_seeds, torch_generator
from gahb.denoiser import DiffusionDenoiser
from gahb.metrics import paper_sigmas, psnr_curve

__all__ = [
    "SLOPE_WINDOW", "PAPER_C_ALPHA_SLOPES", "PAPER_DISK_EIGENVALUES", "psnr_slope", "local_slopes",
    "adaptive_spectrum", "c_alpha_optimality", "disk_optimality", "shuffled_control", "write_c_alpha_report",
    "write_disk_report", "write_shuffled_report",
]

# Least-squares window for the low-noise PSNR slope, in input PSNR (dB). The paper does not state its window
# (SPEC §12.11); at 16 x 16 the power law of the oracle lives between the coarsest and finest scales, and
# above ~30 dB every coefficient of a 256-pixel image is above the noise, so every slope tends to 1.
SLOPE_WINDOW = (12.0, 30.0)
PAPER_C_ALPHA_SLOPES = {1: 0.46, 2: 0.61, 3: 0.75, 5: 0.83}  # Fig. 4 legend (UNet, 80 x 80, 10^5 images)
PAPER_DISK_EIGENVALUES = (1.177, 1.067, 1.004, 0.999, 0.945, 0.674, 0.552, 0.39, 0.304, 0.278)  # Fig. 5, sigma 0.04

# CPU scale: minutes per model on 2 shared cores. Paper scale: image_size=80, n_blocks=3, width=64, n_train=1e5.
DEFAULT_ESTIMATOR = dict(architecture="unet", width=16, n_blocks=2, max_iter=3000, batch_size=64, lr_schedule="halving")


def psnr_slope(input_psnr, output_psnr, window=SLOPE_WINDOW):
    """Least-squares slope of output vs input PSNR over ``window`` = (lo, hi) dB of input PSNR.

    Returns ``(slope, intercept, n_points)``; the optimal slope is alpha/(alpha+1) for C^alpha images
    (GAHB eqs. 11-13) and 1 for a low-dimensional manifold.
    """
    x, yv = np.asarray(input_psnr, np.float64), np.asarray(output_psnr, np.float64)
    lo, hi = window
    keep = (x >= lo) & (x <= hi) & np.isfinite(yv)
    if keep.sum() < 2:
        raise ValueError(f"Fewer than 2 noise levels fall in the slope window {window} dB of input PSNR.")
    slope, intercept = np.polyfit(x[keep], yv[keep], 1)
    return float(slope), float(intercept), int(keep.sum())


def local_slopes(input_psnr, output_psnr):
    """Finite-difference slopes between neighbouring noise levels, at the midpoints: ``(mid_psnr, slope)``."""
    x, yv = np.asarray(input_psnr, np.float64), np.asarray(output_psnr, np.float64)
    order = np.argsort(x)
    x, yv = x[order], yv[order]
    return 0.5 * (x[1:] + x[:-1]), np.diff(yv) / np.diff(x)


def _noisy(x, sigma, seed, index=0):
    g = torch_generator(sample_seeds(seed, 1, start=index)[0])
    return x + sigma * torch.randn(x.shape, generator=g, dtype=torch.float64).numpy()


def adaptive_spectrum(denoiser, x, sigma, *, n_components=None, random_state=0, index=0, image_shape=None):
    """Jacobian eigen-analysis of ``denoiser`` at y = x + sigma z for one clean row ``x``.

    ``denoiser`` is a fitted estimator or a torch callable (then ``image_shape`` is needed). Returns a
    Bunch: ``eigenvalues``, ``components`` (k, d), ``coefficients`` <x, e_k(y)>, ``noisy``, ``denoised``,
    ``effective_dimension`` (tr J), ``asymmetry``, ``homogeneity_error``.
    """
    x = np.asarray(x, np.float64).reshape(1, -1)
    y = _noisy(x, sigma, resolve_seed(random_state), index)
    eb = JacobianEigenbasis(denoiser, n_components=n_components, image_shape=image_shape,
                            random_state=random_state).fit(x)
    coef = eb.transform(y, X_clean=x)[0]
    if hasattr(denoiser, "transform"):
        denoised = np.asarray(denoiser.transform(y), np.float64)[0]
    else:
        with torch.no_grad():
            denoised = denoiser(torch.as_tensor(y).reshape((1,) + eb.image_shape_)).reshape(-1).double().numpy()
    return Bunch(eigenvalues=eb.eigenvalues_[0], components=eb.components_[0], coefficients=coef, noisy=y[0],
                 denoised=denoised, sigma=float(sigma),
                 effective_dimension=float(eb.effective_dimension_[0]), asymmetry=float(eb.asymmetry_[0]),
                 homogeneity_error=float(eb.homogeneity_error_[0]))


def _estimator(estimator, image_shape, seed, device):
    est = clone(estimator) if estimator is not None else DiffusionDenoiser(**DEFAULT_ESTIMATOR)
    return est.set_params(image_shape=tuple(image_shape), random_state=seed, device=device)


def _curve(den, X_test, sigmas, n_psnr_images, seed, window):
    c = psnr_curve(den, X_test, sigmas=sigmas, n_images=n_psnr_images, random_state=seed)
    slope, intercept, n = psnr_slope(c.input_psnr, c.output_psnr, window)
    return Bunch(input_psnr=c.input_psnr, output_psnr=c.output_psnr, slope=slope, intercept=intercept, n_points=n)


def _shrinkage_table(den, X, sigma, seed):
    """Mean output PSNR on rows X at ``sigma``: the network against shrinkage rules and bases."""
    Y = np.stack([_noisy(x, sigma, seed, 1000 + i) for i, x in enumerate(X)])
    rows = [("network f(y)", np.asarray(den.transform(Y), np.float64)),
            ("adaptive basis, network lambda (J_s y)", GAHBShrinkage(denoiser=den).fit(X).transform(Y))]
    for basis in ("adaptive", "wavelet", "dct"):
        sh = GAHBShrinkage(basis=basis, shrinkage="oracle", sigma=sigma, denoiser=den, image_shape=den.image_shape_)
        rows.append((f"{basis} basis, oracle lambda", sh.fit(X).transform(Y, X_clean=X)))
    for rule in ("hard", "soft"):
        sh = GAHBShrinkage(basis="wavelet", shrinkage=rule, sigma=sigma, image_shape=den.image_shape_)
        rows.append((f"wavelet basis, {rule} threshold", sh.fit(X).transform(Y)))
    return [dict(method=name, psnr=float(np.mean(psnr(out, X)))) for name, out in rows]


def c_alpha_optimality(alphas=(1, 2, 3, 5), *, image_size=16, n_train=4000, n_test=200, estimator=None,
                       sigma=0.1, sigmas=None, window=SLOPE_WINDOW, n_psnr_images=200, n_compare=8, device="cpu",
                       random_state=0, verbose=0):
    """PSNR-vs-noise slopes on C^alpha images against the optimum alpha/(alpha+1), one model per alpha.

    Also returns, per alpha, the Jacobian spectrum and coefficients at one test image at ``sigma`` and the
    mean PSNR of the network against oracle / threshold shrinkage in its own basis, wavelets and the DCT
    on ``n_compare`` test images.
    """
    from gahb.datasets import make_c_alpha

    seed = resolve_seed(random_state)
    sigmas = paper_sigmas() if sigmas is None else np.asarray(sigmas, np.float64)
    results = []
    for i, a in enumerate(alphas):
        t0 = time.perf_counter()
        data = make_c_alpha(n_train + n_test, image_size=image_size, alpha=float(a), random_state=seed + i)
        X = data.data.astype(np.float64)
        den = _estimator(estimator, data.image_shape, seed, device).set_params(verbose=verbose).fit(X[:n_train])
        fit_s = time.perf_counter() - t0
        X_test = X[n_train:]
        res = Bunch(alpha=float(a), optimal_slope=a / (a + 1), paper_slope=PAPER_C_ALPHA_SLOPES.get(int(a)),
                    curve=_curve(den, X_test, sigmas, n_psnr_images, seed, window),
                    spectrum=adaptive_spectrum(den, X_test[0], sigma, random_state=seed),
                    clean=X_test[0], image_shape=den.image_shape_, fit_seconds=fit_s,
                    shrinkage=_shrinkage_table(den, X_test[:n_compare], sigma, seed),
                    wavelet_coefficients=np.abs(wavelet_basis(den.image_shape_).T @ X_test[0]))
        res.slope = res.curve.slope
        results.append(res)
        if verbose:
            print(f"alpha={a}: slope {res.slope:.3f} (optimum {res.optimal_slope:.3f}), fit {fit_s:.0f} s", flush=True)
    return Bunch(results=results, window=tuple(window), sigma=float(sigma),
                 config=dict(alphas=list(alphas), image_size=image_size, n_train=n_train, n_test=n_test,
                             estimator=(estimator or DiffusionDenoiser(**DEFAULT_ESTIMATOR)).get_params(deep=False),
                             n_psnr_images=n_psnr_images, random_state=seed, device=str(device)))


def _principal_cosines(E, T):
    """Cosines of the principal angles between span(E) and span(T) (columns), descending."""
    Q1, _ = np.linalg.qr(E)
    Q2, _ = np.linalg.qr(T)
    return np.clip(np.linalg.svd(Q1.T @ Q2, compute_uv=False), 0.0, 1.0)


def disk_optimality(*, image_size=16, n_train=4000, n_test=200, estimator=None, sigma=0.04,
                    spectrum_sigmas=(0.01, 0.02, 0.04, 0.08, 0.16, 0.32), sigmas=None, window=SLOPE_WINDOW,
                    n_psnr_images=200, n_eigen_images=8, device="cpu", random_state=0, verbose=0, return_model=False):
    """Disks (a 5-D manifold): Jacobian spectrum at ``sigma``, principal angles of the top-5 eigenvectors
    with the tangent space, and the PSNR slope against the optimum 1 (output = input + 10 log10(d / 5))."""
    from gahb.datasets import disk_tangents, make_disks

    seed = resolve_seed(random_state)
    sigmas = paper_sigmas() if sigmas is None else np.asarray(sigmas, np.float64)
    t0 = time.perf_counter()
    data = make_disks(n_train + n_test, image_size=image_size, random_state=seed)
    X = data.data.astype(np.float64)
    den = _estimator(estimator, data.image_shape, seed, device).set_params(verbose=verbose).fit(X[:n_train])
    fit_s = time.perf_counter() - t0
    X_test, P_test = X[n_train:], data.params[n_train:]
    T = disk_tangents(P_test[:n_eigen_images], image_size)
    spectra, cosines = [], []
    for i in range(min(n_eigen_images, n_test)):
        s = adaptive_spectrum(den, X_test[i], sigma, random_state=seed, index=i)
        spectra.append(s)
        cosines.append(_principal_cosines(s.components[:5].T, T[i].T))
    d = X.shape[1]
    by_sigma = []
    for s in spectrum_sigmas:
        sp = adaptive_spectrum(den, X_test[0], s, random_state=seed)
        lam = sp.eigenvalues
        by_sigma.append(dict(sigma=float(s), trace=float(lam.sum()), n_above_0_5=int((lam > 0.5).sum()),
                             n_above_0_1=int((lam > 0.1).sum()), mse_optimal_5dim=5 * s**2))
    curve = _curve(den, X_test, sigmas, n_psnr_images, seed, window)
    res = Bunch(curve=curve, slope=curve.slope, optimal_slope=1.0, optimal_offset=10 * np.log10(d / 5),
                eigenvalues=np.stack([s.eigenvalues[:10] for s in spectra]), spectra=spectra,
                principal_cosines=np.stack(cosines), tangents=T, clean=X_test[:n_eigen_images],
                spectrum_by_sigma=by_sigma, sigma=float(sigma), image_shape=den.image_shape_, fit_seconds=fit_s,
                window=tuple(window), paper_eigenvalues=PAPER_DISK_EIGENVALUES,
                config=dict(image_size=image_size, n_train=n_train, n_test=n_test, random_state=seed,
                            estimator=den.get_params(deep=False), n_psnr_images=n_psnr_images, device=str(device)))
    res.principal_angles_deg = np.degrees(np.arccos(res.principal_cosines))
    if return_model:
        res.model, res.data = den, data
    return res


def shuffled_control(X_train, X_test, image_shape, *, estimator=None, sigma=0.04, sigmas=None, base_model=None,
                     window=SLOPE_WINDOW, n_psnr_images=200, device="cpu", random_state=0, verbose=0):
    """The same data with one fixed pixel permutation (GAHB App. C.3): the optimal MSE is unchanged, so any
    PSNR loss and any slower eigenvalue decay is the network's inductive bias. ``base_model`` reuses a fitted
    model of the unshuffled data."""
    seed = resolve_seed(random_state)
    sigmas = paper_sigmas() if sigmas is None else np.asarray(sigmas, np.float64)
    X_train, X_test = np.asarray(X_train, np.float64), np.asarray(X_test, np.float64)
    from gahb.datasets import shuffle_pixels, unshuffle_pixels

    Xs_train, perm = shuffle_pixels(X_train, random_state=seed)
    Xs_test, _ = shuffle_pixels(X_test, permutation=perm)
    out = Bunch(permutation=perm, sigma=float(sigma), window=tuple(window), image_shape=tuple(image_shape))
    for name, tr, te in (("original", X_train, X_test), ("shuffled", Xs_train, Xs_test)):
        t0 = time.perf_counter()
        den = base_model if (name == "original" and base_model is not None) else \
            _estimator(estimator, image_shape, seed, device).set_params(verbose=verbose).fit(tr)
        sp = adaptive_spectrum(den, te[0], sigma, random_state=seed)
        if name == "shuffled":  # un-permute the eigenvectors for display
            sp.components_unshuffled = unshuffle_pixels(sp.components, perm)
        out.image_shape = tuple(den.image_shape_)
        out[name] = Bunch(curve=_curve(den, te, sigmas, n_psnr_images, seed, window), spectrum=sp,
                          fit_seconds=time.perf_counter() - t0)
    out.psnr_loss = float(np.mean(out.original.curve.output_psnr - out.shuffled.curve.output_psnr))
    return out


# ---------------------------------------------------------------------------------------------- reports


def _curve_axes(ax, curves, labels, optimal=None):
    for c, lab in zip(curves, labels):
        ax.plot(c.input_psnr, c.output_psnr, "o-", ms=3, label=f"{lab}: slope {c.slope:.2f}")
    lo = min(c.input_psnr.min() for c in curves)
    hi = max(c.input_psnr.max() for c in curves)
    ax.plot([lo, hi], [lo, hi], "k:", lw=0.8, label="identity")
    for slope, anchor_x, anchor_y, lab in optimal or []:
        xs = np.array([lo, hi])
        ax.plot(xs, anchor_y + slope * (xs - anchor_x), "--", lw=0.8, label=lab)
    ax.set_xlabel("input PSNR (dB)")
    ax.set_ylabel("output PSNR (dB)")
    ax.legend(fontsize=6)


def _vec_grid(rows, labels, shape, col_labels=None, title=None):
    from gahb.report import plot_image_grid

    return plot_image_grid(rows, shape, row_labels=labels, col_labels=col_labels, vmin=None, vmax=None, title=title)


def _eig_cols(k_max):
    return [k for k in (0, 1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 512) if k < k_max]


def write_c_alpha_report(res, output_dir):
    """``report.md`` / ``report.json`` with slope table, curves, local slopes, spectra and eigenvector grids."""
    from gahb.report import Report, pyplot

    plt = pyplot()
    rep = Report(output_dir, "C^alpha images: PSNR slopes and adaptive bases")
    lo, hi = res.window
    rep.add_text(f"Slope = least-squares fit of output vs input PSNR over input PSNR in [{lo:g}, {hi:g}] dB. "
                 f"Config: `{res.config}`.")
    table = [dict(alpha=r.alpha, slope=r.slope, optimum=r.optimal_slope, paper=r.paper_slope,
                  points=r.curve.n_points, trace_J=r.spectrum.effective_dimension, asymmetry=r.spectrum.asymmetry,
                  fit_s=r.fit_seconds) for r in res.results]
    rep.add_table(table, precision=3)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for r in res.results:
        c = r.curve
        axes[0].plot(c.input_psnr, c.output_psnr, "o-", ms=3, label=f"alpha={r.alpha:g}: {r.slope:.2f} "
                     f"(opt {r.optimal_slope:.2f})")
        mx, sl = local_slopes(c.input_psnr, c.output_psnr)
        line, = axes[1].plot(mx, sl, "o-", ms=3, label=f"alpha={r.alpha:g}")
        axes[1].axhline(r.optimal_slope, color=line.get_color(), ls="--", lw=0.8)
    axes[0].plot([0, 42], [0, 42], "k:", lw=0.8)
    axes[0].axvspan(lo, hi, color="0.9")
    axes[0].set(xlabel="input PSNR (dB)", ylabel="output PSNR (dB)")
    axes[0].legend(fontsize=7)
    axes[1].axvspan(lo, hi, color="0.9")
    axes[1].set(xlabel="input PSNR (dB)", ylabel="local slope", ylim=(0, 1.3))
    axes[1].legend(fontsize=7)
    rep.add_figure(fig, "c_alpha_psnr", "Output vs input PSNR (grey: fit window) and local slopes (dashed: alpha/(alpha+1))")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for r in res.results:
        axes[0].plot(r.spectrum.eigenvalues, label=f"alpha={r.alpha:g}")
        axes[1].semilogy(np.abs(r.spectrum.coefficients), lw=0.8, label=f"alpha={r.alpha:g}, adaptive")
    r0 = res.results[-1]
    axes[1].semilogy(np.sort(r0.wavelet_coefficients)[::-1], "k--", lw=0.8, label=f"alpha={r0.alpha:g}, wavelet (sorted)")
    axes[0].set(xlabel="k", ylabel="lambda_k", title=f"Jacobian eigenvalues, sigma={res.sigma:g}")
    axes[1].set(xlabel="k", ylabel="|<x, e_k(y)>|", title="clean-image coefficients")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=6)
    rep.add_figure(fig, "c_alpha_spectrum", "Shrinkage factors and coefficients of the clean image on the adaptive basis")
    ks = _eig_cols(len(r0.spectrum.eigenvalues))
    rows = [[r.clean, r.spectrum.noisy] + [r.spectrum.components[k] for k in ks] for r in res.results]
    rep.add_figure(_vec_grid(rows, [f"a={r.alpha:g}" for r in res.results], r0.image_shape[1:],
                             ["clean", "noisy"] + [f"e{k}" for k in ks]), "c_alpha_eigenvectors",
                   f"Adaptive basis vectors e_k(y) at sigma={res.sigma:g} (each image scaled to its own range)")
    rep.add_heading("Network vs shrinkage in its own basis and in fixed bases")
    rep.add_text(f"Mean output PSNR (dB) on test images at sigma = {res.sigma:g}.")
    rep.add_table([dict(method=row["method"], **{f"alpha={r.alpha:g}": r.shrinkage[i]["psnr"] for r in res.results})
                   for i, row in enumerate(res.results[0].shrinkage)], precision=2)
    rep.data.update(window=res.window, sigma=res.sigma, config=res.config, results=[dict(
        alpha=r.alpha, slope=r.slope, optimal_slope=r.optimal_slope, paper_slope=r.paper_slope,
        input_psnr=r.curve.input_psnr, output_psnr=r.curve.output_psnr, eigenvalues=r.spectrum.eigenvalues,
        effective_dimension=r.spectrum.effective_dimension, asymmetry=r.spectrum.asymmetry,
        homogeneity_error=r.spectrum.homogeneity_error, shrinkage=r.shrinkage, fit_seconds=r.fit_seconds)
        for r in res.results])
    return rep.write()


def write_disk_report(res, output_dir):
    """Report of :func:`disk_optimality`: eigenvalues vs the paper, tangent-space angles, PSNR slope."""
    from gahb.report import Report, pyplot

    plt = pyplot()
    rep = Report(output_dir, "Disks: a 5-dimensional manifold")
    lam = res.eigenvalues
    rep.add_text(f"Top-10 Jacobian eigenvalues at sigma = {res.sigma:g} (first test image, mean and std over "
                 f"{len(lam)} test images) next to the paper's Fig. 5 (80 x 80, 10^5 disks). Config: `{res.config}`.")
    rep.add_table([dict(k=k, paper=res.paper_eigenvalues[k], first_image=lam[0, k], mean=lam[:, k].mean(),
                        std=lam[:, k].std()) for k in range(lam.shape[1])], precision=3)
    ang = res.principal_angles_deg
    rep.add_text("Principal angles (degrees) between the top-5 eigenvectors and the 5-D tangent space "
                 "(0 = inside the tangent space).")
    rep.add_table([dict(angle=j + 1, first_image=ang[0, j], mean=ang[:, j].mean(), max=ang[:, j].max())
                   for j in range(ang.shape[1])], precision=1)
    c = res.curve
    rep.add_text(f"PSNR slope over input PSNR {res.window} dB: **{res.slope:.3f}** (optimum 1; optimal output "
                 f"PSNR = input + {res.optimal_offset:.1f} dB).")
    rep.add_table(res.spectrum_by_sigma, precision=3, caption="Spectrum of the first test image against sigma:")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    mid = np.mean(c.input_psnr)
    _curve_axes(axes[0], [c], ["network"], [(1.0, mid, mid + res.optimal_offset, "optimal (5 sigma^2)")])
    for s in res.spectra[:4]:
        axes[1].plot(s.eigenvalues[:40], "o-", ms=2, lw=0.8)
    axes[1].plot(res.paper_eigenvalues, "kx", label="paper (80x80)")
    axes[1].set(xlabel="k", ylabel="lambda_k", title=f"sigma={res.sigma:g}")
    axes[1].legend(fontsize=7)
    rep.add_figure(fig, "disks_psnr_spectrum", "PSNR curve against the optimum, and the top eigenvalues")
    Tq = [np.linalg.qr(res.tangents[0].T)[0].T]
    rows = [[res.clean[0], res.spectra[0].noisy, res.spectra[0].denoised],
            [res.spectra[0].components[k] for k in range(10)], list(Tq[0])]
    rep.add_figure(_vec_grid(rows, ["image", "e_0..9", "tangent"], res.image_shape[1:]), "disks_eigenvectors",
                   "Clean / noisy / denoised; top-10 eigenvectors; orthonormalised tangent vectors")
    rep.data.update(sigma=res.sigma, slope=res.slope, window=res.window, eigenvalues=lam,
                    paper_eigenvalues=res.paper_eigenvalues, principal_angles_deg=ang,
                    input_psnr=c.input_psnr, output_psnr=c.output_psnr, optimal_offset=res.optimal_offset,
                    spectrum_by_sigma=res.spectrum_by_sigma, asymmetry=[s.asymmetry for s in res.spectra],
                    config=res.config, fit_seconds=res.fit_seconds)
    return rep.write()


def write_shuffled_report(res, output_dir):
    """Report of :func:`shuffled_control`."""
    from gahb.report import Report, pyplot

    plt = pyplot()
    rep = Report(output_dir, "Shuffled-pixel control")
    o, s = res.original, res.shuffled
    rep.add_table([dict(data=n, slope=b.curve.slope, mean_psnr=np.mean(b.curve.output_psnr),
                        trace_J=b.spectrum.effective_dimension, lambda_0=b.spectrum.eigenvalues[0],
                        lambda_9=b.spectrum.eigenvalues[9], lambda_49=b.spectrum.eigenvalues[49])
                   for n, b in (("original", o), ("shuffled", s))], precision=3)
    rep.add_text(f"Mean PSNR loss from shuffling: **{res.psnr_loss:.2f} dB** (the optimal denoiser loses nothing).")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    _curve_axes(axes[0], [o.curve, s.curve], ["original", "shuffled"])
    axes[1].plot(o.spectrum.eigenvalues, label="original")
    axes[1].plot(s.spectrum.eigenvalues, label="shuffled")
    axes[1].set(xlabel="k", ylabel="lambda_k", title=f"sigma={res.sigma:g}")
    axes[1].legend(fontsize=7)
    rep.add_figure(fig, "shuffled_psnr_spectrum", "PSNR curves and spectra, original vs shuffled pixels")
    ks = _eig_cols(len(o.spectrum.eigenvalues))
    rows = [[o.spectrum.components[k] for k in ks], [s.spectrum.components_unshuffled[k] for k in ks]]
    rep.add_figure(_vec_grid(rows, ["original", "shuffled*"], res.image_shape[1:], [f"e{k}" for k in ks]),
                   "shuffled_eigenvectors", "Eigenvectors; shuffled* = the shuffled model's, un-permuted")
    rep.data.update(psnr_loss=res.psnr_loss, sigma=res.sigma, window=res.window, **{
        n: dict(slope=b.curve.slope, input_psnr=b.curve.input_psnr, output_psnr=b.curve.output_psnr,
                eigenvalues=b.spectrum.eigenvalues, trace=b.spectrum.effective_dimension, fit_seconds=b.fit_seconds)
        for n, b in (("original", o), ("shuffled", s))})
    return rep.write()
