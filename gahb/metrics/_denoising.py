"""Denoising PSNR curves on training and held-out images and their gap (paper Fig. 1, App. B.4)."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params

from gahb._checks import RANDOM_STATE, check_rows, resolve_image_shape, resolve_seed
from gahb._networks import call_denoiser, module_dtype
from gahb._utils import psnr, to_images, to_rows
from gahb.core.random import torch_generator
from gahb.metrics._common import POSITIVE_INT, _real


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
    """``rows -> denoised rows`` of the same shape; a wrong output shape is a ``ValueError`` naming both shapes."""
    if hasattr(denoiser, "transform") and hasattr(denoiser, "fit"):
        def fn(rows):
            out = np.asarray(denoiser.transform(rows), dtype=np.float64)
            if out.shape != rows.shape:
                raise ValueError(f"{type(denoiser).__name__}.transform returned shape {out.shape} for rows of shape "
                                 f"{rows.shape}: a denoiser must return one denoised image per row, of the same size.")
            return out

        return fn
    if callable(denoiser):
        if image_shape is None:
            raise ValueError("image_shape is required when the denoiser is a torch callable.")

        def fn(rows):
            shape = resolve_image_shape(tuple(image_shape), rows.shape[1])
            with torch.no_grad():
                y = to_images(rows, shape, device=device)
                return to_rows(call_denoiser(denoiser, y), np.float64)

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
    X = check_rows(X, "X", finite=True).astype(np.float64, copy=False)
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
    s = _real(sigmas, "sigmas").ravel()
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
    a = _real(getattr(train_curve, "output_psnr", train_curve), "train_curve")
    b = _real(getattr(test_curve, "output_psnr", test_curve), "test_curve")
    if a.shape != b.shape:
        raise ValueError(f"train and test curves must be on the same grid; got shapes {a.shape} and {b.shape}.")
    return float(np.nanmean(a - b))


def _torch_denoiser(denoiser, image_shape, device):
    """(torch callable on (B, C, H, W), (C, H, W), device) of a fitted estimator or a torch callable."""
    from gahb._checks import check_image_shape

    if hasattr(denoiser, "denoiser_"):
        return denoiser.denoiser_, tuple(denoiser.image_shape_), getattr(denoiser, "device_", torch.device("cpu"))
    if hasattr(denoiser, "fit") and hasattr(denoiser, "get_params"):
        raise ValueError(f"{type(denoiser).__name__} is not fitted (no denoiser_); fit it first.")
    if image_shape is None:
        raise ValueError("image_shape is required when the denoiser is a torch callable.")
    return denoiser, check_image_shape(image_shape), torch.device(device)


@validate_params(
    {
        "denoiser": [HasMethods(["transform"]), callable],
        "Y": ["array-like"],
        "sigma": [Interval(numbers.Real, 0, None, closed="neither")],
        "method": [StrOptions({"auto", "exact", "hutchinson"})],
        "n_probes": [Interval(numbers.Integral, 2, None, closed="left")],
        "image_shape": [None, tuple, list],
        "random_state": ["random_state"],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def sure(denoiser, Y, sigma, *, method="auto", n_probes=8, image_shape=None, random_state=0, device="cpu"):
    """Stein's unbiased risk estimate of the denoising MSE, from noisy images alone (paper eq. 7).

    For y = x + sigma z with Gaussian z, ``||y - f(y)||^2 + 2 sigma^2 tr J_f(y) - sigma^2 d`` has the same
    expectation as ``||x - f(y)||^2``: the error against the unknown clean image. The trace of the
    denoiser's Jacobian (its divergence, the sum of its shrinkage factors) comes from the exact Jacobian or
    from Hutchinson probes.

    Parameters
    ----------
    denoiser : fitted estimator with ``denoiser_`` (e.g. ``DiffusionDenoiser``), or a torch callable
        A callable maps ``(B, C, H, W)`` tensors to denoised ones and needs ``image_shape``.
    Y : array-like of shape (n_images, n_features)
        Noisy images ``x + sigma z``.
    sigma : float
        Noise standard deviation (on the scale of ``Y``).
    method : {"auto", "exact", "hutchinson"}, default="auto"
        ``exact``: trace of the dense Jacobian (d vector-Jacobian products per image); ``hutchinson``:
        ``n_probes`` Rademacher probes per image; ``auto``: exact up to 1024 pixels.
    n_probes : int, default=8
        Probes per image for ``hutchinson``.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(C, H, W)``; only for a torch callable.
    random_state : int, RandomState or None, default=0
        Seed of the Hutchinson probes.
    device : str, default="cpu"
        For a torch callable.

    Returns
    -------
    result : Bunch
        ``mse``: the estimate of the per-pixel MSE (mean over images); ``std_error``: its standard error
        (std of the per-image estimates / sqrt(n)); ``psnr``: 10 log10(1 / mse); ``per_image`` (n,) per-pixel
        estimates; ``divergence`` (n,) tr J(y); ``residual`` (n,) per-pixel ``||y - f(y)||^2 / d``.

    See Also
    --------
    psnr_curve : The PSNR against clean images, when they are known.
    gahb.JacobianEigenbasis : The eigenvalues whose sum is the divergence.

    Examples
    --------
    >>> import numpy as np, torch
    >>> half = lambda y: 0.5 * y  # a linear shrinkage: tr J = d / 2
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((400, 16)); Y = X + 0.1 * rng.standard_normal(X.shape)
    >>> est = sure(half, Y, 0.1, image_shape=(4, 4))
    >>> true = float(np.mean((0.5 * Y - X) ** 2))
    >>> bool(abs(est.mse - true) < 3 * est.std_error)
    True
    """
    from gahb.core import jacobian as jb

    f, shape, dev = _torch_denoiser(denoiser, image_shape, device)
    Y = check_rows(Y, "Y", finite=True).astype(np.float64, copy=False)
    d = int(np.prod(shape))
    if Y.shape[1] != d:
        raise ValueError(f"Y has {Y.shape[1]} features but the denoiser works on images of shape {shape}.")
    exact = method == "exact" or (method == "auto" and d <= 1024)
    dtype = module_dtype(f)
    seed = resolve_seed(random_state)
    residual, div = np.empty(Y.shape[0]), np.empty(Y.shape[0])
    for i, row in enumerate(Y):
        y = torch.as_tensor(row, dtype=dtype, device=dev).reshape(shape)
        with torch.no_grad(), jb.eval_mode(f):
            fy = f(y.unsqueeze(0))[0]
        residual[i] = float(((y - fy).double() ** 2).sum()) / d
        if exact:
            div[i] = float(jb.full_jacobian(f, y).double().trace())
        else:
            div[i] = jb.hutchinson_trace(f, y, int(n_probes), random_state=seed + i).estimate
    per_image = residual + (2 * sigma**2 * div - sigma**2 * d) / d
    mse = float(per_image.mean())
    se = float(per_image.std(ddof=1) / np.sqrt(len(per_image))) if len(per_image) > 1 else float("nan")
    return Bunch(mse=mse, std_error=se, psnr=float(10 * np.log10(1 / mse)) if mse > 0 else float("inf"),
                  per_image=per_image, divergence=div, residual=residual)
