"""Shared test fixtures-as-functions: easy image priors and a Ctrl-C delivered at a chosen training step."""

import os
import signal

import numpy as np
from scipy.ndimage import gaussian_filter


def smooth_images(n, size=8, seed=0):
    """Gaussian-smoothed random fields rescaled to [0, 1] per image: an easy prior for a quick learning check."""
    z = np.random.default_rng(seed).normal(size=(n, size, size))
    z = np.stack([gaussian_filter(a, 2.0, mode="wrap") for a in z])
    lo, hi = z.min(axis=(1, 2), keepdims=True), z.max(axis=(1, 2), keepdims=True)
    return ((z - lo) / (hi - lo)).reshape(n, -1)


def box_smoothed(n, side, seed):
    """Uniform noise averaged over a 5-pixel cross-shaped neighbourhood: mildly correlated images of ``side``."""
    X = np.random.default_rng(seed).uniform(size=(n, side + 2, side + 2))
    X = (X[:, :-2, :-2] + X[:, 1:-1, 1:-1] + X[:, 2:, 2:] + X[:, 2:, :-2] + X[:, :-2, 2:]) / 5
    return X.reshape(n, -1)


def ctrl_c_at_step(monkeypatch, step):
    """Send SIGINT to this process while training step ``step`` (1-based) sets its learning rate; returns a
    function that stops doing so (for a resumed run in the same test)."""
    import gahb.core.training as core_training

    real, calls = core_training.lr_factor, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == step:
            os.kill(os.getpid(), signal.SIGINT)
        return real(*args)

    monkeypatch.setattr(core_training, "lr_factor", interrupted)
    return lambda: monkeypatch.setattr(core_training, "lr_factor", real)
