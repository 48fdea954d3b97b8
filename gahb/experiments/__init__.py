"""The paper's experiments as functions returning result objects (no argument parsing, no printing)."""

from gahb.experiments._engines import sweep_engine, worker_device
from gahb.experiments.generalization import GeneralizationCurve, generalization_curve
from gahb.experiments.manifolds import ManifoldDenoising, intensity_rescaling, sine_cone
from gahb.experiments.regularities import SeparateRegularities, separate_regularities
from gahb.experiments.resolution import ResolutionStudy, resolution_study
from gahb.experiments.trajectories import TrajectoryBifurcation, trajectory_bifurcation

__all__ = [
    "GeneralizationCurve",
    "generalization_curve",
    "TrajectoryBifurcation",
    "trajectory_bifurcation",
    "ResolutionStudy",
    "resolution_study",
    "SeparateRegularities",
    "separate_regularities",
    "ManifoldDenoising",
    "intensity_rescaling",
    "sine_cone",
    "sweep_engine",
    "worker_device",
]
