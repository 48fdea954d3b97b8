"""Warnings and errors that gahb raises (import them to filter or catch them).

This module imports nothing heavy, so ``warnings.filterwarnings("error", category=...)`` can be set up
before torch is loaded.
"""

from __future__ import annotations

__all__ = ["NearDuplicateWarning", "NotBiasFreeWarning", "SampleDivergenceWarning", "SkippedImageWarning",
           "TrainingInterruptedWarning"]


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


class SkippedImageWarning(UserWarning):
    """A folder loader skipped image files it could not read; the warning names each file and why.

    Raised by :func:`gahb.datasets.load_image_folder` and :func:`gahb.datasets.load_photo_tiles` when a file
    cannot be decoded, is truncated, is larger than PIL's decompression-bomb limit, or is a floating-point
    image outside [0, 1]. The rest of the folder is loaded and the skipped names are in the result's
    ``skipped``; pass ``strict=True`` to get a ``ValueError`` naming the first bad file instead.

    See Also
    --------
    gahb.datasets.load_image_folder : A folder of images.

    Examples
    --------
    A ``UserWarning``, so ``-W error::UserWarning`` makes a skipped file fatal too:

    >>> from gahb.exceptions import SkippedImageWarning
    >>> SkippedImageWarning.__mro__[1].__name__
    'UserWarning'
    """


class NearDuplicateWarning(UserWarning):
    """The data, not the models, would make a result look like generalization.

    Raised by :func:`gahb.experiments.generalization_curve` (and so by ``gahb transition``, whose report
    repeats it) before any training when the two training sets share near-duplicate images (the median
    similarity of each image of A to its nearest image of B is at or above ``threshold``: one photo at
    several resolutions does this), or when the held-out images of the PSNR curves have near-duplicates
    in the training sets. Models would then agree, or score well on "held-out" images, because their
    data overlap. Remove near-duplicates before the split: :func:`gahb.datasets.remove_near_duplicates`
    (``gahb transition --dedup 0.95``).

    See Also
    --------
    gahb.metrics.data_baseline : The similarity between two training sets.

    Examples
    --------
    Every image ten times (one photo at several resolutions), so A and B share images:

    >>> import warnings, numpy as np
    >>> from gahb import MemorizingDenoiser
    >>> from gahb.experiments import generalization_curve
    >>> X = np.repeat(np.random.default_rng(0).random((4, 16)), 10, axis=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     res = generalization_curve(MemorizingDenoiser(image_shape=(4, 4)), X, [8], n_samples=2, sigmas=[],
    ...                                verbose=0)
    >>> caught[0].category.__name__, len(res.data_warnings)
    ('NearDuplicateWarning', 2)
    """


class TrainingInterruptedWarning(RuntimeWarning):
    """Training stopped early (Ctrl-C or SIGTERM); the model is usable, with the steps taken so far.

    Raised by :meth:`gahb.DiffusionDenoiser.fit`: ``n_iter_`` says how far it got, and with ``checkpoint_dir``
    a checkpoint of that step is written, from which ``fit(warm_start=True)`` continues. The ``gahb``
    commands that train several models turn it into a stop of the whole run (exit code 130), so that no
    report is made from an undertrained model; ``gahb fit`` writes the model and says how to resume.

    See Also
    --------
    gahb.DiffusionDenoiser.load : Opens a checkpoint to continue from.

    Examples
    --------
    >>> from gahb.exceptions import TrainingInterruptedWarning
    >>> issubclass(TrainingInterruptedWarning, RuntimeWarning)
    True
    """
