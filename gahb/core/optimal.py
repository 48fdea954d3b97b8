"""The empirical optimal denoiser: the exact posterior mean under the training set ("perfect memorizer").

For noisy ``y = x + sigma z`` with ``x`` drawn uniformly from the training set ``{x_i}``, the MMSE
denoiser is ``E[x | y] = sum_i softmax_i(-|y - x_i|^2 / 2 sigma^2) x_i``. A network that reaches it has
memorized its training set: sampling with it can only return training images (paper §2, the reference
against which generalization is measured).
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch import nn

from gahb._checks import check_image_shape

__all__ = ["EmpiricalOptimalDenoiser", "empirical_posterior_mean", "SubspaceProjection"]


def empirical_posterior_mean(y: torch.Tensor, X: torch.Tensor, sigma: torch.Tensor, chunk_size: int = 4096,
                             X_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Posterior mean sum_i softmax_i(-|y - x_i|^2 / 2 sigma^2) x_i, streamed over chunks of X (log-sum-exp).

    ``y``: (B, d); ``X``: (N, d); ``sigma``: (B,). Memory is O(B * chunk_size + B * d).

    See Also
    --------
    EmpiricalOptimalDenoiser : This posterior mean as a denoiser module.

    Examples
    --------
    >>> import torch
    >>> X = torch.eye(3, dtype=torch.float64)  # three training images
    >>> empirical_posterior_mean(X[:1] + 0.01, X, torch.tensor([0.05], dtype=torch.float64)).round(decimals=3)
    tensor([[1., 0., 0.]], dtype=torch.float64)
    """
    inv = 1.0 / (2.0 * sigma.to(y.dtype).clamp_min(1e-12) ** 2)
    y_sq = (y * y).sum(dim=1, keepdim=True)
    if X_sq is None:
        X_sq = (X * X).sum(dim=1)
    m = torch.full((y.shape[0], 1), -torch.inf, dtype=y.dtype, device=y.device)
    s = torch.zeros((y.shape[0], 1), dtype=y.dtype, device=y.device)
    acc = torch.zeros_like(y)
    for start in range(0, X.shape[0], chunk_size):
        xc = X[start : start + chunk_size]
        d2 = (y_sq - 2 * y @ xc.T + X_sq[start : start + chunk_size][None, :]).clamp_min(0)
        logits = -d2 * inv[:, None]
        m_new = torch.maximum(m, logits.max(dim=1, keepdim=True).values)
        scale = torch.exp(m - m_new)
        w = torch.exp(logits - m_new)
        acc = acc * scale + w @ xc
        s = s * scale + w.sum(dim=1, keepdim=True)
        m = m_new
    return acc / s


def _nearest_rms_distance(y: torch.Tensor, X: torch.Tensor, X_sq: torch.Tensor, chunk_size: int) -> torch.Tensor:
    y_sq = (y * y).sum(dim=1, keepdim=True)
    best = torch.full((y.shape[0],), torch.inf, dtype=y.dtype, device=y.device)
    for start in range(0, X.shape[0], chunk_size):
        xc = X[start : start + chunk_size]
        d2 = (y_sq - 2 * y @ xc.T + X_sq[start : start + chunk_size][None, :]).clamp_min(0)
        best = torch.minimum(best, d2.min(dim=1).values)
    return (best / y.shape[1]).sqrt()


