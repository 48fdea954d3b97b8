"""Quickstart: train a small blind denoiser on synthetic images, denoise, score, and sample from it."""

import numpy as np

from gahb import DiffusionDenoiser
from gahb.datasets import make_dead_leaves

X = make_dead_leaves(n_samples=2000, image_size=12, random_state=0).data      # (2000, 144), values in [0, 1]
den = DiffusionDenoiser(width=16, n_blocks=2, max_iter=600, batch_size=64, lr_schedule="cosine",
                        image_shape=(12, 12), random_state=0, verbose=1).fit(X)
noisy = X[:8] + 0.1 * np.random.default_rng(1).normal(size=X[:8].shape)
print("denoised:", den.transform(noisy).shape, f"score (PSNR at sigma=0.1): {den.score(X[-200:]):.1f} dB")
samples = den.set_params(beta=1.0, h0=0.05).sample(n_samples=4, random_state=0)
print("samples:", samples.shape, "steps per sample:", den.sample_info_["n_steps"])
