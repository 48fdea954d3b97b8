"""Shared helpers of the sklearn layer: seeds, devices, image shapes, array <-> tensor."""

from __future__ import annotations

import numpy as np
import torch

from gahb._checks import check_image_shape

__all__ = [
    "resolve_device",
    "to_images",
    "to_rows",
    "psnr",
    "image_rows",
]


def resolve_device(device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is checked and returned."""
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device; got {device!r}.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available on this machine.")
    return dev


def to_images(X, image_shape, device="cpu", dtype=torch.float32) -> torch.Tensor:
    """2-D array ``(n, C*H*W)`` -> tensor ``(n, C, H, W)`` on ``device`` (a copy; X is untouched)."""
    # np.array copies, so read-only or memory-mapped input is fine and never aliased
    t = torch.from_numpy(np.array(X, dtype=np.float64 if dtype == torch.float64 else np.float32, order="C"))
    return t.reshape((t.shape[0],) + tuple(image_shape)).to(device)


def to_rows(t: torch.Tensor, dtype=np.float32) -> np.ndarray:
    """Tensor ``(n, C, H, W)`` -> numpy ``(n, C*H*W)`` of ``dtype``."""
    return t.detach().reshape(t.shape[0], -1).to("cpu", torch.float64).numpy().astype(dtype, copy=False)


def psnr(x, ref, data_range: float = 1.0):
    """Per-image PSNR in dB, ``10 log10(range^2 / mean squared error)``; works on numpy or torch rows."""
    if isinstance(x, torch.Tensor):
        mse = ((x - ref) ** 2).reshape(x.shape[0], -1).mean(dim=1)
        return 10 * torch.log10(data_range**2 / mse.clamp_min(1e-20))
    x = np.asarray(x, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    mse = ((x - ref) ** 2).reshape(x.shape[0], -1).mean(axis=1)
    return 10 * np.log10(data_range**2 / np.maximum(mse, 1e-20))


def image_rows(X, image_shape=None):
    """Image-shaped input as 2-D rows: ``(n, H, W)`` and ``(n, C, H, W)`` arrays are flattened in C order.

    Returns ``(X, shape)``: ``shape`` is the ``(C, H, W)`` of the images (``C = 1`` for ``(n, H, W)``) or
    ``None`` when ``X`` is not image-shaped, in which case ``X`` comes back unchanged for ``validate_data``
    to check. A given ``image_shape`` (``(H, W)`` or ``(C, H, W)``) must agree with the array's images.
    """
    ndim = getattr(X, "ndim", None)
    if ndim is None and isinstance(X, (list, tuple)):
        try:
            X = np.asarray(X)
        except ValueError:  # ragged nested lists: validate_data reports them
            return X, None
        ndim = X.ndim
    if ndim not in (3, 4):
        return X, None
    shape = tuple(int(s) for s in X.shape[1:])
    shape = (1,) + shape if ndim == 3 else shape
    if image_shape is not None and check_image_shape(image_shape) != shape:
        raise ValueError(f"X holds images of shape {shape} (C, H, W) but image_shape is {tuple(image_shape)}.")
    return np.reshape(X, (X.shape[0], -1)), shape


def fitted_rows(est, X, dtype=(np.float64, np.float32), attributes=None) -> np.ndarray:
    """Rows of ``X`` (rows or image-shaped) checked for a fitted estimator: fitted, same features and images."""
    from sklearn.utils.validation import check_is_fitted, validate_data

    check_is_fitted(est, attributes)
    X, _ = image_rows(X, est.image_shape_)
    return validate_data(est, X, dtype=list(dtype) if isinstance(dtype, tuple) else dtype, reset=False)
