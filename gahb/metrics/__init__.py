"""Memorization and generalization metrics (Kadkhodaie et al. 2024, §2 and App. B).

Free functions on arrays in the ``sklearn.metrics`` style. Everything that compares sets of images
is chunked over both sets with a running top-k, so 10^5 training images never need an N x M matrix.

**Which cosine.** The paper says "cosine similarity"; its code has a raw normalized inner product and a
mean-removed one (each image minus its own mean: a Pearson correlation). Raw cosine is dominated by
mean brightness (>= 0.99 between unrelated image tiles), so every function here takes
``remove_mean`` explicitly. The memorization measures default to the mean-removed variant;
``cosine_similarity`` and ``paired_cosine_similarity`` default to the raw one, so that they mean what
scikit-learn's ``cosine_similarity`` means.
"""

from gahb.metrics._denoising import PAPER_SIGMAS, paper_sigmas, psnr_curve, psnr_gap, sure
from gahb.metrics._generalization import effective_memorization, memorization_scorer, score_generalization
from gahb.metrics._patches import patch_collage_images, patch_nearest_neighbors
from gahb.metrics._similarity import (
    cosine_similarity,
    data_baseline,
    memorization_rate,
    nearest_neighbors,
    nearest_similarity,
    paired_cosine_similarity,
    summarize,
)

__all__ = [
    "PAPER_SIGMAS",
    "paper_sigmas",
    "cosine_similarity",
    "paired_cosine_similarity",
    "nearest_neighbors",
    "nearest_similarity",
    "memorization_rate",
    "score_generalization",
    "data_baseline",
    "psnr_curve",
    "psnr_gap",
    "sure",
    "patch_nearest_neighbors",
    "patch_collage_images",
    "effective_memorization",
    "summarize",
    "memorization_scorer",
]
