"""The paper's Figures 1-21: what each shows, its claim, the numbers it gives, and how gahb reproduces it."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Figure", "FIGURES", "PAPER_FACE_EIGENVALUES", "PAPER_SHUFFLED_EIGENVALUES"]

# Fig. 3: shrinkage factors lambda_k of the UNet trained on 10^5 faces (80 x 80, d = 6400), sigma = 0.15
PAPER_FACE_EIGENVALUES = {5: 1.244, 17: 1.115, 29: 1.046, 41: 1.008, 53: 0.973, 65: 0.93, 77: 0.896, 89: 0.857,
                          101: 0.822, 113: 0.792, 125: 0.758, 137: 0.718, 149: 0.689, 161: 0.663, 173: 0.637,
                          185: 0.612, 197: 0.59, 209: 0.569, 221: 0.551, 233: 0.53, 245: 0.51}
# Fig. 21: the same for the model trained on pixel-shuffled faces, sigma = 0.3
PAPER_SHUFFLED_EIGENVALUES = {5: 1.182, 17: 1.07, 29: 0.974, 41: 0.91, 53: 0.87}
PAPER_D = 6400  # 80 x 80 pixels


@dataclass(frozen=True)
class Figure:
    """One figure of the paper.

    ``experiment`` names the shared computation behind it (None: not reproducible here, see ``reason``);
    ``data`` is the paper's data set, ``stand_in`` what gahb uses at CPU scale without ``--data-path``.
    """

    number: int
    title: str
    claim: str
    experiment: str | None
    data: str = "synthetic"
    stand_in: str = ""
    reason: str = ""
    paper_numbers: dict = field(default_factory=dict)

    @property
    def command(self) -> str | None:
        return None if self.experiment is None else f"gahb figure {self.number}"


_DL = "synthetic dead-leaves images 12 x 12 (occluding ellipses), bias-free UNet of width 16"
_DL_BF = "dead leaves 12 x 12, BF-CNN of width 16, 8 layers"
_CA_BF = "16 x 16 C^alpha images, BF-CNN of width 16, 8 layers"
FIGURES = {f.number: f for f in [
    Figure(1, "Train and test denoising PSNR against noise level, per training-set size N (CelebA 80 x 80, UNet)",
           "Small N: train PSNR rises with unit slope while test PSNR stays flat (memorization); at N = 10^5 the "
           "train and test curves coincide (generalization).", "transition", data="celeba", stand_in=_DL,
           paper_numbers={"N where train = test": "10^5", "train slope at N = 1, 10": "about 1 (no number given)"}),
    Figure(2, "Samples of two models trained on disjoint sets, same noise; similarity histograms",
           "Two denoisers trained on non-overlapping sets of 10^5 faces generate nearly the same image from the same "
           "noise, an image in neither set; with N <= 100 each copies its own training images.", "transition",
           data="celeba", stand_in=_DL,
           paper_numbers={"memorized at N = 1, 10, 100": "every sample (nearest training image, similarity ~1)",
                          "A-vs-B similarity at N = 10^5": "concentrated near 1, not a delta (no number given)"}),
    Figure(3, "Jacobian eigenvalues, eigenvectors and coefficients of a generalizing face denoiser (sigma = 0.15)",
           "The denoiser shrinks the noisy image in an adaptive orthonormal basis whose vectors oscillate along "
           "contours and in smooth regions (GAHB); f(y) = J(y) y holds exactly.", "transition", data="celeba",
           stand_in="the largest-N model of the dead-leaves sweep (12 x 12)",
           paper_numbers={f"lambda_{k}": v for k, v in PAPER_FACE_EIGENVALUES.items() if k in (5, 41, 101, 245)}),
    Figure(4, "PSNR slopes on C^alpha images and their adaptive basis",
           "On C^alpha images, where bandlets are near optimal, the network's PSNR slope nearly reaches the optimal "
           "alpha / (alpha + 1).", "c_alpha", stand_in="16 x 16 C^alpha images, UNet of width 16",
           paper_numbers={"slope alpha = 1": 0.46, "slope alpha = 2": 0.61, "slope alpha = 3": 0.75,
                          "slope alpha = 5": 0.83}),
    Figure(5, "Disks (a 5-dimensional manifold): spectrum and PSNR",
           "On disks the network keeps about 5 eigenvalues near 1 (the tangent space) but adds GAHB components "
           "that the optimal projection would not: a suboptimal inductive bias.", "disks",
           stand_in="16 x 16 disks, UNet of width 16",
           paper_numbers={f"lambda_{k}": v for k, v in enumerate((1.177, 1.067, 1.004, 0.999, 0.945, 0.674, 0.552,
                                                                   0.39, 0.304, 0.278))}),
    Figure(6, "Nearest-neighbour similarity between the two disjoint training sets (after de-duplication)",
           "Images of one training set are never closer than 0.95 to the other set's: the two sets share no "
           "near-duplicates, so agreement between the models is not copying.", "data_baseline", data="celeba",
           stand_in=_DL.split(",")[0], paper_numbers={"largest similarity": "< 0.95 (by de-duplication)"}),
    Figure(7, "More same-noise samples of the two largest-N models beside their nearest training images",
           "At the largest N the two models' samples agree with each other and differ from their nearest training "
           "images.", "transition", data="celeba", stand_in=_DL),
    Figure(8, "Sampling trajectories of the two models from the same noise",
           "The trajectories of two generalizing models stay together and, when they part, bifurcate somewhere "
           "around the middle of sampling; so the final similarity is not exactly 1.", "transition", data="celeba",
           stand_in=_DL, paper_numbers={"where trajectories part": "around the middle (no number given)"}),
    Figure(9, "Train and test PSNR per N on LSUN bedrooms (80 x 80, UNet)",
           "The transition holds on bedrooms too: at N = 10^5 train and test performance are almost identical.",
           "transition", data="lsun", stand_in=_DL + " (the run of Fig. 1)"),
    Figure(10, "LSUN samples per N and patch-level nearest neighbours",
           "At N = 100 samples are collages of training patches: a memorization between copying and generalizing.",
           "transition", data="lsun", stand_in=_DL + " (the run of Fig. 1)",
           paper_numbers={"collage at N = 100": "yes (shown, not counted)"}),
    Figure(11, "Train and test PSNR per N, BF-CNN on CelebA-HQ 40 x 40",
           "A BF-CNN shows the same transition, converging by N = 10^4; its N = 1 curve follows the optimal "
           "one-image line at large noise.", "transition_bfcnn", data="celeba-hq",
           stand_in=_DL_BF),
    Figure(12, "Samples and similarity histograms, BF-CNN on CelebA-HQ 40 x 40",
           "BF-CNN models trained on disjoint sets of 10^4 faces generate nearly the same samples.",
           "transition_bfcnn", data="celeba-hq", stand_in=_DL_BF),
    Figure(13, "Deterministic samples of BF-CNNs on LSUN 32 x 32",
           "With a deterministic reverse diffusion the two BF-CNNs trained on 20,000 bedrooms each give nearly "
           "the same samples.", "transition_bfcnn", data="lsun32",
           stand_in="dead leaves 12 x 12, BF-CNN (gahb's CPU sampler is deterministic: beta = 1)"),
    Figure(14, "Similarity histograms of BF-CNNs on LSUN 32 x 32, N = 20,000",
           "Model-vs-model similarity is near 1 while samples are farther from their nearest training images.",
           "transition_bfcnn", data="lsun32", stand_in=_DL_BF),
    Figure(15, "Train - test PSNR gap against N at several image sizes, capacity scaled per Table 1",
           "The N needed to generalize grows with image size, but much less than the number of pixels: less from "
           "80 to 160 pixels than from 40 to 80.", "resolution", data="celeba",
           stand_in="dead leaves at 8, 16, 32 pixels with 1, 2, 3 UNet levels",
           paper_numbers={"threshold gap": "not given", "UNet parameters 20/40/80/160": "360k / 1.8m / 7.6m / 31m"}),
    Figure(16, "BF-CNN on 40 x 40 C^alpha images: near-optimal, eigenvectors for alpha = 4 and 2",
           "A BF-CNN is also near optimal on C^alpha images; less regular contours give more localized "
           "harmonics.", "c_alpha_bfcnn", stand_in=_CA_BF),
    Figure(17, "Separate regularities: contour alpha_1 in {1.5, 2, 4}, background alpha_2 = 8, sigma = 0.2",
           "The more regular the contour, the less localized the harmonics along it and the faster the "
           "coefficients decay.", "regularities", stand_in=_CA_BF),
    Figure(18, "One more C^alpha example (alpha = 3), BF-CNN",
           "The adaptive basis of an alpha = 3 image: harmonics in the regions and along the contour.",
           "c_alpha_bfcnn", stand_in=_CA_BF),
    Figure(19, "One image with positive intensity rescaling (a ray): the BF-CNN's basis",
           "Trained on one image and its rescalings, the network's first eigenvector is the image itself, but the "
           "next ones are 2-D harmonics with non-zero shrinkage: slower decay than the optimal projection.",
           "rescaling", data="celeba-hq", stand_in="one 16 x 16 dead-leaves image, BF-CNN of width 16, 8 layers",
           paper_numbers={"e_0": "about x / ||x||", "lambda_1, lambda_2, ...": "non-zero (optimal 0)"}),
    Figure(20, "Sine waves of random amplitude and phase (a 2-D cone): the BF-CNN's basis",
           "The optimal denoiser projects onto two sinusoids a quarter period apart; the network's coefficients "
           "decay more slowly, with harmonic patterns beyond the first two.", "sines",
           stand_in="16 x 16 sinusoids, one cycle across the width, BF-CNN of width 16, 8 layers",
           paper_numbers={"<x, e_k> for k >= 2": "> 0 (optimal 0)", "sigma": 0.08}),
    Figure(21, "Pixel-shuffled faces: PSNR and spectrum against the unshuffled model",
           "One fixed pixel permutation leaves the optimal MSE unchanged, yet the network denoises much worse and "
           "its eigenvalues decay more slowly: its bias is towards GAHBs of natural images.", "shuffled",
           data="celeba", stand_in=_DL + ", pixels shuffled",
           paper_numbers={f"lambda_{k}": v for k, v in PAPER_SHUFFLED_EIGENVALUES.items()}),
]}
