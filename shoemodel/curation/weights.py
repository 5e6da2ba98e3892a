"""One clear error for missing model files, naming the file and where it goes."""

from __future__ import annotations

from pathlib import Path


class WeightsMissing(FileNotFoundError):
    """A model file that must be fetched by hand (we run offline: nothing downloads itself)."""


def require_file(path: str | Path, what: str, hint: str = "") -> Path:
    """Return `path` if it exists, else raise WeightsMissing naming it and how to get it."""
    p = Path(path) if path else None
    if p is None or not p.exists():
        shown = str(p) if p else "(no path set)"
        extra = f" {hint}" if hint else ""
        raise WeightsMissing(f"{what}: weights file not found: {shown}. Put the file there or set its path in params.yaml.{extra}")
    return p