class EmpiricalOptimalDenoiser(nn.Module):
    """Exact MMSE denoiser for the empirical distribution of a training set.

    Called as ``f(y, sigma)`` with ``y`` a noisy batch ``(B, C, H, W)`` and ``sigma`` a ``(B,)`` tensor (or a
    float) of noise standard deviations, as the samplers do for denoisers with ``requires_sigma = True``:
    they pass their own current noise estimate sigma_t. Called as ``f(y)`` it is a **blind** denoiser:
    sigma is estimated per image as the RMS distance from ``y`` to its nearest training image
    (``|y - x_nn| / sqrt(d)``, slightly below the true sigma), which keeps it usable wherever a blind
    denoiser is expected.

    Parameters
    ----------
    X_train : array-like of shape (n_train, n_features)
        Training images as rows.
    image_shape : tuple, default=None
        ``(H, W)`` or ``(C, H, W)``; ``None`` accepts any input whose size matches ``n_features``.
    chunk_size : int, default=4096
        Training images processed at once.
    dtype : torch.dtype, default=torch.float64
        Computation precision: the logits ``|y - x_i|^2 / 2 sigma^2`` lose accuracy in float32 at small sigma.

    See Also
    --------
    gahb.MemorizingDenoiser : This denoiser as a scikit-learn estimator with ``sample``.
    empirical_posterior_mean : The function it evaluates.

    Examples
    --------
    >>> import numpy as np, torch
    >>> X = np.random.default_rng(0).random((3, 16))
    >>> f = EmpiricalOptimalDenoiser(X, (4, 4))
    >>> y = torch.tensor(X[:1], dtype=torch.float32).reshape(1, 1, 4, 4)
    >>> bool(torch.allclose(f(y, torch.tensor([0.01])), y, atol=1e-5))
    True
    """

    requires_sigma = True

    def __init__(self, X_train, image_shape=None, chunk_size: int = 4096, dtype=torch.float64):
        super().__init__()
        X = np.asarray(X_train.detach().cpu() if isinstance(X_train, torch.Tensor) else X_train)
        if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"X_train must be a non-empty 2-D array (n_train, n_features); got shape {X.shape}.")
        if not np.issubdtype(X.dtype, np.number) or not np.all(np.isfinite(X)):
            raise ValueError("X_train must hold finite numbers.")
        if not isinstance(chunk_size, (numbers.Integral, np.integer)) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}.")
        self.image_shape = None if image_shape is None else check_image_shape(image_shape)
        if self.image_shape is not None and int(np.prod(self.image_shape)) != X.shape[1]:
            raise ValueError(f"image_shape {tuple(image_shape)} does not hold the {X.shape[1]} values of a row.")
        self.chunk_size = int(chunk_size)
        self.dtype = dtype
        t = torch.tensor(X, dtype=dtype)
        self.register_buffer("X_train", t)
        self.register_buffer("X_sq", (t * t).sum(dim=1))

    @property
    def n_train(self) -> int:
        return int(self.X_train.shape[0])

    def forward(self, y: torch.Tensor, sigma=None) -> torch.Tensor:
        """Posterior mean E[x | y] at noise level ``sigma`` (blind estimate when ``sigma`` is None)."""
        shape = y.shape
        rows = y.reshape(shape[0], -1)
        if rows.shape[1] != self.X_train.shape[1]:
            raise ValueError(f"input has {rows.shape[1]} values per image; the training set has {self.X_train.shape[1]}.")
        rows = rows.to(self.X_train.device, self.dtype)
        if sigma is None:
            sigma = _nearest_rms_distance(rows, self.X_train, self.X_sq, self.chunk_size)
        else:
            sigma = torch.as_tensor(sigma, dtype=self.dtype, device=rows.device).reshape(-1)
            if sigma.numel() == 1:
                sigma = sigma.expand(shape[0])
            if sigma.numel() != shape[0]:
                raise ValueError(f"sigma must be a scalar or have one value per image ({shape[0]}); got {sigma.numel()}.")
        out = empirical_posterior_mean(rows, self.X_train, sigma, self.chunk_size, self.X_sq)
        return out.to(y.dtype).to(y.device).reshape(shape)


class SubspaceProjection(nn.Module):
    """f(y) = U U^T y: the small-noise optimal denoiser of images on a linear subspace (paper App. C.2).

    ``basis`` (k, d) holds orthonormal rows spanning the subspace (a ray through one image, the plane of the
    sine cone): J = U U^T, k eigenvalues 1 and d - k eigenvalues 0, MSE = k sigma^2 per image.

    See Also
    --------
    EmpiricalOptimalDenoiser : The optimum for a finite training set.

    Examples
    --------
    >>> import numpy as np, torch
    >>> x = np.ones(4) / 2.0                      # a ray through one 2 x 2 image
    >>> f = SubspaceProjection(x[None], (2, 2))
    >>> f(torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])).flatten().tolist()
    [0.25, 0.25, 0.25, 0.25]
    """

    def __init__(self, basis, image_shape):
        super().__init__()
        U = torch.as_tensor(np.asarray(basis, dtype=np.float64))
        self.image_shape = check_image_shape(image_shape)
        self.register_buffer("U", U.reshape(U.shape[0], -1))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        U = self.U.to(y.dtype)
        flat = y.reshape(y.shape[0], -1)
        return ((flat @ U.T) @ U).reshape(y.shape)
