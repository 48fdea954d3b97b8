"""The paper's experiments as functions returning result objects (no argument parsing, no printing)."""

from gahb.experiments._engines import sweep_engine, worker_device
from gahb.experiments.generalization import GeneralizationCurve, generalization_curve

__all__ = ["GeneralizationCurve", "generalization_curve", "sweep_engine", "worker_device"]
