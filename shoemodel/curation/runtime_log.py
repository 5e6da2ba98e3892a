"""What each worker process actually ran a stage's model on, and how often it built it.

A worker notes, once per stage run, its model's runtime (device, dtype, onnxruntime provider, attention) and
how many times this process has built that model, in `runtime/<host>-<pid>.json`. The driver folds
the notes into the stage summary's provenance (the distinct runtimes, no process ids, so a rerun or a
different cluster gives the same records) and into `runtime.json` (per process: the load count). Both live
beside the stage folder (store.content_cache.cache_dir), not in it: process ids must not change its hash.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from shoemodel.store.atomic import atomic_write_text
from shoemodel.store.content_cache import cache_dir

RUNTIME_DIR = "runtime"
LOADS_FILE = "runtime.json"
_NOTED: set[tuple[str, str]] = set()  # (run id, stage dir) this process has noted


def notes_dir(stage_dir: str | Path) -> Path:
    """The folder of the workers' notes for a stage folder."""
    return cache_dir(stage_dir) / RUNTIME_DIR


def loads_path(stage_dir: str | Path) -> Path:
    """The file with each process's model-build count for a stage folder."""
    return cache_dir(stage_dir) / LOADS_FILE


def runtime_of(model: Any) -> dict[str, Any]:
    """The model's own account of where it computes; CPU-only backends (MediaPipe, GrabCut) have none: cpu."""
    return dict(getattr(model, "runtime", None) or {"device": "cpu"})


def note(stage_dir: str | Path, run_id: str, model: Any, builds: int) -> None:
    """Write this process's note for this run of the stage (first part only; later parts cost nothing)."""
    key = (run_id, str(stage_dir))
    if key in _NOTED:
        return
    _NOTED.add(key)
    d = notes_dir(stage_dir)
    d.mkdir(parents=True, exist_ok=True)
    proc = f"{socket.gethostname()}-{os.getpid()}"
    atomic_write_text(d / f"{proc}.json", json.dumps({"process": proc, "model_builds": builds, "runtime": runtime_of(model)}))


def reset(stage_dir: str | Path) -> None:
    """Forget earlier notes (the stage starts over: its parts were discarded)."""
    shutil.rmtree(notes_dir(stage_dir), ignore_errors=True)
    shutil.rmtree(Path(stage_dir) / RUNTIME_DIR, ignore_errors=True)  # where older versions kept them


def collect(stage_dir: str | Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """(distinct runtimes, sorted; {process: model builds}) over every note of the stage."""
    d = notes_dir(stage_dir)
    notes = [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))] if d.is_dir() else []
    runtimes = {json.dumps(n["runtime"], sort_keys=True) for n in notes}
    return [json.loads(r) for r in sorted(runtimes)], {n["process"]: n["model_builds"] for n in notes}
