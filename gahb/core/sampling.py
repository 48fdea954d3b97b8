"""Samplers on a blind denoiser: plain functions on tensors, one shared signature.

Every sampler is called as ``sampler(denoiser, mean, generators, *, sigma_0, sigma_final, max_steps, ...)``:

- ``denoiser``: a callable ``(B, C, H, W) -> (B, C, H, W)`` returning the denoised batch ``f(y)``.
  If ``getattr(denoiser, "requires_sigma", False)`` is true it is called as ``denoiser(y, sigma)``
  with ``sigma`` a ``(B,)`` tensor: the sampler's own estimate of the effective noise level of ``y``
  (``sigma_0`` at the start; then the predicted contraction ``(1 - beta h_t) sigma_t`` of the last
  measured ``sigma_t`` for :func:`sample_ks`; the grid value for :func:`sample_euler` / :func:`sample_heun`).
- ``mean``: the initial mean image, ``(C, H, W)`` or ``(B, C, H, W)``; it fixes device and dtype.
- ``generators``: one CPU :class:`torch.Generator` per sample. The initial noise ``z_0`` and every
  injected noise ``z_t`` of sample ``i`` are drawn on CPU in float32 from ``generators[i]`` only, then
  moved to the device: two models (or CPU and GPU) given generators with the same seeds receive the
  same noise, whatever the batch composition. The global RNG is never touched.

All samplers return a :class:`SamplerOutput`. Like the rest of :mod:`gahb.core`, they assume valid settings
(``0 < h0, beta <= 1``, ``sigma_0 > 0``, ``0 < sigma_final < sigma_0`` for the ODE samplers, ...): the
estimators check them once (:meth:`gahb.DiffusionDenoiser.sample`). Only the structure of the tensors and
generators is checked here, because a wrong one would give a silently wrong result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

__all__ = ["SamplerOutput", "draw_noise", "sample_ks", "sample_euler", "sample_heun", "ks_step_size", "sigma_grid"]


@dataclass
class SamplerOutput:
    """Result of a sampler run on a batch of ``B`` samples.

    Attributes
    ----------
    x : Tensor (B, C, H, W)
        Final estimates ``f(y_T)``. Rows of diverged samples are NaN.
    n_steps : Tensor (B,) int64
        Updates made on each sample (0 if it stopped before the first update).
    converged : Tensor (B,) bool
        The sample reached ``sigma_t < sigma_final`` (KS) or finished the grid (Euler/Heun).
    diverged : Tensor (B,) bool
        ``sigma_t`` became non-finite or grew past the divergence bound, or ``f(y)`` became non-finite.
    sigma : Tensor (B,)
        Last measured effective noise ``||d_t|| / sqrt(d)``.
    sigmas : Tensor (T + 1, B) or None
        History of measured ``sigma_t`` from step 0; NaN after a sample stopped.
    trajectory : Tensor (K, B, C, H, W) or None
        One-step denoised estimates ``f(y_t)`` (on CPU) at ``trajectory_steps``; a sample that stopped
        before step ``t`` is frozen, so it holds its last estimate.
    trajectory_steps : tuple of int or None
        The steps stored in ``trajectory``.

    See Also
    --------
    sample_ks, sample_euler, sample_heun : The samplers that return it.

    Examples
    --------
    >>> import torch
    >>> out = SamplerOutput(x=torch.zeros(2, 1, 4, 4), n_steps=torch.tensor([3, 4]),
    ...                     converged=torch.tensor([True, True]), diverged=torch.tensor([False, False]),
    ...                     sigma=torch.tensor([0.04, 0.03]))
    >>> int(out.n_steps.max()), out.sigmas is None
    (4, True)
    """

    x: torch.Tensor
    n_steps: torch.Tensor
    converged: torch.Tensor
    diverged: torch.Tensor
    sigma: torch.Tensor
    sigmas: Optional[torch.Tensor] = None
    trajectory: Optional[torch.Tensor] = None
    trajectory_steps: Optional[tuple] = None


def draw_noise(generators: Sequence[torch.Generator], shape, index=None, device="cpu", dtype=torch.float32):
    """Standard normal noise, row ``k`` from ``generators[index[k]]``, drawn on CPU then moved to ``device``.

    See Also
    --------
    gahb.core.random.sample_generators : One generator per sample.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.random import sample_generators
    >>> z = draw_noise(sample_generators(0, 2), (1, 2, 2))
    >>> z_1 = draw_noise(sample_generators(0, 2), (1, 2, 2), index=[1])  # sample 1 alone: the same noise
    >>> z.shape, bool(torch.equal(z[1], z_1[0]))
    (torch.Size([2, 1, 2, 2]), True)
    """
    index = range(len(generators)) if index is None else index
    z = torch.stack([torch.randn(tuple(shape), generator=generators[int(i)], dtype=torch.float32) for i in index])
    return z.to(device=device, dtype=dtype)


def ks_step_size(t, h0: float):
    """Step schedule of Kadkhodaie & Simoncelli (2021): ``h_t = h0 t / (1 + h0 (t - 1))``.

    See Also
    --------
    sample_ks : The sampler that takes these steps.

    Examples
    --------
    >>> [round(ks_step_size(t, 0.01), 4) for t in (1, 10, 100)]
    [0.01, 0.0917, 0.5025]
    """
    return h0 * t / (1.0 + h0 * (t - 1))


def sigma_grid(sigma_0: float, sigma_final: float, n_steps: int, rho: float = 7.0) -> torch.Tensor:
    """Decreasing grid of Karras et al. (2022, eq. 5) from ``sigma_0`` to ``sigma_final`` (``n_steps + 1`` values).

    See Also
    --------
    sample_euler, sample_heun : The samplers that step along it.

    Examples
    --------
    >>> sigma_grid(1.0, 0.05, 4)
    tensor([1.0000, 0.5286, 0.2622, 0.1202, 0.0500], dtype=torch.float64)
    """
    i = torch.arange(n_steps + 1, dtype=torch.float64) / max(n_steps, 1)
    a, b = sigma_0 ** (1.0 / rho), sigma_final ** (1.0 / rho)
    return (a + i * (b - a)) ** rho


# ----------------------------------------------------------------------------- helpers


def _prepare(denoiser, mean, generators, trajectory_steps):
    if not callable(denoiser):
        raise TypeError(f"denoiser must be callable; got {type(denoiser).__name__}.")
    if not isinstance(mean, torch.Tensor):
        raise TypeError(f"mean must be a torch.Tensor of shape (C, H, W) or (B, C, H, W); got {type(mean).__name__}.")
    if not mean.is_floating_point():
        raise TypeError(f"mean must be a floating tensor; got dtype {mean.dtype}.")
    generators = list(generators)
    if len(generators) == 0 or not all(isinstance(g, torch.Generator) for g in generators):
        raise TypeError("generators must be a non-empty sequence of torch.Generator (one per sample).")
    if any(g.device.type != "cpu" for g in generators):
        raise ValueError("generators must be CPU generators, so that noise is identical on every device.")
    B = len(generators)
    if mean.dim() == 3:
        mean = mean.unsqueeze(0).expand(B, *mean.shape)
    if mean.dim() != 4 or mean.shape[0] != B:
        raise ValueError(
            f"mean must have shape (C, H, W) or ({B}, C, H, W) for {B} generators; got {tuple(mean.shape)}."
        )
    steps = None
    if trajectory_steps is not None:
        steps = tuple(sorted({int(s) for s in trajectory_steps}))
    return mean, generators, steps


def _denoise(denoiser, y, sigma):
    if getattr(denoiser, "requires_sigma", False):
        return denoiser(y, sigma)
    return denoiser(y)


def _norm(v):
    return torch.linalg.vector_norm(v.flatten(1), dim=1) / math.sqrt(v[0].numel())


def _finite_rows(v):
    return torch.isfinite(v.flatten(1)).all(dim=1)


class _Recorder:
    """Keeps the sigma history and the requested trajectory snapshots of a run."""

    def __init__(self, steps, keep_sigmas):
        self.steps, self.keep_sigmas = steps, keep_sigmas
        self.sigmas, self.snapshots = [], {}

    def record(self, t, sigma, active, denoised):
        if self.keep_sigmas:
            s = sigma.detach().clone()
            s[~active] = float("nan")
            self.sigmas.append(s.cpu())
        if self.steps is not None and t in self.steps:
            self.snapshots[t] = denoised.detach().to("cpu", copy=True)

    def finish(self, denoised):
        sigmas = torch.stack(self.sigmas) if self.keep_sigmas else None
        traj = None
        if self.steps is not None:
            last = denoised.detach().to("cpu", copy=True)  # samples are frozen once they stop
            traj = torch.stack([self.snapshots.get(t, last) for t in self.steps])
        return sigmas, traj


# ----------------------------------------------------------------------------- KS sampler


@torch.no_grad()
def sample_ks(
    denoiser: Callable,
    mean: torch.Tensor,
    generators: Sequence[torch.Generator],
    *,
    sigma_0: float = 1.0,
    sigma_final: float = 0.05,
    max_steps: int = 1000,
    h0: float = 0.01,
    beta: float = 0.1,
    divergence_factor: float = 2.0,
    fixed_step: bool = False,
    operator=None,
    measurements: Optional[torch.Tensor] = None,
    callback: Optional[Callable] = None,
    trajectory_steps: Optional[Sequence[int]] = None,
    return_sigmas: bool = False,
) -> SamplerOutput:
    """Stochastic coarse-to-fine gradient ascent of Kadkhodaie & Simoncelli (2021, Alg. 1), batched.

    ``y_0 = m + sigma_0 z_0``; at step ``t``: ``d_t = y - f(y)`` (for an inverse problem
    ``d_t = (I - M M^T)(y - f(y)) + M (M^T y - x_c)``), ``sigma_t = ||d_t|| / sqrt(d)``,
    ``h_t = h0 t / (1 + h0 (t - 1))``, ``gamma_t = sigma_t sqrt((1 - beta h_t)^2 - (1 - h_t)^2)``,
    ``y <- y - h_t d_t + gamma_t z_t``. Each sample stops on its own when ``sigma_t < sigma_final``
    and returns ``f(y)``. ``beta = 1`` gives the deterministic sampler (no noise is drawn or injected).

    Parameters
    ----------
    denoiser, mean, generators
        See the module docstring (the ``requires_sigma`` protocol is described there).
    sigma_0 : float, default=1.0
        Standard deviation of the initial noise.
    sigma_final : float, default=0.05
        Stop a sample when its measured ``sigma_t`` falls below this (``sigma_L`` of the paper).
        ``0`` never stops early: every sample runs ``max_steps`` updates.
    max_steps : int, default=1000
        Cap on the number of updates; a sample still above ``sigma_final`` then has ``converged=False``.
    h0 : float in (0, 1], default=0.01
        Initial step size.
    beta : float in (0, 1], default=0.1
        Fraction of the effective noise removed per step; ``1 - beta`` controls the injected noise.
    divergence_factor : float, default=2.0
        A sample diverges when ``sigma_t`` exceeds ``divergence_factor * max(sigma_0, sigma_start)``
        (``sigma_start``: its measured ``sigma`` at step 0), or when ``sigma_t`` or ``f(y)`` is not finite.
        Its row of ``x`` is then NaN.
    fixed_step : bool, default=False
        Use ``h_t = h0`` at every step instead of the growing schedule (slower; the growing steps near
        the end shrink the sample variance by about ``h_t / 2`` on a Gaussian prior, see docs/sampling.md).
    operator : measurement operator, optional
        An object with ``measure(x) = M^T x`` and ``adjoint(c) = M c`` (orthonormal columns), see
        :mod:`gahb.core.operators`. The initial mean becomes ``(I - M M^T) m + M x_c``.
    measurements : Tensor (B, n_measurements), optional
        ``x_c``, required with ``operator``.
    callback : callable, optional
        Called after step 0 and after every update with a dict: ``step`` (t), ``y``, ``denoised``
        (``f(y)``), ``sigma`` (B,), ``noise`` (B, C, H, W; the noise drawn this step, NaN rows for
        samples not updated, ``None`` when ``beta = 1`` after step 0), ``active`` (B,) the samples updated
        this step, ``h`` and ``gamma`` (B,). The tensors are live: copy what you keep.
    trajectory_steps : sequence of int, optional
        Steps ``t`` at which to store ``f(y_t)`` (0 is the initial state).
    return_sigmas : bool, default=False
        Keep the ``(T + 1, B)`` history of measured ``sigma_t``.

    Returns
    -------
    SamplerOutput

    See Also
    --------
    sample_euler, sample_heun : Deterministic ODE samplers with the same signature.
    gahb.DiffusionDenoiser.sample : This sampler on a trained network.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.random import sample_generators
    >>> f = lambda y: 0.5 + 0.5 * (y - 0.5)  # a toy denoiser: shrinks towards the constant image 0.5
    >>> out = sample_ks(f, torch.full((1, 4, 4), 0.5), sample_generators(0, 3), h0=0.5)
    >>> out.x.shape, bool(out.converged.all())
    (torch.Size([3, 1, 4, 4]), True)
    """
    mean, generators, steps = _prepare(denoiser, mean, generators, trajectory_steps)
    if (operator is None) != (measurements is None):
        raise ValueError("operator and measurements must be given together.")

    B, shape, device, dtype = mean.shape[0], tuple(mean.shape[1:]), mean.device, mean.dtype
    if operator is not None:
        if tuple(operator.image_shape) != shape:
            raise ValueError(f"operator.image_shape {tuple(operator.image_shape)} does not match the images {shape}.")
        measurements = torch.as_tensor(measurements, device=device, dtype=dtype)
        if measurements.shape != (B, operator.n_measurements):
            raise ValueError(
                f"measurements must have shape ({B}, {operator.n_measurements}); got {tuple(measurements.shape)}."
            )
        mean = mean - operator.adjoint(operator.measure(mean)) + operator.adjoint(measurements)

    def direction(y, fy, index):
        r = y - fy
        if operator is None:
            return r
        # prior step in the null space of M^T plus a step towards measurement consistency
        return r - operator.adjoint(operator.measure(r) - operator.measure(y) + measurements[index])

    everyone = torch.arange(B, device=device)
    z = draw_noise(generators, shape, device=device, dtype=dtype)
    y = mean + sigma_0 * z
    fy = _denoise(denoiser, y, torch.full((B,), sigma_0, device=device, dtype=dtype)).clone()
    d = direction(y, fy, everyone)
    sigma = _norm(d)
    bound = divergence_factor * torch.clamp(torch.nan_to_num(sigma, nan=0.0, posinf=0.0), min=sigma_0)
    diverged = ~torch.isfinite(sigma) | ~_finite_rows(fy)
    converged = ~diverged & (sigma < sigma_final)
    n_steps = torch.zeros(B, dtype=torch.int64, device=device)
    recorder = _Recorder(steps, return_sigmas)
    all_on = torch.ones(B, dtype=torch.bool, device=device)
    recorder.record(0, sigma, all_on, fy)
    if callback is not None:
        callback(dict(step=0, y=y, denoised=fy, sigma=sigma, noise=z, active=all_on,
                      h=0.0, gamma=torch.zeros(B, device=device, dtype=dtype)))
    active = ~(diverged | converged)

    t = 0
    while t < max_steps and bool(active.any()):
        t += 1
        idx = active.nonzero().squeeze(1)
        h = h0 if fixed_step else ks_step_size(t, h0)
        s = sigma[idx]
        y_a = y[idx] - h * d[idx]
        gamma = torch.zeros(B, device=device, dtype=dtype)
        noise = None
        if beta < 1.0:
            gamma[idx] = s * math.sqrt(max((1 - beta * h) ** 2 - (1 - h) ** 2, 0.0))
            z_a = draw_noise(generators, shape, idx.tolist(), device=device, dtype=dtype)
            y_a = y_a + gamma[idx].view(-1, 1, 1, 1) * z_a
            if callback is not None:
                noise = torch.full_like(y, float("nan"))
                noise[idx] = z_a
        f_a = _denoise(denoiser, y_a, (1 - beta * h) * s)
        d_a = direction(y_a, f_a, idx)
        s_a = _norm(d_a)
        y[idx], fy[idx], d[idx], sigma[idx], n_steps[idx] = y_a, f_a, d_a, s_a, t

        bad = ~torch.isfinite(s_a) | ~_finite_rows(f_a) | (s_a > bound[idx])
        done = ~bad & (s_a < sigma_final)
        diverged[idx[bad]] = True
        converged[idx[done]] = True
        updated = active.clone()
        active[idx[bad | done]] = False
        recorder.record(t, sigma, updated, fy)
        if callback is not None:
            callback(dict(step=t, y=y, denoised=fy, sigma=sigma, noise=noise, active=updated, h=h, gamma=gamma))

    sigmas, traj = recorder.finish(fy)
    x = fy.clone()
    x[diverged] = float("nan")
    return SamplerOutput(x=x, n_steps=n_steps, converged=converged, diverged=diverged, sigma=sigma,
                         sigmas=sigmas, trajectory=traj, trajectory_steps=steps)


# ----------------------------------------------------------------------------- ODE samplers


@torch.no_grad()
def _sample_ode(denoiser, mean, generators, *, sigma_0, sigma_final, max_steps, rho, second_order,
                divergence_factor, callback, trajectory_steps, return_sigmas):
    mean, generators, steps = _prepare(denoiser, mean, generators, trajectory_steps)

    B, shape, device, dtype = mean.shape[0], tuple(mean.shape[1:]), mean.device, mean.dtype
    grid = sigma_grid(sigma_0, sigma_final, max_steps, rho).tolist()
    z = draw_noise(generators, shape, device=device, dtype=dtype)
    y = mean + sigma_0 * z

    def f(v, s):
        return _denoise(denoiser, v, torch.full((B,), s, device=device, dtype=dtype))

    fy = f(y, grid[0])
    sigma = _norm(y - fy)
    bound = divergence_factor * torch.clamp(torch.nan_to_num(sigma, nan=0.0, posinf=0.0), min=sigma_0)
    diverged = ~torch.isfinite(sigma) | ~_finite_rows(fy)
    all_on = torch.ones(B, dtype=torch.bool, device=device)
    recorder = _Recorder(steps, return_sigmas)
    recorder.record(0, sigma, all_on, fy)
    if callback is not None:
        callback(dict(step=0, y=y, denoised=fy, sigma=sigma, noise=z, active=all_on, h=0.0,
                      gamma=torch.zeros(B, device=device, dtype=dtype)))
    for i in range(max_steps):
        s, s_next = grid[i], grid[i + 1]
        slope = (y - fy) / s  # dy/dsigma of the probability-flow ODE with the blind denoiser plugged in
        y_next = y + (s_next - s) * slope
        f_next = f(y_next, s_next)
        if second_order:
            y_next = y + (s_next - s) * 0.5 * (slope + (y_next - f_next) / s_next)
            f_next = f(y_next, s_next)
        y, fy = y_next, f_next
        sigma = _norm(y - fy)
        diverged |= ~torch.isfinite(sigma) | ~_finite_rows(fy) | (sigma > bound)
        recorder.record(i + 1, sigma, all_on, fy)
        if callback is not None:
            callback(dict(step=i + 1, y=y, denoised=fy, sigma=sigma, noise=None, active=all_on,
                          h=1.0 - s_next / s, gamma=torch.zeros(B, device=device, dtype=dtype)))
    sigmas, traj = recorder.finish(fy)
    x = fy.clone()
    x[diverged] = float("nan")
    return SamplerOutput(x=x, n_steps=torch.full((B,), max_steps, dtype=torch.int64, device=device),
                         converged=~diverged, diverged=diverged, sigma=sigma, sigmas=sigmas,
                         trajectory=traj, trajectory_steps=steps)


def sample_euler(denoiser, mean, generators, *, sigma_0=1.0, sigma_final=0.05, max_steps=50, rho=7.0,
                 divergence_factor=2.0, callback=None, trajectory_steps=None, return_sigmas=False) -> SamplerOutput:
    """Deterministic blind sampler: Euler on ``dy/dsigma = (y - f(y)) / sigma`` over :func:`sigma_grid` (DDIM, eta = 0).

    Same signature as :func:`sample_ks`; ``max_steps`` is the number of grid steps (all samples run it),
    the only randomness is the initial noise ``z_0``. Returns ``f(y_N)``.

    See Also
    --------
    sample_heun : Second order, two denoiser calls per step.
    sample_ks : The paper's stochastic sampler.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.random import sample_generators
    >>> out = sample_euler(lambda y: 0.5 * y, torch.zeros(1, 4, 4), sample_generators(0, 2), max_steps=10)
    >>> out.n_steps.tolist(), bool(out.converged.all())
    ([10, 10], True)
    """
    return _sample_ode(denoiser, mean, generators, sigma_0=sigma_0, sigma_final=sigma_final, max_steps=max_steps,
                       rho=rho, second_order=False, divergence_factor=divergence_factor, callback=callback,
                       trajectory_steps=trajectory_steps, return_sigmas=return_sigmas)


def sample_heun(denoiser, mean, generators, *, sigma_0=1.0, sigma_final=0.05, max_steps=25, rho=7.0,
                divergence_factor=2.0, callback=None, trajectory_steps=None, return_sigmas=False) -> SamplerOutput:
    """Deterministic blind sampler: Heun (Karras et al. 2022, Alg. 1) on ``dy/dsigma = (y - f(y)) / sigma``.

    As :func:`sample_euler` with a second-order correction (two denoiser calls per step).

    See Also
    --------
    sample_euler : First order.

    Examples
    --------
    >>> import torch
    >>> from gahb.core.random import sample_generators
    >>> out = sample_heun(lambda y: 0.5 * y, torch.zeros(1, 4, 4), sample_generators(0, 2), max_steps=5)
    >>> out.x.shape
    torch.Size([2, 1, 4, 4])
    """
    return _sample_ode(denoiser, mean, generators, sigma_0=sigma_0, sigma_final=sigma_final, max_steps=max_steps,
                       rho=rho, second_order=True, divergence_factor=divergence_factor, callback=callback,
                       trajectory_steps=trajectory_steps, return_sigmas=return_sigmas)
