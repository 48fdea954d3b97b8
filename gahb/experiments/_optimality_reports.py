"""Reports of the optimality experiments: tables, PSNR curves, spectra and eigenvector grids."""

from __future__ import annotations

import os

import numpy as np
from sklearn.utils._param_validation import validate_params

from gahb.experiments._slopes import local_slopes

__all__ = ["write_c_alpha_report", "write_disk_report", "write_shuffled_report"]

_REPORT = {"res": [dict], "output_dir": [str, os.PathLike]}


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


@validate_params(_REPORT, prefer_skip_nested_validation=True)
def write_c_alpha_report(res, output_dir):
    """``report.md`` / ``report.json`` with slope table, curves, local slopes, spectra and eigenvector grids.

    Parameters
    ----------
    res : Bunch
        A result of :func:`c_alpha_optimality`.
    output_dir : str or path-like
        Folder written (created): ``report.md``, ``report.json`` and the figures.

    Returns
    -------
    md_path, json_path : Path

    See Also
    --------
    gahb.report.Report : The report builder.

    Examples
    --------
    >>> import tempfile
    >>> from gahb import DiffusionDenoiser
    >>> from gahb.experiments.optimality import c_alpha_optimality, write_c_alpha_report
    >>> res = c_alpha_optimality([2], image_size=8, n_train=32, n_test=4, n_psnr_images=4, n_compare=2,
    ...                          estimator=DiffusionDenoiser(width=4, n_blocks=1, max_iter=5))
    >>> md, js = write_c_alpha_report(res, tempfile.mkdtemp())
    >>> md.name, js.name
    ('report.md', 'report.json')
    """
    from gahb.report import Report

    rep = Report(output_dir, "C^alpha images: PSNR slopes and adaptive bases")
    _fill_c_alpha(rep, res)
    return rep.write()


def _fill_c_alpha(rep, res) -> None:
    """The content of :func:`write_c_alpha_report` (a figure's report reuses it under its own header)."""
    from gahb.report import subplots

    lo, hi = res.window
    rep.add_text(f"Slope = least-squares fit of output vs input PSNR over input PSNR in [{lo:g}, {hi:g}] dB. "
                 f"Config: `{res.config}`.")
    table = [dict(alpha=r.alpha, slope=r.slope, optimum=r.optimal_slope, paper=r.paper_slope,
                  points=r.curve.n_points, trace_J=r.spectrum.effective_dimension, asymmetry=r.spectrum.asymmetry,
                  fit_s=r.fit_seconds) for r in res.results]
    rep.add_table(table, precision=3)
    fig, axes = subplots(1, 2, figsize=(10, 4))
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
    fig, axes = subplots(1, 2, figsize=(10, 3.5))
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


@validate_params(_REPORT, prefer_skip_nested_validation=True)
def write_disk_report(res, output_dir):
    """Report of :func:`disk_optimality`: eigenvalues vs the paper, tangent-space angles, PSNR slope.

    Parameters and returned paths as in :func:`write_c_alpha_report`, with ``res`` from :func:`disk_optimality`.

    See Also
    --------
    write_c_alpha_report, write_shuffled_report

    Examples
    --------
    >>> import tempfile
    >>> from gahb import DiffusionDenoiser
    >>> from gahb.experiments.optimality import disk_optimality, write_disk_report
    >>> res = disk_optimality(image_size=8, n_train=32, n_test=4, n_psnr_images=4, n_eigen_images=1,
    ...                       spectrum_sigmas=(0.04,), estimator=DiffusionDenoiser(width=4, n_blocks=1, max_iter=5))
    >>> md, js = write_disk_report(res, tempfile.mkdtemp())
    >>> (md.parent / "disks_eigenvectors.png").exists()
    True
    """
    from gahb.report import Report

    rep = Report(output_dir, "Disks: a 5-dimensional manifold")
    _fill_disk(rep, res)
    return rep.write()


def _fill_disk(rep, res) -> None:
    """The content of :func:`write_disk_report` (a figure's report reuses it under its own header)."""
    from gahb.report import subplots

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
    fig, axes = subplots(1, 2, figsize=(10, 3.8))
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


@validate_params(_REPORT, prefer_skip_nested_validation=True)
def write_shuffled_report(res, output_dir):
    """Report of :func:`shuffled_control`: PSNR curves, spectra and un-permuted eigenvectors.

    Parameters and returned paths as in :func:`write_c_alpha_report`, with ``res`` from :func:`shuffled_control`.

    See Also
    --------
    write_c_alpha_report, write_disk_report

    Examples
    --------
    >>> import tempfile
    >>> from gahb import DiffusionDenoiser
    >>> from gahb.datasets import make_disks
    >>> from gahb.experiments.optimality import shuffled_control, write_shuffled_report
    >>> X = make_disks(36, image_size=8, random_state=0).data
    >>> est = DiffusionDenoiser(width=4, n_blocks=1, max_iter=5)
    >>> "Shuffled" in write_shuffled_report(shuffled_control(X[:32], X[32:], (8, 8), n_psnr_images=4, estimator=est),
    ...                                     tempfile.mkdtemp())[0].read_text()
    True
    """
    from gahb.report import Report

    rep = Report(output_dir, "Shuffled-pixel control")
    _fill_shuffled(rep, res)
    return rep.write()


def _fill_shuffled(rep, res) -> None:
    """The content of :func:`write_shuffled_report` (a figure's report reuses it under its own header)."""
    from gahb.report import subplots

    o, s = res.original, res.shuffled
    rep.add_table([dict(data=n, slope=b.curve.slope, mean_psnr=np.mean(b.curve.output_psnr),
                        trace_J=b.spectrum.effective_dimension, lambda_0=b.spectrum.eigenvalues[0],
                        lambda_9=b.spectrum.eigenvalues[9], lambda_49=b.spectrum.eigenvalues[49])
                   for n, b in (("original", o), ("shuffled", s))], precision=3)
    rep.add_text(f"Mean PSNR loss from shuffling: **{res.psnr_loss:.2f} dB** (the optimal denoiser loses nothing).")
    fig, axes = subplots(1, 2, figsize=(10, 3.8))
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
