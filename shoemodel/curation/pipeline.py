"""Run the curation stages in order through one executor, and print the per-stage summary."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from shoemodel.curation.build import run_build
from shoemodel.curation.config import CurationConfig
from shoemodel.curation.detect import run_detect
from shoemodel.curation.ingest import run_ingest
from shoemodel.curation.parts import StageSummary
from shoemodel.curation.pose import run_pose
from shoemodel.curation.segment import run_segment
from shoemodel.curation.stage_io import stage_dir

STAGE_NAMES = ("ingest", "detect", "pose", "segment", "build")


def thresholds(cfg: CurationConfig) -> dict[str, Any]:
    """Every filter setting, for provenance."""
    return {k: dataclasses.asdict(getattr(cfg, k)) for k in ("ingest", "detect", "pose", "segment")}


def run_stage(name: str, cfg: CurationConfig, out_root: str | Path, executor: Any = None) -> StageSummary | Any:
    """Run one stage; GPU stages (detect, pose, segment) ask Dask for cfg.gpu_resources."""
    w, gpu, prog = cfg.work_dir, (cfg.gpu_resources or None), cfg.progress
    if not _is_dask(executor):
        gpu = None
    if name == "ingest":
        return run_ingest(stage_dir(w, "ingest"), cfg.ingest, executor, prog)
    if name == "detect":
        return run_detect(w, cfg.detect, executor, gpu, prog)
    if name == "pose":
        return run_pose(w, cfg.pose, executor, gpu, prog)
    if name == "segment":
        return run_segment(w, cfg.segment, executor, gpu, prog)
    if name == "build":
        return run_build(w, out_root, cfg.build, thresholds(cfg), executor, prog)
    raise ValueError(f"unknown curation stage '{name}'; use {STAGE_NAMES}")


def _is_dask(executor: Any) -> bool:
    return executor is not None and hasattr(executor, "client")


def executor_config(cfg: CurationConfig) -> Any:
    """The executor settings; a LocalCluster gets the GPU resource on each worker so GPU stages can run.

    (On one machine that means one GPU-stage task at a time per worker process.)
    """
    ex = dataclasses.replace(cfg.executor)
    if ex.kind == "local" and cfg.gpu_resources and not ex.worker_resources:
        ex.worker_resources = dict(cfg.gpu_resources)
    return ex


def check_resources(executor: Any, resources: dict[str, float] | None) -> None:
    """Fail fast, naming the resource, when no Dask worker offers what GPU stages ask for (tasks would wait forever)."""
    if not resources or not _is_dask(executor):
        return
    workers = executor.client.scheduler_info().get("workers", {}).values()
    if not any(all(w.get("resources", {}).get(k, 0) >= v for k, v in resources.items()) for w in workers):
        raise RuntimeError(f"no Dask worker offers resources {resources}: start GPU workers with "
                           f"`dask worker ADDRESS --resources GPU=1`, or set curation.gpu_resources: {{}} to run anywhere")


def run_all(cfg: CurationConfig, out_root: str | Path, executor: Any = None, stages: tuple[str, ...] = STAGE_NAMES) -> dict[str, Any]:
    """Run stages in order; returns {stage: summary dict}, also written to work_dir/summary.json."""
    out: dict[str, Any] = {}
    if set(stages) & {"detect", "pose", "segment"}:
        check_resources(executor, cfg.gpu_resources)
    for name in stages:
        res = run_stage(name, cfg, out_root, executor)
        out[name] = res.to_dict() if isinstance(res, StageSummary) else build_summary(res)
    Path(cfg.work_dir).mkdir(parents=True, exist_ok=True)
    (Path(cfg.work_dir) / "summary.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def build_summary(manifest: Any) -> dict[str, Any]:
    """The build stage's counts in the same shape as the other stages."""
    dropped = {k.split(": ", 1)[1]: v for k, v in manifest.failures_by_reason.items() if k.startswith("dropped")}
    failed = {k.split(": ", 1)[1]: v for k, v in manifest.failures_by_reason.items() if k.startswith("failed")}
    return {"stage": "build", "inputs": manifest.num_records + manifest.num_failures, "kept": manifest.num_records,
            "dropped": dropped, "failed": failed, "shards": len(manifest.shards)}


def format_summary(summary: dict[str, Any]) -> str:
    """A small table: stage, in, kept, dropped by reason, failed by reason."""
    lines = [f"{'stage':<8} {'in':>6} {'kept':>6}  dropped / failed"]
    for name, s in summary.items():
        d = ", ".join(f"{k} {v}" for k, v in s["dropped"].items()) or "-"
        f = ", ".join(f"{k} {v}" for k, v in s["failed"].items()) or "-"
        lines.append(f"{name:<8} {s['inputs']:>6} {s['kept']:>6}  {d} / {f}")
    return "\n".join(lines)
