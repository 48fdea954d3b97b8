"""Linear inverse problems with the prior implicit in a denoiser (Kadkhodaie & Simoncelli, 2021).

A measurement operator is a matrix ``M`` of shape ``(d, m)`` with orthonormal columns (``M^T M = I``),
stored implicitly: ``measure(x) = M^T x`` maps images ``(B, C, H, W)`` to measurements ``(B, m)`` and
``adjoint(c) = M c`` maps them back. :func:`solve_inverse` runs the sampler of :mod:`gahb.core.sampling`
with the direction ``d_t = (I - M M^T)(y - f(y)) + M (M^T y - x_c)``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

from gahb._checks import check_image_shape, check_real, resolve_seed

from .sampling import SamplerOutput, sample_ks

__all__ = [
    "MeasurementOperator",
    "Inpainting",
    "RandomPixels",
    "BlockAverage",
    "SpectralLowpass",
    "RandomSubspace",
    "solve_inverse",
]


class MeasurementOperator:
    """Base class: ``M`` with orthonormal columns acting on ``(B, C, H, W)`` tensors.

    Subclasses set ``image_shape`` (C, H, W) and ``n_measurements`` and implement :meth:`measure`
    and :meth:`adjoint`.

    See Also
    --------
    Inpainting, RandomPixels, BlockAverage, SpectralLowpass, RandomSubspace : The operators provided.
    solve_inverse : Reconstructs images from measurements.

    Examples
    --------
    >>> import torch
    >>> op = RandomSubspace((4, 4), fraction=0.5, random_state=0)  # any subclass: M^T M = I
    >>> c = op.measure(torch.rand(2, 1, 4, 4))
    >>> c.shape, bool(torch.allclose(op.measure(op.adjoint(c)), c, atol=1e-6))
    (torch.Size([2, 8]), True)
    """

    image_shape: tuple
    n_measurements: int

    def measure(self, x: torch.Tensor) -> torch.Tensor:
        """``M^T x``: images ``(B, C, H, W)`` -> measurements ``(B, n_measurements)``."""
        raise NotImplementedError

    def adjoint(self, c: torch.Tensor) -> torch.Tensor:
        """``M c``: measurements ``(B, n_measurements)`` -> images ``(B, C, H, W)``."""
        raise NotImplementedError

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """``M M^T x``: orthogonal projection onto the measured subspace."""
        return self.adjoint(self.measure(x))

    def naive(self, c: torch.Tensor, fill) -> torch.Tensor:
        """Naive fill-in ``M c + (I - M M^T) fill``: the measured part from ``c``, the rest from ``fill``.

        ``fill`` is an image ``(C, H, W)`` / ``(B, C, H, W)`` or a float (e.g. the mean of the
        measured pixels for masks). For block averages this is pixel replication; for spectral
        low-pass it is the zero-filled inverse transform.
        """
        c = torch.as_tensor(c)
        fill = torch.as_tensor(fill, dtype=c.dtype, device=c.device)
        fill = fill.expand(c.shape[0], *self.image_shape)
        return self.adjoint(c) + fill - self.project(fill)

    def measure_rows(self, X) -> np.ndarray:
        """``M^T x`` for rows ``X`` ``(n, C*H*W)`` or images ``(n, C, H, W)`` (``(n, H, W)`` for one channel);
        numpy in, float32 numpy ``(n, n_measurements)`` out."""
        X = np.asarray(X)
        C, H, W = self.image_shape
        shapes = [(C * H * W,), (C, H, W)] + ([(H, W)] if C == 1 else [])
        if X.ndim < 2 or X.shape[1:] not in shapes:
            raise ValueError(f"X must have shape (n, {C * H * W}) or (n, {C}, {H}, {W}); got {X.shape}.")
        x = torch.as_tensor(np.ascontiguousarray(X), dtype=torch.float32).reshape(-1, *self.image_shape)
        return self.measure(x).numpy().astype(np.float32, copy=False)

    def _on(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """The stored matrix ``name`` on ``like``'s device and dtype, converted once and cached: the sampler
        calls ``measure``/``adjoint`` several times per step and a large basis must not be copied each time."""
        cache = self.__dict__.setdefault("_converted", {})
        key = (name, like.device, like.dtype if like.is_floating_point() else None)
        if key not in cache:
            t = getattr(self, name)
            cache[key] = t.to(like.device, like.dtype) if t.is_floating_point() else t.to(like.device)
        return cache[key]

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_converted"}  # device copies are rebuilt on use

    def _check_images(self, x):
        if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != self.image_shape or x.dim() != 4:
            raise ValueError(f"expected a tensor of shape (B, {', '.join(map(str, self.image_shape))}); "
                             f"got {tuple(getattr(x, 'shape', ()))}.")

    def _check_measurements(self, c):
        if not isinstance(c, torch.Tensor) or c.dim() != 2 or c.shape[1] != self.n_measurements:
            raise ValueError(f"expected measurements of shape (B, {self.n_measurements}); "
                             f"got {tuple(getattr(c, 'shape', ()))}.")

    def __repr__(self):
        return f"{type(self).__name__}(image_shape={self.image_shape}, n_measurements={self.n_measurements})"


class _PixelSubset(MeasurementOperator):
    """Keeps a subset of pixels (all channels of each kept location): ``M`` is a column subset of ``I``."""

    def _set_locations(self, keep: np.ndarray):
        C, H, W = self.image_shape
        flat = np.flatnonzero(keep.reshape(-1))
        self.index = torch.as_tensor((np.arange(C)[:, None] * H * W + flat[None, :]).reshape(-1), dtype=torch.int64)
        self.n_measurements = int(self.index.numel())
        if self.n_measurements == 0:
            raise ValueError(f"{type(self).__name__} keeps no pixel; choose a smaller block or larger fraction.")

    def measure(self, x):
        self._check_images(x)
        return x.flatten(1)[:, self._on("index", x)]

    def adjoint(self, c):
        self._check_measurements(c)
        out = torch.zeros(c.shape[0], int(np.prod(self.image_shape)), dtype=c.dtype, device=c.device)
        out[:, self._on("index", c)] = c
        return out.reshape(c.shape[0], *self.image_shape)

    @property
    def mask(self) -> np.ndarray:
        """Boolean ``(C, H, W)`` array, True where a pixel is measured."""
        m = np.zeros(int(np.prod(self.image_shape)), dtype=bool)
        m[self.index.numpy()] = True
        return m.reshape(self.image_shape)


class Inpainting(_PixelSubset):
    """Measures every pixel outside a missing ``block = (h, w)`` rectangle (centred unless ``top``/``left`` given).

    See Also
    --------
    RandomPixels : Random missing pixels.

    Examples
    --------
    >>> op = Inpainting((4, 4), block=2)
    >>> op.n_measurements, op.mask[0].astype(int).tolist()
    (12, [[1, 1, 1, 1], [1, 0, 0, 1], [1, 0, 0, 1], [1, 1, 1, 1]])
    """

    def __init__(self, image_shape, block, top=None, left=None):
        self.image_shape = check_image_shape(image_shape)
        _, H, W = self.image_shape
        if isinstance(block, numbers.Integral):
            block = (block, block)
        if len(block) != 2 or not all(isinstance(b, numbers.Integral) and 0 < b for b in block):
            raise ValueError(f"block must be a positive int or (h, w); got {block!r}.")
        h, w = int(block[0]), int(block[1])
        top = (H - h) // 2 if top is None else int(top)
        left = (W - w) // 2 if left is None else int(left)
        if top < 0 or left < 0 or top + h > H or left + w > W:
            raise ValueError(f"block {h}x{w} at ({top}, {left}) does not fit in a {H}x{W} image.")
        self.block, self.top, self.left = (h, w), top, left
        keep = np.ones((H, W), dtype=bool)
        keep[top:top + h, left:left + w] = False
        self._set_locations(keep)


class RandomPixels(_PixelSubset):
    """Measures a random ``fraction`` of pixel locations (drawn once from ``random_state``).

    See Also
    --------
    Inpainting : One missing block.

    Examples
    --------
    >>> RandomPixels((8, 8), fraction=0.25, random_state=0).n_measurements
    16
    """

    def __init__(self, image_shape, fraction=0.2, random_state=None):
        self.image_shape = check_image_shape(image_shape)
        self.fraction = check_real(fraction, "fraction", 0, 1, low_open=True, high_open=True)
        _, H, W = self.image_shape
        n_keep = max(1, int(round(self.fraction * H * W)))
        rng = np.random.default_rng(resolve_seed(random_state))
        keep = np.zeros(H * W, dtype=bool)
        keep[rng.choice(H * W, size=n_keep, replace=False)] = True
        self._set_locations(keep.reshape(H, W))


class BlockAverage(MeasurementOperator):
    """Super-resolution: averages over ``factor x factor`` blocks, with the unit-norm kernel ``1/factor``.

    See Also
    --------
    SpectralLowpass : Super-resolution in the DCT domain.

    Examples
    --------
    >>> import torch
    >>> BlockAverage((4, 4), factor=2).measure(torch.ones(1, 1, 4, 4))  # block sums / 2
    tensor([[2., 2., 2., 2.]])
    """

    def __init__(self, image_shape, factor=2):
        self.image_shape = check_image_shape(image_shape)
        C, H, W = self.image_shape
        if isinstance(factor, bool) or not isinstance(factor, numbers.Integral) or factor < 2:
            raise ValueError(f"factor must be an integer >= 2; got {factor!r}.")
        if H % factor or W % factor:
            raise ValueError(f"image size {H}x{W} is not divisible by factor {factor}.")
        self.factor = int(factor)
        self.n_measurements = C * (H // factor) * (W // factor)

    def measure(self, x):
        self._check_images(x)
        s = self.factor
        return (F.avg_pool2d(x, s) * s).flatten(1)  # block sum / s: the kernel 1/s has unit norm

    def adjoint(self, c):
        self._check_measurements(c)
        C, H, W = self.image_shape
        s = self.factor
        low = c.reshape(c.shape[0], C, H // s, W // s) / s
        return low.repeat_interleave(s, dim=2).repeat_interleave(s, dim=3)


def _dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix (rows are the basis vectors, lowest frequency first)."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    D = np.cos(np.pi * (i + 0.5) * k / n) * math.sqrt(2.0 / n)
    D[0] /= math.sqrt(2.0)
    return D


class SpectralLowpass(MeasurementOperator):
    """Spectral super-resolution: keeps the ``ceil(H / factor) x ceil(W / factor)`` lowest DCT-II frequencies.

    A real orthonormal basis (the DCT) stands in for the FFT of the official code, so no
    complex-conjugate pairing is needed.

    See Also
    --------
    BlockAverage : Super-resolution by block averages.

    Examples
    --------
    >>> SpectralLowpass((8, 8), factor=2).n_measurements  # the 4 x 4 lowest frequencies
    16
    """

    def __init__(self, image_shape, factor=2):
        self.image_shape = check_image_shape(image_shape)
        C, H, W = self.image_shape
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 1 < factor < math.inf:
            raise ValueError(f"factor must be a finite number > 1; got {factor!r}.")
        self.factor = factor
        self.kh, self.kw = math.ceil(H / factor), math.ceil(W / factor)
        self.Dh = torch.as_tensor(_dct_matrix(H)[: self.kh])
        self.Dw = torch.as_tensor(_dct_matrix(W)[: self.kw])
        self.n_measurements = C * self.kh * self.kw

    def measure(self, x):
        self._check_images(x)
        Dh, Dw = self._on("Dh", x), self._on("Dw", x)
        return (Dh @ x @ Dw.T).flatten(1)

    def adjoint(self, c):
        self._check_measurements(c)
        C = self.image_shape[0]
        Dh, Dw = self._on("Dh", c), self._on("Dw", c)
        return Dh.T @ c.reshape(c.shape[0], C, self.kh, self.kw) @ Dw


class RandomSubspace(MeasurementOperator):
    """Projection onto a random ``fraction * d``-dimensional subspace (QR of a Gaussian matrix).

    See Also
    --------
    RandomPixels : A random subset of the pixel basis instead.

    Examples
    --------
    >>> RandomSubspace((8, 8), fraction=0.25, random_state=0).basis.shape
    torch.Size([64, 16])
    """

    def __init__(self, image_shape, fraction=0.2, random_state=None):
        self.image_shape = check_image_shape(image_shape)
        self.fraction = check_real(fraction, "fraction", 0, 1, low_open=True, high_open=True)
        d = int(np.prod(self.image_shape))
        m = max(1, int(round(self.fraction * d)))
        rng = np.random.default_rng(resolve_seed(random_state))
        Q, _ = np.linalg.qr(rng.standard_normal((d, m)))
        self.basis = torch.as_tensor(Q)  # (d, m), float64; cast to the data's dtype on use
        self.n_measurements = m

    def measure(self, x):
        self._check_images(x)
        return x.flatten(1) @ self._on("basis", x)

    def adjoint(self, c):
        self._check_measurements(c)
        return (c @ self._on("basis", c).T).reshape(c.shape[0], *self.image_shape)


def solve_inverse(denoiser, operator: MeasurementOperator, measurements: torch.Tensor, generators, *, mean=0.5,
                  project: bool = True, **sampler_kwargs) -> SamplerOutput:
    """Draw one reconstruction per row of ``measurements`` with :func:`~gahb.core.sampling.sample_ks` (KS 2021, Alg. 2).

    The sampler settings are assumed valid, as everywhere in the torch core
    (:meth:`gahb.DiffusionDenoiser.reconstruct` checks them); only the types of ``operator`` and ``measurements``
    are checked.

    Parameters
    ----------
    denoiser : callable
        Blind denoiser ``(B, C, H, W) -> (B, C, H, W)`` (or ``requires_sigma``, see :mod:`gahb.core.sampling`).
    operator : MeasurementOperator
        ``M`` with orthonormal columns.
    measurements : Tensor (B, n_measurements)
        ``x_c = M^T x``; its device and dtype are used.
    generators : sequence of torch.Generator
        One CPU generator per row (noise pairing as in :mod:`gahb.core.sampling`).
    mean : float or Tensor (C, H, W) / (B, C, H, W), default=0.5
        Initial mean ``m`` of the unmeasured part: ``y_0 = (I - M M^T) m + M x_c + sigma_0 z_0``.
    project : bool, default=True
        Return ``(I - M M^T) f(y_T) + M x_c``, which matches the measurements exactly; ``False`` returns
        ``f(y_T)`` as the sampler does (consistent only up to the final noise level).
    **sampler_kwargs
        ``sigma_0, sigma_final, max_steps, h0, beta, fixed_step, divergence_factor, callback,
        trajectory_steps, return_sigmas`` of :func:`~gahb.core.sampling.sample_ks`.

    Returns
    -------
    SamplerOutput
        ``x`` holds the reconstructions (NaN rows for diverged samples).

    See Also
    --------
    gahb.DiffusionDenoiser.reconstruct : This function on a trained network.

    Examples
    --------
    >>> import torch
    >>> op, x = Inpainting((4, 4), block=2), torch.rand(2, 1, 4, 4)
    >>> gens = [torch.Generator().manual_seed(i) for i in range(2)]  # one per reconstruction
    >>> out = solve_inverse(lambda y: 0.9 * y, op, op.measure(x), gens, h0=0.5)  # a toy shrinking denoiser
    >>> bool(torch.allclose(op.measure(out.x), op.measure(x), atol=1e-6))  # consistent with the measurements
    True
    """
    if not isinstance(operator, MeasurementOperator):
        raise TypeError(f"operator must be a MeasurementOperator; got {type(operator).__name__}.")
    if not isinstance(measurements, torch.Tensor) or not measurements.is_floating_point():
        raise TypeError("measurements must be a floating torch.Tensor of shape (B, n_measurements).")
    B = measurements.shape[0]
    mean = torch.as_tensor(mean, dtype=measurements.dtype, device=measurements.device)
    mean = mean.expand(B, *operator.image_shape).contiguous()
    out = sample_ks(denoiser, mean, generators, operator=operator, measurements=measurements, **sampler_kwargs)
    if project:
        x = out.x - operator.project(out.x) + operator.adjoint(measurements)
        out.x = torch.where(out.diverged.view(-1, 1, 1, 1), out.x, x)
    return out
