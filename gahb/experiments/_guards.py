"""Guards of the sweeps: what would fail inside a fit is checked before it, what would mislead is said.

``generalization_curve`` calls these before its first fit (the estimator's settings, the overlap of its data)
and while scoring (diverged samples are left out of every metric explicitly, never scored as "no copy").
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import clone

from gahb._checks import resolve_image_shape
from gahb._utils import resolve_device
from gahb.exceptions import NearDuplicateWarning
from gahb.metrics import nearest_neighbors

__all__ = ["check_estimator", "check_overlap", "on_rows"]


def check_estimator(estimator, n_features):
    """What the fits and the sampler would reject, checked here, before the first fit (not in a worker after it):
    the parameters, the sampler's noise levels, the image shape against X, the device."""
    if not hasattr(estimator, "_validate_params"):
        return
    est = clone(estimator)
    est._validate_params()
    if hasattr(est, "_check_sigma_order"):
        est._check_sigma_order()
    params = est.get_params()
    if params.get("image_shape") is not None:
        resolve_image_shape(params["image_shape"], n_features)
    if isinstance(params.get("device"), str):
        resolve_device(params["device"])


def check_overlap(baseline, block_A, block_B, extra, threshold, remove_mean) -> list[str]:
    """Warnings, issued before any fit, when the data would make A and B agree (``baseline``: data_baseline of
    the two blocks) or the held-out PSNR look good."""
    msgs = []
    base = baseline.median
    if base >= threshold:
        msgs.append(f"models A and B train on near-duplicate images: the median similarity of each A image to its "
                    f"nearest B image is {base:.3f} (>= threshold {threshold}) at N = {block_A.shape[0]}, so a high "
                    "A-vs-B similarity would show shared images, not generalization. Remove near-duplicates before "
                    f"the split (gahb.datasets.remove_near_duplicates; gahb transition --dedup {threshold}).")
    if extra.shape[0]:
        sim = nearest_neighbors(extra, np.concatenate([block_A, block_B]), 1, remove_mean=remove_mean)[1][:, 0]
        if np.median(sim) >= threshold:
            msgs.append(f"the held-out images of the PSNR curves have near-duplicates in the training sets: median "
                        f"nearest-training similarity {np.median(sim):.3f} (>= threshold {threshold}; "
                        f"{np.mean(sim >= threshold):.0%} of them above it), so the test PSNR and the gap Delta(N) "
                        "would be measured on seen images. Remove near-duplicates before the split "
                        f"(gahb.datasets.remove_near_duplicates; gahb transition --dedup {threshold}).")
    for msg in msgs:
        warnings.warn(msg, NearDuplicateWarning, stacklevel=4)  # the caller of generalization_curve
    return msgs


def on_rows(ok, fn, *arrays, fill=np.nan):
    """``fn(*arrays[ok])`` scattered back to every row; rows not ``ok`` (diverged, non-finite samples) get ``fill``.

    The metrics reject NaN, so a diverged sample is left out explicitly here (and counted in ``n_nan_samples``).
    """
    out = np.full(ok.shape, fill)
    if ok.any():
        out[ok] = fn(*(a[ok] for a in arrays))
    return out
