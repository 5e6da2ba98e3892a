"""The `plots` section of params.yaml (kept apart from the drawing code, so reading it imports no matplotlib)."""

from __future__ import annotations

from dataclasses import dataclass

from shoemodel.config import ParamPath


@dataclass
class PlotsConfig:
    """params.yaml `plots`: where the stages' metrics and plot data are, and where the PNGs go."""

    metrics_dir: ParamPath = "metrics"
    plots_dir: ParamPath = "plots"
    out: ParamPath = "reports/plots"
    loop: ParamPath = "benchmarks/annotation/results.json"  # the annotation loop's rounds (benchmarks/annotation/loop.py)
    dpi: int = 100
