"""PSNR slopes of the optimality experiments (paper §3.2, eqs. 11-13): a window fit and local slopes."""

from __future__ import annotations

import numpy as np
from sklearn.utils._param_validation import validate_params

__all__ = ["SLOPE_WINDOW", "psnr_slope", "local_slopes"]

# Least-squares window for the low-noise PSNR slope, in input PSNR (dB). The paper does not state its window;
# at 16 x 16 the power law of the oracle lives between the coarsest and finest scales, and
# above ~30 dB every coefficient of a 256-pixel image is above the noise, so every slope tends to 1.
SLOPE_WINDOW = (12.0, 30.0)

@validate_params({"input_psnr": ["array-like"], "output_psnr": ["array-like"], "window": ["array-like"]},
                 prefer_skip_nested_validation=True)
def psnr_slope(input_psnr, output_psnr, window=SLOPE_WINDOW):
    """Least-squares slope of output vs input PSNR over ``window`` = (lo, hi) dB of input PSNR.

    The optimal slope is alpha/(alpha+1) for C^alpha images (paper §3.2, eqs. 11-13) and 1 for a
    low-dimensional manifold.

    Parameters
    ----------
    input_psnr, output_psnr : array-like of shape (n_sigmas,)
        A PSNR curve, e.g. from :func:`gahb.metrics.psnr_curve`.
    window : (float, float), default=SLOPE_WINDOW
        Input-PSNR range (dB) of the fit; the paper does not state its own.

    Returns
    -------
    slope, intercept : float
    n_points : int
        Noise levels inside the window.

    See Also
    --------
    local_slopes : Slopes between neighbouring noise levels.

    Examples
    --------
    >>> from gahb.experiments.optimality import psnr_slope
    >>> psnr_slope([10.0, 20.0, 30.0, 40.0], [15.0, 20.0, 25.0, 99.0], window=(10, 30))
    (0.5, 10.0, 3)
    """
    x, yv = np.asarray(input_psnr, np.float64), np.asarray(output_psnr, np.float64)
    lo, hi = window
    keep = (x >= lo) & (x <= hi) & np.isfinite(yv)
    if keep.sum() < 2:
        raise ValueError(f"Fewer than 2 noise levels fall in the slope window {window} dB of input PSNR.")
    slope, intercept = np.polyfit(x[keep], yv[keep], 1)
    return float(slope), float(intercept), int(keep.sum())


@validate_params({"input_psnr": ["array-like"], "output_psnr": ["array-like"]}, prefer_skip_nested_validation=True)
def local_slopes(input_psnr, output_psnr):
    """Finite-difference slopes between neighbouring noise levels, at the midpoints.

    Parameters
    ----------
    input_psnr, output_psnr : array-like of shape (n_sigmas,)
        A PSNR curve, in any order of noise level.

    Returns
    -------
    mid_psnr : ndarray of shape (n_sigmas - 1,)
        Midpoints of neighbouring input PSNRs, increasing.
    slope : ndarray of shape (n_sigmas - 1,)

    See Also
    --------
    psnr_slope : One least-squares slope over a window.

    Examples
    --------
    >>> from gahb.experiments.optimality import local_slopes
    >>> local_slopes([30.0, 10.0, 20.0], [30.0, 20.0, 22.0])
    (array([15., 25.]), array([0.2, 0.8]))
    """
    x, yv = np.asarray(input_psnr, np.float64), np.asarray(output_psnr, np.float64)
    order = np.argsort(x)
    x, yv = x[order], yv[order]
    return 0.5 * (x[1:] + x[:-1]), np.diff(yv) / np.diff(x)
