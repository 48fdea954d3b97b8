"""``sample`` and ``reconstruct``, shared by every denoiser estimator (sklearn layer over :mod:`gahb.core.sampling`)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.validation import check_array, check_is_fitted

from gahb._checks import resolve_seed
from gahb._utils import to_rows
from gahb.core.operators import MeasurementOperator, solve_inverse
from gahb.core.random import sample_generators
from gahb.core.sampling import sample_euler, sample_heun, sample_ks
from gahb.exceptions import SampleDivergenceWarning

_SAMPLERS = {"ks": sample_ks, "euler": sample_euler, "heun": sample_heun}

# The sampler settings of every denoiser estimator: merged into its ``_parameter_constraints``.
SAMPLER_PARAMETER_CONSTRAINTS: dict = {
    "h0": [Interval(numbers.Real, 0, 1, closed="right")],
    "beta": [Interval(numbers.Real, 0, 1, closed="right")],
    "sigma_0": [Interval(numbers.Real, 0, None, closed="neither")],
    "sigma_final": [Interval(numbers.Real, 0, None, closed="neither")],
    "max_sample_steps": [Interval(numbers.Integral, 1, None, closed="left")],
    "sample_init": [StrOptions({"mean"}), Interval(numbers.Real, None, None, closed="neither")],
    "device": [str, torch.device],
    "verbose": ["verbose"],
}

# random_state of sample/reconstruct: sklearn's kinds plus torch generators (one, or one per sample)
_RANDOM_STATE = [None, Interval(numbers.Integral, 0, None, closed="left"), np.random.RandomState,
                 np.random.Generator, torch.Generator, list]
_COMMON_ARGUMENTS = {
    "random_state": _RANDOM_STATE,
    "batch_size": [None, Interval(numbers.Integral, 1, None, closed="left")],
    "return_info": ["boolean"],
    "callback": [None, callable],
    "on_divergence": [StrOptions({"warn", "raise", "ignore"})],
}
_SAMPLE_ARGUMENTS = {
    "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
    "trajectory_steps": [None, "array-like"],
    "sampler": [StrOptions(set(_SAMPLERS))],
    **_COMMON_ARGUMENTS,
}
_RECONSTRUCT_ARGUMENTS = {
    "measurements": ["array-like"],
    "operator": [MeasurementOperator],
    "project": ["boolean"],
    **_COMMON_ARGUMENTS,
}


def _generators(random_state, n):
    """One CPU generator per sample from a ``random_state`` of ``sample`` -> (generators, seed or None)."""
    if isinstance(random_state, list):
        if len(random_state) != n or not all(isinstance(g, torch.Generator) for g in random_state):
            kinds = sorted({type(g).__name__ for g in random_state})
            raise ValueError(f"a list random_state must hold one torch.Generator per sample ({n}); got "
                             f"{len(random_state)} item(s) of type(s) {kinds}.")
        if any(g.device.type != "cpu" for g in random_state):
            raise ValueError("the torch.Generators of a list random_state must be CPU generators, so that the noise "
                             "is the same on every device.")
        return list(random_state), None
    if isinstance(random_state, torch.Generator):
        # below 2**32 like resolve_seed's draws, so the recorded seed is a valid random_state everywhere
        seed = int(torch.randint(2**32, (1,), generator=random_state, device=random_state.device).item())
    else:
        seed = resolve_seed(random_state)
    return sample_generators(seed, n), seed


class SamplingMixin:
    """``sample`` and ``reconstruct`` for a fitted estimator with ``denoiser_``, ``image_shape_``, ``device_``,
    ``train_mean_`` and the parameters of :data:`SAMPLER_PARAMETER_CONSTRAINTS`."""

    # ------------------------------------------------------------------ helpers
    def _check_sampler_settings(self) -> None:
        # set_params does not validate, so the settings the sampler is about to use are checked here
        self._validate_params()
        self._check_sigma_order()

    def _check_sigma_order(self) -> None:
        if self.sigma_final >= self.sigma_0:
            raise ValueError(f"sigma_final ({self.sigma_final}) must be smaller than sigma_0 ({self.sigma_0}): the "
                             "sampler starts at noise level sigma_0 and stops below sigma_final.")

    def _initial_mean(self) -> torch.Tensor:
        """The sampler's initial mean image ``(C, H, W)``: ``train_mean_`` for ``"mean"``, else a constant."""
        if isinstance(self.sample_init, str):
            mean = torch.as_tensor(np.asarray(self.train_mean_, dtype=np.float32))
            return mean.reshape(self.image_shape_).to(self.device_)
        return torch.full(self.image_shape_, float(self.sample_init), device=self.device_)

    def _sampler_kwargs(self, sampler):
        kw = dict(sigma_0=self.sigma_0, sigma_final=self.sigma_final, max_steps=int(self.max_sample_steps))
        if sampler == "ks":
            kw.update(h0=self.h0, beta=self.beta)
        return kw

    def _run_batches(self, gens, batch_size, run_batch, callback, what):
        """Runs ``run_batch(start, stop, generators, callback)`` over batches and gathers the outputs."""
        n = len(gens)
        batch_size = n if batch_size is None else int(batch_size)
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=n, desc=what, unit="sample", leave=False)
        outs = []
        try:
            for start in range(0, n, batch_size):
                stop = min(n, start + batch_size)
                cb = None
                if callback is not None or bar is not None:
                    def cb(state, _start=start, _stop=stop):  # sample indices of this batch are _start + arange(B)
                        if callback is not None:
                            callback(dict(state, start=_start))
                        if bar is not None:  # samples still running count as not done
                            bar.update(_stop - int(state["active"].sum()) - bar.n)
                            bar.set_postfix(step=state["step"], refresh=False)
                outs.append(run_batch(start, stop, gens[start:stop], cb))
                if bar is not None:
                    bar.update(stop - bar.n)
        finally:
            if bar is not None:
                bar.close()
        info = {
            "n_steps": np.concatenate([o.n_steps.cpu().numpy() for o in outs]),
            "converged": np.concatenate([o.converged.cpu().numpy() for o in outs]),
            "diverged": np.concatenate([o.diverged.cpu().numpy() for o in outs]),
            "sigma": np.concatenate([o.sigma.detach().cpu().double().numpy() for o in outs]),
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

    # ------------------------------------------------------------------ public
    def sample(self, n_samples=1, random_state=None, *, batch_size=None, return_info=False, callback=None,
               trajectory_steps=None, sampler="ks", on_divergence="warn"):
        """Draw images from the prior implicit in the denoiser (Kadkhodaie & Simoncelli 2021 sampler).

        Starts at ``y_0 = m + sigma_0 z_0`` (``m``: ``train_mean_`` when ``sample_init="mean"``, the
        authors' choice, or the constant image ``sample_init`` when it is a float, e.g. 0.5) and runs the
        sampler with the estimator's ``h0, beta, sigma_0, sigma_final, max_sample_steps`` (change them with
        ``set_params``: they are checked again here, and ``sigma_final`` must be below ``sigma_0``;
        ``beta=1`` is deterministic given ``z_0``). With ``verbose > 0`` a progress bar counts the finished
        samples.

        Every sample draws all its noise (``z_0`` and the noise injected at each step) from its own CPU
        ``torch.Generator``, so sample ``i`` is the same whatever ``n_samples`` or ``batch_size``, on any
        device, and two models given the same ``random_state`` receive identical noise. ``random_state``
        chooses these generators:

        - an int ``s``: sample ``i`` uses the generator seeded by ``(s, i)``
          (:func:`gahb.core.random.sample_generators`);
        - ``None``: as an int drawn from the operating system's entropy;
        - a numpy ``RandomState`` or ``Generator``, or a ``torch.Generator`` (any device): one integer is drawn
          from it (advancing it by one draw) and used as ``s``;
        - a list of ``n_samples`` CPU ``torch.Generator`` objects (diffusers' convention): sample ``i`` draws
          from ``random_state[i]`` itself, which it advances.

        The seed ``s`` used is kept in ``sample_info_["random_state"]`` (``None`` for a list), so any call can
        be repeated.

        Parameters
        ----------
        n_samples : int, default=1
            Number of samples.
        random_state : int, RandomState, numpy Generator, torch.Generator, list of torch.Generator or None, \
default=None
            The noise, as described above.
        batch_size : int, default=None
            Samples run together (each stops on its own); ``None`` runs all at once.
        return_info : bool, default=False
            Also return the info dict (see ``sample_info_``).
        callback : callable, default=None
            Called at every step with the sampler's state dict (see :func:`gahb.core.sampling.sample_ks`) plus
            ``start``, the index of the batch's first sample.
        trajectory_steps : sequence of int, default=None
            Steps (``>= 0``) at which to keep the one-step denoised estimates ``f(y_t)``.
        sampler : {"ks", "euler", "heun"}, default="ks"
            ``"ks"``: the paper's sampler. ``"euler"``/``"heun"``: deterministic probability-flow ODE with
            the blind denoiser on a Karras grid from ``sigma_0`` to ``sigma_final`` with
            ``max_sample_steps`` steps (set it to ~20-50 for these).
        on_divergence : {"warn", "raise", "ignore"}, default="warn"
            What to do when samples diverge (their rows are NaN;
            :class:`~gahb.exceptions.SampleDivergenceWarning`) or hit ``max_sample_steps``
            (``ConvergenceWarning``). ``"raise"`` raises ``FloatingPointError`` on divergence only.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), float32
            Final estimates ``f(y_T)``; NaN rows for diverged samples.
        info : dict, only with ``return_info=True``
            ``n_steps``, ``converged``, ``diverged`` (per sample), ``sigma`` (last measured effective
            noise), ``random_state`` (the seed used) and, with ``trajectory_steps``, ``trajectory``
            ``(len(steps), n_samples, n_features)`` and ``trajectory_steps``.

        See Also
        --------
        reconstruct : The same sampler constrained by linear measurements.
        gahb.core.sampling.sample_ks : The sampler on tensors.
        gahb.metrics.score_generalization : Compares the samples of two models drawn with the same noise.

        Examples
        --------
        >>> import numpy as np, torch
        >>> from gahb import DiffusionDenoiser
        >>> X = np.random.default_rng(0).random((200, 64))
        >>> den = DiffusionDenoiser(width=8, n_blocks=2, max_iter=20, image_shape=(8, 8), random_state=0).fit(X)
        >>> S, info = den.sample(4, random_state=0, return_info=True)
        >>> S.shape, info["n_steps"].shape
        ((4, 64), (4,))
        >>> bool(np.array_equal(S, den.sample(4, random_state=0)))
        True
        >>> gens = [torch.Generator().manual_seed(i) for i in range(4)]  # one generator per sample
        >>> den.sample(4, random_state=gens).shape
        (4, 64)
        """
        check_is_fitted(self, "denoiser_")
        validate_parameter_constraints(
            _SAMPLE_ARGUMENTS,
            dict(n_samples=n_samples, random_state=random_state, batch_size=batch_size, return_info=return_info,
                 callback=callback, trajectory_steps=trajectory_steps, sampler=sampler, on_divergence=on_divergence),
            caller_name=f"{type(self).__name__}.sample",
        )
        if trajectory_steps is not None:
            steps = np.asarray(trajectory_steps)
            if steps.ndim != 1 or not np.issubdtype(steps.dtype, np.integer) or (steps < 0).any():
                raise ValueError(f"trajectory_steps must be a sequence of integers >= 0; got {trajectory_steps!r}.")
        self._check_sampler_settings()
        gens, seed = _generators(random_state, int(n_samples))
        mean = self._initial_mean()
        fn, kw = _SAMPLERS[sampler], self._sampler_kwargs(sampler)

        def run_batch(start, stop, batch_gens, cb):
            return fn(self.denoiser_, mean, batch_gens, callback=cb, trajectory_steps=trajectory_steps, **kw)

        X, info = self._run_batches(gens, batch_size, run_batch, callback, "sampling")
        info["random_state"] = seed
        self.sample_info_ = info
        self._report(info, on_divergence, "samples")
        return (X, info) if return_info else X

    def reconstruct(self, measurements, operator, random_state=None, *, batch_size=None, return_info=False,
                    project=True, callback=None, on_divergence="warn"):
        """Solve a linear inverse problem: draw one image consistent with each row of measurements.

        The same sampler as :meth:`sample`, with the direction
        ``(I - M M^T)(y - f(y)) + M (M^T y - x_c)`` (Kadkhodaie & Simoncelli 2021) and the initial mean
        ``(I - M M^T) m + M x_c`` (``m`` as in :meth:`sample`). With ``verbose > 0`` a progress bar counts
        the finished reconstructions.

        Parameters
        ----------
        measurements : array-like of shape (n_samples, operator.n_measurements)
            ``x_c = M^T x`` for each image, e.g. ``operator.measure_rows(X)``.
        operator : gahb.core.operators.MeasurementOperator
            ``Inpainting``, ``RandomPixels``, ``BlockAverage``, ``SpectralLowpass``, ``RandomSubspace`` or
            your own (orthonormal columns), with ``image_shape`` equal to ``image_shape_``.
        random_state : int, RandomState, numpy Generator, torch.Generator, list of torch.Generator or None, \
default=None
            The noise of row ``i``, exactly as for sample ``i`` in :meth:`sample`.
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

        See Also
        --------
        sample : Unconstrained samples of the same prior.
        gahb.core.operators.solve_inverse : The inverse-problem sampler on tensors.

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
        validate_parameter_constraints(
            _RECONSTRUCT_ARGUMENTS,
            dict(measurements=measurements, operator=operator, random_state=random_state, batch_size=batch_size,
                 return_info=return_info, project=project, callback=callback, on_divergence=on_divergence),
            caller_name=f"{type(self).__name__}.reconstruct",
        )
        if tuple(operator.image_shape) != tuple(self.image_shape_):
            raise ValueError(f"operator.image_shape {tuple(operator.image_shape)} differs from the model's "
                             f"image_shape_ {tuple(self.image_shape_)}.")
        C = check_array(measurements, dtype=np.float32, input_name="measurements")
        if C.shape[1] != operator.n_measurements:
            raise ValueError(f"measurements must have shape (n_samples, {operator.n_measurements}); got {C.shape}.")
        self._check_sampler_settings()
        gens, seed = _generators(random_state, C.shape[0])
        mean = self._initial_mean()
        kw = self._sampler_kwargs("ks")

        def run_batch(start, stop, batch_gens, cb):
            c = torch.as_tensor(C[start:stop]).to(self.device_)
            return solve_inverse(self.denoiser_, operator, c, batch_gens, mean=mean, project=project, callback=cb,
                                 **kw)

        X, info = self._run_batches(gens, batch_size, run_batch, callback, "reconstructing")
        info["random_state"] = seed
        self.reconstruct_info_ = info
        self._report(info, on_divergence, "reconstructions")
        return (X, info) if return_info else X
