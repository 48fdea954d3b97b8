"""Denoising PSNR curves on training and held-out images and their gap (paper Fig. 1, App. B.4)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, validate_params

from gahb._checks import RANDOM_STATE, check_rows, resolve_image_shape, resolve_seed
from gahb._utils import psnr, to_images, to_rows
from gahb.core.random import torch_generator
from gahb.metrics._common import POSITIVE_INT


def paper_sigmas() -> np.ndarray:
    """The paper's 15 noise levels: sigma_255 = logspace(0.3, 2.4, 15), input PSNR 42.1 -> 0.1 dB (Fig. 1).

    The grid of the authors' evaluation notebook: exact 3 dB steps of input PSNR ``-20 log10 sigma``,
    on the [0, 1] intensity scale. :data:`PAPER_SIGMAS` holds the same array.

    Returns
    -------
    sigmas : ndarray of shape (15,)
        Increasing noise standard deviations, 2/255 to 251/255.

    See Also
    --------
    psnr_curve : Uses this grid by default.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.metrics import paper_sigmas
    >>> np.round(-20 * np.log10(paper_sigmas()[[0, -1]]), 2)
    array([42.13,  0.13])
    """
    return np.logspace(0.3, 2.4, 15) / 255.0


PAPER_SIGMAS = paper_sigmas()


def _denoise_fn(denoiser, image_shape, device):
    if hasattr(denoiser, "transform") and hasattr(denoiser, "fit"):
        return lambda rows: np.asarray(denoiser.transform(rows), dtype=np.float64)
    if callable(denoiser):
        if image_shape is None:
            raise ValueError("image_shape is required when the denoiser is a torch callable.")
        def fn(rows):
            shape = resolve_image_shape(tuple(image_shape), rows.shape[1])
            with torch.no_grad():
                y = to_images(rows, shape, device=device)
                return to_rows(denoiser(y), np.float64)

        return fn
    raise TypeError("denoiser must be a fitted estimator with transform() or a callable on (B, C, H, W) tensors.")


@validate_params({"denoiser": [HasMethods(["transform"]), callable], "X": ["array-like"],
                  "sigmas": ["array-like", None], "n_images": [None] + POSITIVE_INT, "random_state": RANDOM_STATE,
                  "image_shape": ["array-like", None], "batch_size": POSITIVE_INT, "device": [str, torch.device]},
                 prefer_skip_nested_validation=False)
def psnr_curve(denoiser, X, *, sigmas=None, n_images: int | None = 300, random_state=0, image_shape=None,
               batch_size: int = 256, device="cpu"):
    """Output PSNR of a denoiser against input noise level (paper Fig. 1), averaged per image.

    Parameters
    ----------
    denoiser : fitted estimator with ``transform`` (e.g. ``DiffusionDenoiser``), or a torch callable
        A callable maps noisy ``(B, C, H, W)`` tensors to denoised ones (needs ``image_shape``).
    X : array-like of shape (n, n_features)
        Clean images in [0, 1] (training images for the train curve, held-out ones for the test curve).
    sigmas : array-like, default=None
        Noise standard deviations on the [0, 1] scale; default :data:`PAPER_SIGMAS` (input PSNR 42.1 -> 0.1 dB
        in 3 dB steps).
    n_images : int or None, default=300
        Images evaluated per level: the first ``n_images`` rows, tiled (fresh noise per copy) when X has
        fewer, as in the paper's code. ``None`` uses X as is.
    random_state : int, RandomState instance, Generator or None, default=0
        Seed of the added noise (the same noise for train and test sets of the same size).
    image_shape : tuple, default=None
        Needed for a torch callable only.
    batch_size : int, default=256
        Images denoised at once.
    device : str or torch.device, default="cpu"
        For a torch callable.

    Returns
    -------
    result : Bunch
        ``sigma``, ``input_psnr`` (= -20 log10 sigma), ``output_psnr`` (mean over images of the per-image PSNR),
        ``output_psnr_std``.

    See Also
    --------
    psnr_gap : The generalization gap between a train and a test curve.
    paper_sigmas : The default noise grid.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.metrics import psnr_curve
    >>> identity = lambda y: y  # a "denoiser" that returns its input: output PSNR = input PSNR
    >>> X = np.full((4, 64), 0.5)
    >>> c = psnr_curve(identity, X, sigmas=[0.1, 0.01], n_images=None, image_shape=(8, 8))
    >>> np.round(c.input_psnr, 1), bool(np.allclose(c.output_psnr, c.input_psnr, atol=1.0))
    (array([20., 40.]), True)
    """
    X = check_rows(X, "X").astype(np.float64, copy=False)
    sigmas = PAPER_SIGMAS if sigmas is None else check_sigmas(sigmas, allow_empty=False)
    if n_images is not None:
        reps = -(-int(n_images) // X.shape[0])
        X = np.tile(X, (reps, 1))[: int(n_images)]
    batch_size = int(batch_size)
    fn = _denoise_fn(denoiser, image_shape, device)
    gen = torch_generator(resolve_seed(random_state))
    means, stds = [], []
    for s in sigmas:
        vals = []
        for b in range(0, X.shape[0], batch_size):
            clean = X[b : b + batch_size]
            noise = torch.randn(clean.shape, generator=gen, dtype=torch.float64).numpy()
            out = fn((clean + s * noise).astype(np.float32))
            vals.append(psnr(out, clean))
        v = np.concatenate(vals)
        means.append(float(np.nanmean(v)))
        stds.append(float(np.nanstd(v)))
    return Bunch(sigma=sigmas, input_psnr=-20 * np.log10(sigmas), output_psnr=np.array(means),
                 output_psnr_std=np.array(stds))


def check_sigmas(sigmas, *, allow_empty: bool) -> np.ndarray:
    """A 1-D float64 array of positive finite noise levels (``allow_empty``: an empty grid skips the curves)."""
    s = np.asarray(sigmas, dtype=np.float64).ravel()
    if (s.size == 0 and not allow_empty) or not np.all(np.isfinite(s)) or np.any(s <= 0):
        raise ValueError("sigmas must be a non-empty array of positive finite numbers"
                         + (" (or empty to skip the PSNR curves)." if allow_empty else "."))
    return s


@validate_params({"train_curve": [dict, "array-like"], "test_curve": [dict, "array-like"]},
                 prefer_skip_nested_validation=True)
def psnr_gap(train_curve, test_curve) -> float:
    """Generalization gap Delta(N): mean over the noise grid of PSNR_train - PSNR_test, in dB (paper App. B.4).

    Parameters
    ----------
    train_curve, test_curve : Bunch or array-like of shape (n_sigmas,)
        Two :func:`psnr_curve` results, or two arrays of output PSNRs on the same grid.

    Returns
    -------
    gap : float
        NaN-aware mean of the difference; near 0 once the model generalizes (paper Fig. 15).

    See Also
    --------
    psnr_curve : Computes the two curves.

    Examples
    --------
    >>> from gahb.metrics import psnr_gap
    >>> psnr_gap([30.0, 25.0, 20.0], [20.0, 20.0, 20.0])
    5.0
    """
    a = np.asarray(getattr(train_curve, "output_psnr", train_curve), dtype=np.float64)
    b = np.asarray(getattr(test_curve, "output_psnr", test_curve), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"train and test curves must be on the same grid; got shapes {a.shape} and {b.shape}.")
    return float(np.nanmean(a - b))
