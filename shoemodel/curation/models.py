"""Build each model once per process (per Dask worker), not once per task or image."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import Any

_CACHE: dict[str, Any] = {}
_BUILDS: dict[str, int] = {}  # how many times this process built each (kind, settings): 1 when the cache works


def cached(kind: str, cfg: Any, build: Callable[[Any], Any]) -> Any:
    """Return the model built by `build(cfg)` for this (kind, settings), building it on first use."""
    key = kind + json.dumps(asdict(cfg) if is_dataclass(cfg) else cfg, sort_keys=True, default=str)
    if key not in _CACHE:
        _CACHE[key] = build(cfg)
        _BUILDS[key] = _BUILDS.get(key, 0) + 1
    return _CACHE[key]


def builds(kind: str, cfg: Any) -> int:
    """How many times this process has built the model of (kind, settings)."""
    return _BUILDS.get(kind + json.dumps(asdict(cfg) if is_dataclass(cfg) else cfg, sort_keys=True, default=str), 0)
