"""The paper's figures, each one command away: catalogue, per-figure runners, paper-scale cost estimates."""

from gahb.experiments.figures._catalogue import FIGURES, Figure
from gahb.experiments.figures._configs import ASSUMED_TFLOPS, CONFIGS, estimate
from gahb.experiments.figures._runners import FigureContext, run_figure

__all__ = ["FIGURES", "Figure", "CONFIGS", "ASSUMED_TFLOPS", "estimate", "FigureContext", "run_figure"]
