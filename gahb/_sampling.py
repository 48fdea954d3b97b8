"""Sampling and inverse-problem methods of `DiffusionDenoiser` (sklearn layer over :mod:`gahb.core.sampling`)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from gahb._checks import check_int, resolve_seed
from gahb._utils import to_rows
from gahb.core.operators import MeasurementOperator, solve_inverse
from gahb.core.random import sample_generators
from gahb.core.sampling import sample_euler, sample_heun, sample_ks

_SAMPLERS = {"ks": sample_ks, "euler": sample_euler, "heun": sample_heun}


class SampleDivergenceWarning(UserWarning):
    """Some samples diverged (non-finite or exploding effective noise); their rows are NaN."""


class SamplingMixin:
    """``sample`` and ``reconstruct`` for a fitted estimator with ``denoiser_``, ``image_shape_``, ``device_``,
    ``train_mean_`` and the parameters ``h0, beta, sigma_0, sigma_final, max_sample_steps, sample_init``."""

    # ------------------------------------------------------------------ helpers
    def _initial_mean(self) -> torch.Tensor:
        """The sampler's initial mean image ``(C, H, W)``: ``train_mean_`` for ``"mean"``, else a constant."""
        init = self.sample_init
        if isinstance(init, str):
            if init != "mean":
                raise ValueError(f"sample_init must be 'mean' or a float; got {init!r}.")
            mean = torch.as_tensor(np.asarray(self.train_mean_, dtype=np.float32))
            return mean.reshape(self.image_shape_).to(self.device_)
        if isinstance(init, bool) or not isinstance(init, numbers.Real) or not np.isfinite(init):
            raise ValueError(f"sample_init must be 'mean' or a finite float; got {init!r}.")
        return torch.full(self.image_shape_, float(init), device=self.device_)

    def _sampler_kwargs(self, sampler):
        # set_params does not validate, so re-check what fit checked before sampling with it
        kw = dict(sigma_0=self.sigma_0, sigma_final=self.sigma_final,
                  max_steps=check_int(self.max_sample_steps, "max_sample_steps"))
        if sampler == "ks":
            kw.update(h0=self.h0, beta=self.beta)
        return kw

    def _run_batches(self, n, batch_size, seed, run_batch, callback):
        """Runs ``run_batch(start, stop, generators, callback)`` over batches and gathers the outputs."""
        outs = []
        for start in range(0, n, batch_size):
            stop = min(n, start + batch_size)
            cb = None
            if callback is not None:
                def cb(state, _start=start):  # sample indices of this batch are _start + arange(B)
                    callback(dict(state, start=_start))
            outs.append(run_batch(start, stop, sample_generators(seed, stop - start, start=start), cb))
        info = {
            "n_steps": np.concatenate([o.n_steps.cpu().numpy() for o in outs]),
            "converged": np.concatenate([o.converged.cpu().numpy() for o in outs]),
            "diverged": np.concatenate([o.diverged.cpu().numpy() for o in outs]),
            "sigma": np.concatenate([o.sigma.detach().cpu().double().numpy() for o in outs]),
            "random_state": seed,
        }
        if outs[0].trajectory is not None:
            info["trajectory_steps"] = outs[0].trajectory_steps
            traj = torch.cat([o.trajectory for o in outs], dim=1)  # (K, n, C, H, W)
            info["trajectory"] = traj.reshape(traj.shape[0], n, -1).numpy().astype(np.float32)
        X = np.concatenate([to_rows(o.x) for o in outs])
        return X, info

    @staticmethod
    def _report(info, on_divergence, what):
        n_div = int(info["diverged"].sum())
        if n_div and on_divergence != "ignore":
            msg = (f"{n_div} of {len(info['diverged'])} {what} diverged (their rows are NaN); try beta closer to 1, "
                   "a larger h0 or a better-trained denoiser.")
            if on_divergence == "raise":
                raise FloatingPointError(msg)
            warnings.warn(msg, SampleDivergenceWarning, stacklevel=3)
        n_cap = int((~info["converged"] & ~info["diverged"]).sum())
        if n_cap and on_divergence != "ignore":
            warnings.warn(f"{n_cap} of {len(info['converged'])} {what} stopped at max_sample_steps before "
                          "sigma_final was reached; raise max_sample_steps or beta.", ConvergenceWarning, stacklevel=3)

    @staticmethod
    def _check_common(batch_size, on_divergence, n):
        batch_size = check_int(batch_size, "batch_size", allow_none=True)
        if on_divergence not in ("warn", "raise", "ignore"):
            raise ValueError(f"on_divergence must be 'warn', 'raise' or 'ignore'; got {on_divergence!r}.")
        return n if batch_size is None else batch_size

    # ------------------------------------------------------------------ public
    def sample(self, n_samples=1, random_state=None, *, batch_size=None, return_info=False, callback=None,
               trajectory_steps=None, sampler="ks", on_divergence="warn"):
        """Draw images from the prior implicit in the denoiser (Kadkhodaie & Simoncelli 2021 sampler).

        Starts at ``y_0 = m + sigma_0 z_0`` (``m``: ``train_mean_`` when ``sample_init="mean"``, the
        authors' choice, or the constant image ``sample_init`` when it is a float, e.g. 0.5) and runs the
        sampler with the estimator's ``h0, beta, sigma_0, sigma_final, max_sample_steps`` (change them with
        ``set_params``; ``beta=1`` is deterministic given ``z_0``). Sample ``i`` of a call with
        ``random_state=s`` draws all its noise from its own generator seeded by ``(s, i)``
        (``gahb.core.random.sample_generators``), so it is the same whatever ``n_samples`` or ``batch_size``,
        and two models sampled with the same ``s`` receive identical noise.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState instance or None, default=None
            Seed of the noise (``None``: fresh OS entropy; the resolved seed is kept in ``sample_info_``).
        batch_size : int, default=None
            Samples run together (each stops on its own); ``None`` runs all at once.
        return_info : bool, default=False
            Also return the info dict (see ``sample_info_``).
        callback : callable, default=None
            Called at every step with the sampler's state dict (see :func:`gahb.core.sampling.sample_ks`) plus
            ``start``, the index of the batch's first sample.
        trajectory_steps : sequence of int, default=None
            Steps at which to keep the one-step denoised estimates ``f(y_t)``.
        sampler : {"ks", "euler", "heun"}, default="ks"
            ``"ks"``: the paper's sampler. ``"euler"``/``"heun"``: deterministic probability-flow ODE with
            the blind denoiser on a Karras grid from ``sigma_0`` to ``sigma_final`` with
            ``max_sample_steps`` steps (set it to ~20-50 for these).
        on_divergence : {"warn", "raise", "ignore"}, default="warn"
            What to do when samples diverge (their rows are NaN) or hit ``max_sample_steps``
            (``"raise"`` raises ``FloatingPointError`` on divergence only).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), float32
            Final estimates ``f(y_T)``; NaN rows for diverged samples.
        info : dict, only with ``return_info=True``
            ``n_steps``, ``converged``, ``diverged`` (per sample), ``sigma`` (last measured effective
            noise), ``random_state`` (the seed used) and, with ``trajectory_steps``, ``trajectory``
            ``(len(steps), n_samples, n_features)`` and ``trajectory_steps``.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import DiffusionDenoiser
        >>> X = np.random.default_rng(0).random((200, 64))
        >>> den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=20, image_shape=(8, 8), random_state=0).fit(X)
        >>> S, info = den.sample(4, random_state=0, return_info=True)
        >>> S.shape, info["n_steps"].shape
        ((4, 64), (4,))
        >>> bool(np.array_equal(S, den.sample(4, random_state=0)))
        True
        """
        check_is_fitted(self, "denoiser_")
        n_samples = check_int(n_samples, "n_samples")
        batch_size = self._check_common(batch_size, on_divergence, n_samples)
        if sampler not in _SAMPLERS:
            raise ValueError(f"sampler must be one of {sorted(_SAMPLERS)}; got {sampler!r}.")
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable or None.")
        seed = resolve_seed(random_state)
        mean = self._initial_mean()
        fn, kw = _SAMPLERS[sampler], self._sampler_kwargs(sampler)

        def run_batch(start, stop, gens, cb):
            return fn(self.denoiser_, mean, gens, callback=cb, trajectory_steps=trajectory_steps, **kw)

        X, info = self._run_batches(n_samples, batch_size, seed, run_batch, callback)
        self.sample_info_ = info
        self._report(info, on_divergence, "samples")
        return (X, info) if return_info else X

    def reconstruct(self, measurements, operator, random_state=None, *, batch_size=None, return_info=False,
                    project=True, callback=None, on_divergence="warn"):
        """Solve a linear inverse problem: draw one image consistent with each row of measurements.

        The same sampler as :meth:`sample`, with the direction
        ``(I - M M^T)(y - f(y)) + M (M^T y - x_c)`` (Kadkhodaie & Simoncelli 2021) and the initial mean
        ``(I - M M^T) m + M x_c`` (``m`` as in :meth:`sample`).

        Parameters
        ----------
        measurements : array-like of shape (n_samples, operator.n_measurements)
            ``x_c = M^T x`` for each image, e.g. ``operator.measure_rows(X)``.
        operator : gahb.core.operators.MeasurementOperator
            ``Inpainting``, ``RandomPixels``, ``BlockAverage``, ``SpectralLowpass``, ``RandomSubspace`` or
            your own (orthonormal columns), with ``image_shape`` equal to ``image_shape_``.
        random_state : int, RandomState instance or None, default=None
            Seed of the noise (row ``i`` uses the generator of ``(seed, i)``).
        batch_size, return_info, callback, on_divergence
            As in :meth:`sample`.
        project : bool, default=True
            Replace the measured component of the result by ``M x_c`` (exact consistency).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), float32
            Reconstructions (NaN rows for diverged samples).
        info : dict, only with ``return_info=True``
            As in :meth:`sample`.

        Examples
        --------
        >>> import numpy as np
        >>> from gahb import DiffusionDenoiser
        >>> from gahb.core.operators import BlockAverage
        >>> X = np.random.default_rng(0).random((200, 64))
        >>> den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=20, image_shape=(8, 8), random_state=0).fit(X)
        >>> op = BlockAverage((8, 8), factor=2)
        >>> c = op.measure_rows(X[:3])
        >>> X_hat = den.reconstruct(c, op, random_state=0, on_divergence="ignore")
        >>> X_hat.shape, bool(np.allclose(op.measure_rows(X_hat), c, atol=1e-5))
        ((3, 64), True)
        """
        check_is_fitted(self, "denoiser_")
        if not isinstance(operator, MeasurementOperator):
            raise TypeError(f"operator must be a gahb.core.operators.MeasurementOperator; got {type(operator).__name__}.")
        if tuple(operator.image_shape) != tuple(self.image_shape_):
            raise ValueError(f"operator.image_shape {tuple(operator.image_shape)} differs from the model's "
                             f"image_shape_ {tuple(self.image_shape_)}.")
        C = np.asarray(measurements, dtype=np.float32)
        if C.ndim != 2 or C.shape[1] != operator.n_measurements or C.shape[0] < 1:
            raise ValueError(f"measurements must have shape (n_samples, {operator.n_measurements}); got {C.shape}.")
        if not np.isfinite(C).all():
            raise ValueError("measurements contain NaN or infinity.")
        batch_size = self._check_common(batch_size, on_divergence, C.shape[0])
        seed = resolve_seed(random_state)
        mean = self._initial_mean()
        kw = self._sampler_kwargs("ks")

        def run_batch(start, stop, gens, cb):
            c = torch.as_tensor(C[start:stop]).to(self.device_)
            return solve_inverse(self.denoiser_, operator, c, gens, mean=mean, project=project, callback=cb, **kw)

        X, info = self._run_batches(C.shape[0], batch_size, seed, run_batch, callback)
        self.reconstruct_info_ = info
        self._report(info, on_divergence, "reconstructions")
        return (X, info) if return_info else X
