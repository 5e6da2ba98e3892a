"""Metrics files hold numbers only: DVC compares them across experiments (`dvc metrics show / diff`), and a text
value (a path, a sentence, a backend name) turns each into a column of its own. The text goes to a sidecar
JSON beside the stage's other outputs, whole, so nothing is lost."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from shoemodel.store.atomic import atomic_write_text


def numbers_only(data: Any) -> Any:
    """`data` with every value that is not a finite number (or a mapping of them) dropped; None if `data` is one."""
    if isinstance(data, bool):
        return int(data)
    if isinstance(data, (int, float)):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {str(k): v for k, v in ((k, numbers_only(v)) for k, v in data.items()) if v is not None}
    return None


def jsonable(data: Any) -> Any:
    """`data` as strict JSON takes it: non-finite floats as the text "inf" / "-inf" / "nan", tuples as lists."""
    if isinstance(data, float) and not math.isfinite(data):
        return str(data)
    if isinstance(data, dict):
        return {str(k): jsonable(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [jsonable(v) for v in data]
    return data


def write_metrics(path: str | Path, metrics: dict[str, Any], info: dict[str, Any] | None = None,
                  info_path: str | Path | None = None) -> dict[str, Any]:
    """Write the numbers of `metrics` to `path` (atomically) and, with `info_path`, `info` (default: `metrics`
    itself, text and all) to that sidecar. Returns what went into the metrics file."""
    numbers = numbers_only(metrics) or {}
    atomic_write_text(path, json.dumps(numbers, indent=2, sort_keys=True) + "\n")
    if info_path is not None:
        atomic_write_text(info_path, json.dumps(jsonable(metrics if info is None else info), indent=1) + "\n")
    return numbers
