"""Warnings and errors that gahb raises (import them to filter or catch them).

This module imports nothing heavy, so ``warnings.filterwarnings("error", category=...)`` can be set up
before torch is loaded.
"""

from __future__ import annotations

__all__ = ["NotBiasFreeWarning", "SampleDivergenceWarning"]


class SampleDivergenceWarning(UserWarning):
    """Some samples or reconstructions diverged; their rows of the result are NaN.

    Raised by :meth:`gahb.DiffusionDenoiser.sample` and :meth:`gahb.DiffusionDenoiser.reconstruct` (and the same
    methods of :class:`gahb.MemorizingDenoiser`) with ``on_divergence="warn"``, the default: a sample diverges
    when its effective noise level becomes non-finite or grows past twice its starting value. Pass
    ``on_divergence="raise"`` to get a ``FloatingPointError`` instead, ``"ignore"`` to stay silent.

    See Also
    --------
    sklearn.exceptions.ConvergenceWarning : Raised when samples stop at ``max_sample_steps`` before
        reaching ``sigma_final``.

    Examples
    --------
    >>> import warnings
    >>> from gahb.exceptions import SampleDivergenceWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", SampleDivergenceWarning)  # turn divergence into an exception
    ...     issubclass(SampleDivergenceWarning, UserWarning)
    True
    """


class NotBiasFreeWarning(UserWarning):
    """A user-supplied network is not homogeneous of degree 1, so it is not bias-free.

    :class:`gahb.DiffusionDenoiser` checks a custom ``architecture`` by homogeneity, ``r(a y) = a r(y)``
    for a few scales ``a`` on a random input, before training and again after it. A network with additive
    constants (biases, mean-subtracting normalization) fails this check; it still trains and denoises, but
    the paper's analysis (the denoiser as shrinkage in its Jacobian's eigenbasis, ``f(y) = J(y) y``) does
    not hold for it.

    See Also
    --------
    gahb.core.nn.UNet : The bias-free UNet of the paper.
    gahb.core.nn.BFCNN : A bias-free DnCNN.

    Examples
    --------
    >>> from gahb.exceptions import NotBiasFreeWarning
    >>> issubclass(NotBiasFreeWarning, UserWarning)
    True
    """
