"""Where the sampling trajectories of two models part (paper App. B, Fig. 8).

Two models sampled from the same initial noise with the same injected noise follow trajectories y_t that
can be compared step by step through their one-shot denoised states x̂_t = f(y_t) = y_t − r(y_t). Two
generalizing models stay together for most of the way (the paper: they bifurcate "somewhere around the
middle" when they part at all); a memorizing model leaves early for one of its own training images.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from gahb.metrics import paired_cosine_similarity, summarize

__all__ = ["trajectory_bifurcation", "TrajectoryBifurcation"]


def _trajectory(model, n_samples, seed, steps):
    X, info = model.sample(n_samples, random_state=seed, return_info=True, trajectory_steps=steps,
                           on_divergence="ignore")
    return np.asarray(X, np.float64), np.asarray(info["trajectory"], np.float64), np.asarray(info["n_steps"])


def _split_step(similarity, threshold):
    """First step (per column) from which the similarity stays below ``threshold`` to the end; -1: never parted."""
    below = np.nan_to_num(similarity, nan=-np.inf) < threshold
    # two trajectories that start apart at high noise and meet again have not parted: only a final parting counts
    for_good = np.flip(np.logical_and.accumulate(np.flip(below, axis=0), axis=0), axis=0)
    return np.where(for_good.any(axis=0), for_good.argmax(axis=0), -1)


@validate_params(
    {
        "model_A": [HasMethods(["sample"])],
        "model_B": [HasMethods(["sample"])],
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "threshold": [Interval(numbers.Real, -1, 1, closed="both")],
        "remove_mean": ["boolean"],
        "max_steps": [None, Interval(numbers.Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def trajectory_bifurcation(model_A, model_B, *, n_samples=16, random_state=0, threshold=0.9, remove_mean=True,
                           max_steps=None):
    """Step-by-step similarity of two models' sampling trajectories from the same noise, and where they split.

    Both fitted models are sampled with the same ``random_state`` (so sample ``i`` gets identical initial and
    injected noise in both) keeping the one-shot denoised state f(y_t) at every step. A sample's *split
    step* is the first step from which the cosine similarity of the two states stays below ``threshold``
    to the end: the two trajectories have parted for good. Denoised states at the start (high noise) are
    blurry and may differ before the trajectories meet; that is not a split. A sample whose final states
    agree has no split ("never", stored as -1). A sample that has stopped keeps its last state, so steps
    past the end compare final images.

    Parameters
    ----------
    model_A, model_B : fitted estimators with ``sample(..., return_info=True, trajectory_steps=...)``
        E.g. two :class:`gahb.DiffusionDenoiser` trained on disjoint sets (same sampler settings).
    n_samples : int, default=16
        Trajectories per model.
    random_state : int, default=0
        Seed of the shared noise.
    threshold : float, default=0.9
        Similarity below which two states count as parted.
    remove_mean : bool, default=True
        Mean-removed cosine similarity (see :func:`gahb.metrics.cosine_similarity`).
    max_steps : int, default=None
        Steps kept (0 .. max_steps); ``None`` uses the larger ``max_sample_steps`` of the two models.

    Returns
    -------
    result : TrajectoryBifurcation

    See Also
    --------
    generalization_curve : The two models per N whose trajectories this compares.
    gahb.DiffusionDenoiser.sample : ``trajectory_steps`` keeps the denoised states.

    Examples
    --------
    >>> import numpy as np
    >>> from gahb import DiffusionDenoiser
    >>> X = np.random.default_rng(0).random((64, 36))
    >>> den = DiffusionDenoiser(width=4, n_blocks=1, max_iter=5, image_shape=(6, 6), beta=1.0, h0=0.2,
    ...                         max_sample_steps=20, random_state=0).fit(X)
    >>> trajectory_bifurcation(den, den, n_samples=2).split_steps.tolist()  # a model never parts from itself
    [-1, -1]
    """
    if max_steps is None:
        max_steps = max(int(m.get_params().get("max_sample_steps", 1000)) for m in (model_A, model_B))
    steps = list(range(int(max_steps) + 1))
    XA, TA, nA = _trajectory(model_A, n_samples, random_state, steps)
    XB, TB, nB = _trajectory(model_B, n_samples, random_state, steps)
    last = int(max(nA.max(), nB.max()))
    TA, TB = TA[: last + 1], TB[: last + 1]
    sim = np.stack([paired_cosine_similarity(a, b, remove_mean=remove_mean) for a, b in zip(TA, TB)])
    return TrajectoryBifurcation(similarity=sim, split_steps=_split_step(sim, threshold), n_steps_A=nA, n_steps_B=nB,
                                 trajectory_A=TA, trajectory_B=TB, samples_A=XA, samples_B=XB, threshold=threshold,
                                 remove_mean=remove_mean)


class TrajectoryBifurcation:
    """Result of :func:`trajectory_bifurcation`.

    Attributes
    ----------
    similarity : ndarray of shape (n_steps + 1, n_samples)
        Cosine similarity of the two models' denoised states at each step.
    split_steps : ndarray of shape (n_samples,)
        First step from which the similarity stays below ``threshold``, per sample; -1 for "never".
    n_steps_A, n_steps_B : ndarray of shape (n_samples,)
        Sampler steps each sample took.
    trajectory_A, trajectory_B : ndarray of shape (n_steps + 1, n_samples, n_features)
        The denoised states f(y_t).
    samples_A, samples_B : ndarray of shape (n_samples, n_features)
        Final samples.

    See Also
    --------
    trajectory_bifurcation : The function that computes it.

    Examples
    --------
    >>> res = trajectory_bifurcation(model_A, model_B)  # doctest: +SKIP
    >>> res.summary()["split_relative_median"]  # doctest: +SKIP
    0.47
    """

    def __init__(self, similarity, split_steps, n_steps_A, n_steps_B, trajectory_A, trajectory_B, samples_A,
                 samples_B, threshold, remove_mean):
        self.similarity, self.split_steps = similarity, split_steps
        self.n_steps_A, self.n_steps_B = n_steps_A, n_steps_B
        self.trajectory_A, self.trajectory_B = trajectory_A, trajectory_B
        self.samples_A, self.samples_B = samples_A, samples_B
        self.threshold, self.remove_mean = threshold, remove_mean

    def __repr__(self):
        return f"TrajectoryBifurcation(n_samples={self.split_steps.size}, split_fraction={self.split_fraction:.2f})"

    @property
    def split_fraction(self) -> float:
        """Fraction of the samples whose trajectories part."""
        return float(np.mean(self.split_steps >= 0))

    def relative_split(self) -> np.ndarray:
        """Split step over the sample's length (max of the two models' step counts); NaN for "never"."""
        length = np.maximum(np.maximum(self.n_steps_A, self.n_steps_B), 1)
        return np.where(self.split_steps >= 0, self.split_steps / length, np.nan)

    def summary(self) -> dict:
        """Headline numbers: split fraction, median split step (absolute and relative), final similarity."""
        split = self.split_steps[self.split_steps >= 0]
        rel = self.relative_split()
        return {
            "n_samples": int(self.split_steps.size),
            "threshold": float(self.threshold),
            "split_fraction": self.split_fraction,
            "split_step_median": float(np.median(split)) if split.size else None,
            "split_relative_median": float(np.nanmedian(rel)) if split.size else None,
            "final_similarity_median": summarize(self.similarity[-1])["median"],
            "initial_similarity_median": summarize(self.similarity[0])["median"],
            "steps_median": float(np.median(np.concatenate([self.n_steps_A, self.n_steps_B]))),
        }

    def plot(self, image_shape=None, n_show: int = 4, n_frames: int = 8):
        """Figure: per-step similarity (median, quartiles, each sample) and the two models' denoised states."""
        from gahb.report import require_matplotlib

        require_matplotlib()
        from matplotlib.figure import Figure
        shape = None if image_shape is None else tuple(image_shape)[-2:] if len(image_shape) == 3 and \
            image_shape[0] == 1 else image_shape
        k = min(n_show, self.split_steps.size)
        T = self.similarity.shape[0]
        frames = np.unique(np.linspace(0, T - 1, n_frames).round().astype(int))
        fig = Figure(figsize=(1.0 * len(frames) + 3.6, 0.9 * 2 * k + 0.6))
        gs = fig.add_gridspec(2 * k, len(frames) + 3)
        ax = fig.add_subplot(gs[:, :3])
        t = np.arange(T)
        q25, med, q75 = np.nanquantile(self.similarity, [0.25, 0.5, 0.75], axis=1)
        ax.plot(t, self.similarity, color="tab:blue", lw=0.4, alpha=0.4)
        ax.fill_between(t, q25, q75, color="tab:blue", alpha=0.2)
        ax.plot(t, med, color="tab:blue", lw=2, label="median")
        ax.axhline(self.threshold, color="gray", ls=":", lw=1, label=f"split threshold {self.threshold:g}")
        ax.set(xlabel="sampler step t", ylabel="cosine of f(y_t), A vs B", ylim=(min(-0.05, np.nanmin(q25)), 1.02))
        ax.legend(fontsize=6, loc="lower left")
        for i in range(k):
            for j, f in enumerate(frames):
                for r, traj in ((2 * i, self.trajectory_A), (2 * i + 1, self.trajectory_B)):
                    a = fig.add_subplot(gs[r, 3 + j])
                    img = traj[f, i].reshape(shape) if shape is not None else traj[f, i]
                    a.imshow(np.clip(img, 0, 1), cmap="gray", vmin=0, vmax=1)
                    a.set_xticks([])
                    a.set_yticks([])
                    if r == 0:
                        a.set_title(f"t={f}", fontsize=6)
                    if j == 0:
                        split = self.split_steps[i]
                        a.set_ylabel(("A" if r % 2 == 0 else "B") + (f" (split {split})" if r % 2 == 0 and split >= 0
                                                                      else ""), fontsize=6)
        fig.tight_layout()
        return fig

    def to_report(self, report, image_shape=None, name="trajectories") -> None:
        """Append the summary, the per-sample table and the figure to a :class:`gahb.report.Report`."""
        s = self.summary()
        rel = self.relative_split()
        report.add_table([dict(sample=i, split_step=int(self.split_steps[i]) if self.split_steps[i] >= 0 else "never",
                               split_relative=rel[i], steps_A=int(self.n_steps_A[i]), steps_B=int(self.n_steps_B[i]),
                               final_similarity=self.similarity[-1, i]) for i in range(self.split_steps.size)],
                         precision=3)
        report.add_figure(self.plot(image_shape), name,
                          "Similarity of the two models' denoised states f(y_t) along the sampler (left); the states "
                          "of both models for a few samples (right)")
        report.data["trajectories"] = dict(summary=s, split_steps=self.split_steps, similarity_median=np.nanmedian(
            self.similarity, axis=1), final_similarity=self.similarity[-1])
