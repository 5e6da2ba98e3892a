"""The `demo` section of params.yaml (models and generation defaults come from `generate`)."""

from __future__ import annotations

from dataclasses import dataclass

from shoemodel.config import ParamPath


@dataclass
class DemoConfig:
    """params.yaml `demo`: where the page is served and where each request's files go."""

    address: str = "127.0.0.1"  # loopback: reachable from this machine only (ssh -L to use it from a laptop)
    port: int = 7860
    out: ParamPath = "reports/demo"  # one folder per request: the photo, outputs, X_w, poses, sheet, JSON
    max_n: int = 8  # the largest n the page offers
