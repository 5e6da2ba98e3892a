"""What each worker process actually ran a stage's model on, and how often it built it.

A worker notes, once per stage run, its model's runtime (device, dtype, onnxruntime provider, attention) and
how many times this process has built that model, in `<stage>/runtime/<host>-<pid>.json`. The driver folds
the notes into the stage summary's provenance (the distinct runtimes, no process ids, so a rerun or a
different cluster gives the same records) and into `<stage>/runtime.json` (per process: the load count).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from shoemodel.store.atomic import atomic_write_text

RUNTIME_DIR = "runtime"
_NOTED: set[tuple[str, str]] = set()  # (run id, stage dir) this process has noted


def runtime_of(model: Any) -> dict[str, Any]:
    """The model's own account of where it computes; CPU-only backends (MediaPipe, GrabCut) have none: cpu."""
    return dict(getattr(model, "runtime", None) or {"device": "cpu"})


def note(stage_dir: str | Path, run_id: str, model: Any, builds: int) -> None:
    """Write this process's note for this run of the stage (first part only; later parts cost nothing)."""
    key = (run_id, str(stage_dir))
    if key in _NOTED:
        return
    _NOTED.add(key)
    d = Path(stage_dir) / RUNTIME_DIR
    d.mkdir(parents=True, exist_ok=True)
    proc = f"{socket.gethostname()}-{os.getpid()}"
    atomic_write_text(d / f"{proc}.json", json.dumps({"process": proc, "model_builds": builds, "runtime": runtime_of(model)}))


def reset(stage_dir: str | Path) -> None:
    """Forget earlier notes (the stage starts over: its parts were discarded)."""
    shutil.rmtree(Path(stage_dir) / RUNTIME_DIR, ignore_errors=True)


def collect(stage_dir: str | Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """(distinct runtimes, sorted; {process: model builds}) over every note of the stage."""
    d = Path(stage_dir) / RUNTIME_DIR
    notes = [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))] if d.is_dir() else []
    runtimes = {json.dumps(n["runtime"], sort_keys=True) for n in notes}
    return [json.loads(r) for r in sorted(runtimes)], {n["process"]: n["model_builds"] for n in notes}
