"""Fit many `DiffusionDenoiser`\\ s of one architecture as one network (scikit-learn layer over
:mod:`gahb.core.vectorized`)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils._param_validation import validate_params

from gahb._checks import resolve_seed
from gahb._networks import check_architecture, warn_if_not_bias_free
from gahb._training import _mean_rows, train_config, training_rows
from gahb._utils import resolve_device
from gahb.core.batches import Batches, host_images
from gahb.core.vectorized import train_stacked

__all__ = ["fit_vectorized"]

# parameters that may differ between the jointly trained models (everything else shapes the one network)
_FREE = {"random_state", "verbose"}


def _plain(value):
    """Comparable form of a parameter value (tuples and lists alike, devices as strings, a module instance by its
    class and parameter shapes, since every clone holds its own copy)."""
    if isinstance(value, torch.nn.Module):
        return [type(value).__qualname__, [(k, list(v.shape)) for k, v in value.state_dict().items()]]
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (torch.device, np.generic)):
        return str(value) if isinstance(value, torch.device) else value.item()
    return value


def _check_same_settings(estimators) -> None:
    from gahb.denoiser import DiffusionDenoiser

    for i, est in enumerate(estimators):
        if not isinstance(est, DiffusionDenoiser):
            raise TypeError(f"fit_vectorized trains DiffusionDenoiser models only; estimator {i} is "
                            f"{type(est).__name__}.")
    ref = estimators[0].get_params(deep=False)
    for i, est in enumerate(estimators[1:], start=1):
        for key, value in est.get_params(deep=False).items():
            if key not in _FREE and _plain(value) != _plain(ref[key]):
                raise ValueError(
                    f"fit_vectorized trains models of one architecture and one training setting, differing only in "
                    f"random_state and data; estimator {i} has {key}={value!r} but estimator 0 has {key}={ref[key]!r}."
                )


@validate_params({"estimators": ["array-like"], "Xs": ["array-like"]}, prefer_skip_nested_validation=False)
def fit_vectorized(estimators, Xs):
    """Fit ``estimators[m]`` on ``Xs[m]`` for every ``m``, all at once as one network.

    Each model gets exactly what its own ``fit`` would draw: initial weights from its ``random_state``,
    minibatches from its own training set, its own noise levels, noise and Adam state. Only the forward
    and backward passes are shared (``torch.func`` stacking with ``vmap``), so the models equal their
    individual fits up to float rounding (about 1e-6 relative in the weights after 20 steps; as in any
    training run, rounding differences grow over long runs, so long runs agree in distribution, not digit
    by digit). The estimators are fitted in place and are normal fitted estimators afterwards (no
    progress bar: ``verbose`` is ignored; ``validation_scores_`` is None).

    Parameters
    ----------
    estimators : list of DiffusionDenoiser
        Unfitted or fitted models that differ only in ``random_state`` (and ``verbose``): same architecture,
        image shape, training and sampler settings, device.
    Xs : list of array-like of shape (n_samples_m, n_features), (n_samples_m, H, W) or (n_samples_m, C, H, W)
        The training set of each model (sizes may differ; the image shape may not).

    Returns
    -------
    estimators : list of DiffusionDenoiser
        The same objects, fitted.

    Raises
    ------
    ValueError
        If the models differ in anything but ``random_state``, if the lists differ in length, or if an X is
        invalid; raised before any training.

    See Also
    --------
    gahb.experiments.generalization_curve : Its ``vectorize`` option trains a sweep's models this way.
    gahb.core.vectorized.train_stacked : The torch core of the joint training.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import DiffusionDenoiser, fit_vectorized
    >>> rng = np.random.default_rng(0)
    >>> Xs = [rng.random((n, 64)) for n in (4, 32)]
    >>> models = [DiffusionDenoiser(width=8, n_blocks=2, max_iter=20, image_shape=(8, 8), random_state=s)
    ...           for s in (0, 1)]
    >>> a, b = fit_vectorized(models, Xs)
    >>> a.transform(Xs[0][:2]).shape, b.n_iter_
    ((2, 64), 20)
    """
    estimators, Xs = list(estimators), list(Xs)
    if not estimators or len(estimators) != len(Xs):
        raise ValueError(f"fit_vectorized needs one training set per estimator (at least one); got "
                         f"{len(estimators)} estimators and {len(Xs)} training sets.")
    _check_same_settings(estimators)
    first = estimators[0]
    first._validate_params()
    _check_supported(first)
    first._check_sigma_order()
    check_architecture(first.architecture)
    rows = []
    for est, X in zip(estimators, Xs):  # the checks of DiffusionDenoiser.fit, for every model before any training
        rows.append(training_rows(est, X))
    shapes = {shape for _, shape in rows}
    if len(shapes) > 1:
        raise ValueError(f"all training sets need the same image shape; got {sorted(shapes)}.")
    device = resolve_device(first.device)
    seeds = [resolve_seed(est.random_state) for est in estimators]
    probes = []
    for est, (X, shape), seed in zip(estimators, rows, seeds):  # each network exactly as its own fit builds it
        est.image_shape_, est.device_ = shape, device
        est.train_mean_ = _mean_rows(X, None)
        probes.append(est._init_network(seed))
    config = train_config(first)  # _check_supported: precision, compile, ... at the values train_stacked runs
    data = [Batches(host_images(X, shape), device) for X, shape in rows]
    curves = train_stacked([est.network_ for est in estimators], data, seeds, config, device)
    for est, probe, curve in zip(estimators, probes, curves):
        est.loss_curve_, est.n_iter_, est.validation_scores_ = curve, first.max_iter, None
        est.network_.eval()
        if probe is not None:  # a custom module: the bias-free check of DiffusionDenoiser.fit
            warn_if_not_bias_free(est.network_, probe, "after training")
    return estimators


# settings of a single fit that the joint training does not offer: (parameter, the value it supports)
_SINGLE_FIT_ONLY = (("precision", "fp32"), ("validation_fraction", None), ("channels_last", False),
                    ("compile", False), ("checkpoint_dir", None), ("warm_start", False))


def unsupported(est) -> str | None:
    """Why ``est`` cannot be trained by :func:`fit_vectorized` (a sentence), or None when it can."""
    from gahb.core.distributed import World

    for name, supported in _SINGLE_FIT_ONLY:
        if getattr(est, name) != supported:
            return (f"fit_vectorized trains with {name}={supported!r} only (got {name}={getattr(est, name)!r}); "
                    "fit these models one by one (vectorize=False in a sweep).")
    if World().active:
        return ("fit_vectorized runs in one process; inside a torch.distributed process group, fit the models one "
                "by one.")
    return None


def _check_supported(est) -> None:
    reason = unsupported(est)
    if reason is not None:
        raise ValueError(reason)
