"""Model-vs-model agreement, effective memorization and the grid-search scorer (paper §2)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions, validate_params

from gahb._checks import RANDOM_STATE, check_rows, resolve_seed
from gahb.metrics._common import BOOLEAN, POSITIVE_INT, _pair, _real
from gahb.metrics._similarity import (
    check_threshold,
    memorization_rate,
    mismatched_similarity,
    paired_cosine_similarity,
    summarize,
)

_SAMPLES = [HasMethods(["sample"]), "array-like"]
_RULE = [StrOptions({"cosine", "ratio"})]


def _draw(model, n_samples, seed, sample_kwargs):
    if hasattr(model, "sample"):
        return np.asarray(model.sample(n_samples, random_state=seed, **(sample_kwargs or {})), dtype=np.float64)
    raise TypeError(f"{type(model).__name__} has no sample method; pass a fitted estimator or a sample array.")


@validate_params({"A": _SAMPLES, "B": _SAMPLES, "n_samples": POSITIVE_INT, "random_state": RANDOM_STATE,
                  "remove_mean": BOOLEAN, "sample_kwargs": [dict, None]},
                 prefer_skip_nested_validation=False)
def score_generalization(A, B, *, n_samples: int = 64, random_state=0, remove_mean: bool = True,
                         sample_kwargs: dict | None = None):
    """Similarity between the samples of two models drawn with the same noise (paper Fig. 2, blue).

    Parameters
    ----------
    A, B : fitted estimators with ``sample(n_samples, random_state=...)``, or arrays of shape (n, n_features)
        With estimators both are sampled with the same ``random_state`` (hence the same noise); with
        arrays, row ``i`` of ``A`` is compared with row ``i`` of ``B``.
    n_samples : int, default=64
        Samples drawn per estimator (ignored for arrays).
    random_state : int, RandomState or None, default=0
        Seed shared by both models.
    remove_mean : bool, default=True
        Compare mean-removed samples (Pearson correlation, the paper's primary measure); see
        :func:`cosine_similarity`.
    sample_kwargs : dict, default=None
        Extra keyword arguments for ``sample``.

    Returns
    -------
    result : Bunch
        ``similarity`` (per pair), ``median``, ``q25``, ``q75``, ``mean``, ``n_nan``; ``chance``: the median
        for mismatched pairs (``A[i]`` against ``B[j]``, every ``j != i``), the level two unrelated samples
        reach, and ``chance_similarity`` its per-pair values; ``samples_A``, ``samples_B``.

    See Also
    --------
    paired_cosine_similarity : The per-pair similarity used here.
    gahb.experiments.generalization_curve : This score for two models at each training-set size.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb.metrics import score_generalization
    >>> X = np.random.default_rng(0).random((8, 16))
    >>> float(score_generalization(X, X).median)
    1.0
    """
    if hasattr(A, "sample") or hasattr(B, "sample"):
        seed = resolve_seed(random_state)
        A = _draw(A, n_samples, seed, sample_kwargs) if hasattr(A, "sample") else A
        B = _draw(B, n_samples, seed, sample_kwargs) if hasattr(B, "sample") else B
    A, B = _pair(A, B, "A", "B")
    sim = paired_cosine_similarity(A, B, remove_mean=remove_mean)
    if A.shape[0] > 1:
        chance = mismatched_similarity(A, B, remove_mean=remove_mean)
    else:
        chance = np.full(1, np.nan)
    out = Bunch(similarity=sim, chance_similarity=chance, samples_A=A, samples_B=B, **summarize(sim))
    out["chance"] = summarize(chance)["median"]
    return out


@validate_params({"sizes": ["array-like"], "rates": ["array-like"],
                  "epsilon": [Interval(numbers.Real, 0, 1, closed="left")]},
                 prefer_skip_nested_validation=True)
def effective_memorization(sizes, rates, *, epsilon: float = 0.1) -> int:
    """Largest training-set size N up to which the memorization rate stays >= 1 - epsilon.

    Parameters
    ----------
    sizes : array-like of int
        Training-set sizes of a sweep.
    rates : array-like of float
        Memorization rate at each size (NaN counts as failing).
    epsilon : float in [0, 1), default=0.1
        Tolerance: a size counts as memorized while its rate is at least ``1 - epsilon``.

    Returns
    -------
    n : int
        The largest N such that every size ``<= N`` has rate ``>= 1 - epsilon``; 0 if the smallest fails.

    See Also
    --------
    memorization_rate : The rate at one size.
    gahb.experiments.GeneralizationCurve.effective_memorization : The same on a sweep's result.

    Examples
    --------
    >>> from gahb.metrics import effective_memorization
    >>> effective_memorization([1, 10, 100, 1000], [1.0, 0.95, 0.2, 0.0])
    10
    """
    sizes = _real(sizes, "sizes").ravel()
    rates = _real(rates, "rates").ravel()
    if sizes.shape != rates.shape:
        raise ValueError(f"sizes and rates must have the same length; got {sizes.size} and {rates.size}.")
    order = np.argsort(sizes, kind="stable")
    best = 0
    for n, r in zip(sizes[order], rates[order]):
        if not (np.isfinite(r) and r >= 1 - epsilon):
            break
        best = int(n)
    return best


class _MemorizationScorer:
    """Scorer ``(estimator, X, y=None) -> memorization rate`` of the estimator's samples against ``X``."""

    def __init__(self, n_samples, rule, threshold, remove_mean, random_state, sample_kwargs):
        self.n_samples = n_samples
        self.rule = rule
        self.threshold = threshold
        self.remove_mean = remove_mean
        self.random_state = random_state
        self.sample_kwargs = sample_kwargs

    def __call__(self, estimator, X, y=None, **kwargs):
        samples = _draw(estimator, self.n_samples, resolve_seed(self.random_state), self.sample_kwargs)
        X = check_rows(X, "X", finite=True)
        if self.rule == "ratio" and X.shape[0] < 2:
            return float("nan")
        return memorization_rate(samples, X, rule=self.rule, threshold=self.threshold, remove_mean=self.remove_mean)

    def __repr__(self):
        return f"memorization_scorer(n_samples={self.n_samples}, rule={self.rule!r})"


@validate_params({"n_samples": POSITIVE_INT, "rule": _RULE,
                  "threshold": [Interval(numbers.Real, None, None, closed="neither"), None],
                  "remove_mean": ["boolean", None], "random_state": RANDOM_STATE, "sample_kwargs": [dict, None]},
                 prefer_skip_nested_validation=True)
def memorization_scorer(n_samples: int = 32, *, rule: str = "cosine", threshold: float | None = None,
                        remove_mean: bool | None = None, random_state=0, sample_kwargs: dict | None = None):
    """A scikit-learn scorer: memorization rate of a fitted sampler's samples against the images scored.

    Use it with :func:`sklearn.model_selection.learning_curve` (the train score is the memorization rate
    against the training subset of each size; the test score, against held-out images, is the rate of
    "copies" of images never seen, i.e. chance) or with ``GridSearchCV`` over
    :class:`gahb.experiments.generalization.TrainingSubset`'s ``n_train``.

    Parameters
    ----------
    n_samples : int, default=32
        Samples drawn per scoring call.
    rule, threshold, remove_mean
        See :func:`memorization_rate`. The ``"ratio"`` rule scores NaN on fewer than 2 images.
    random_state : int, RandomState instance, Generator or None, default=0
        Sampling seed (the same noise for every model scored).
    sample_kwargs : dict, default=None
        Extra arguments for ``estimator.sample``.

    Returns
    -------
    scorer : callable ``scorer(estimator, X, y=None) -> float``

    See Also
    --------
    memorization_rate : The rate computed by the scorer.
    gahb.TrainingSubset : The training-set size as a hyper-parameter of a grid search.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import MemorizingDenoiser
    >>> from gahb.metrics import memorization_scorer
    >>> X = np.random.default_rng(0).random((6, 16))
    >>> est = MemorizingDenoiser(image_shape=(4, 4), beta=1.0).fit(X)  # a perfect memorizer: its samples copy X
    >>> memorization_scorer(4)(est, X)
    1.0
    """
    threshold = check_threshold(rule, threshold)  # a bad threshold fails here, not inside a grid search
    return _MemorizationScorer(int(n_samples), rule, threshold, remove_mean, random_state, sample_kwargs)
