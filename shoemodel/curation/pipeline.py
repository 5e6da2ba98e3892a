"""Run the curation stages in table order through one executor, and print the per-stage summary."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

from shoemodel.curation.config import CurationConfig
from shoemodel.curation.parts import StageSummary
from shoemodel.curation.runner import run_model_stage
from shoemodel.curation.stages import stage, stage_names

log = logging.getLogger(__name__)


def run_stage(name: str, cfg: CurationConfig, out_root: str | Path, executor: Any = None) -> StageSummary | Any:
    """Run one stage of the table; its GPU stages ask Dask for cfg.gpu_resources."""
    st = stage(name)
    if st.run is not None:
        return st.run(cfg, Path(out_root), executor)
    resources = (cfg.gpu_resources or None) if st.gpu and _is_dask(executor) else None
    return run_model_stage(st, cfg.work_dir, getattr(cfg, st.config), executor, resources, cfg.progress)


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


def pin_workers(executor: Any) -> None:
    """Every Dask worker offering the GPU resource pins itself to its GPU (a worker plugin, also for workers joining later)."""
    if _is_dask(executor):
        from shoemodel.models.device import gpu_pin_plugin

        executor.client.register_plugin(gpu_pin_plugin())


def check_resources(executor: Any, resources: dict[str, float] | None) -> None:
    """Fail fast, naming the resource, when no Dask worker offers what GPU stages ask for (tasks would wait forever)."""
    if not resources or not _is_dask(executor):
        return
    workers = executor.client.scheduler_info().get("workers", {}).values()
    if not any(all(w.get("resources", {}).get(k, 0) >= v for k, v in resources.items()) for w in workers):
        raise RuntimeError(f"no Dask worker offers resources {resources}: start GPU workers with "
                           f"`dask worker ADDRESS --resources GPU=1`, or set curation.gpu_resources: {{}} to run anywhere")


def relative_sources(cfg: CurationConfig) -> list[str]:
    """Local sources given as relative paths: every worker reads them from its own working directory (and in
    reference mode every later stage too), so on a cluster of other machines they must be absolute or URIs."""
    from shoemodel.curation.sources import is_uri

    return [str(s) for s in [*cfg.ingest.sources, *cfg.ingest.optional_sources]
            if not is_uri(str(s)) and not os.path.isabs(str(s).removeprefix("file://"))]


def warn_relative_sources(cfg: CurationConfig) -> None:
    """One warning when an existing cluster (`executor.kind: address`) gets relative source paths."""
    rel = relative_sources(cfg) if cfg.executor.kind == "address" else []
    if rel:
        log.warning("curation sources given as relative paths (%s): workers of an existing Dask cluster read them "
                    "from their own working directory; give absolute paths or URIs when they run elsewhere",
                    ", ".join(rel[:3]) + (" ..." if len(rel) > 3 else ""))


def check_models(cfg: CurationConfig, stages: tuple[str, ...] = stage_names()) -> dict[str, dict[str, Any]]:
    """Every model stage's provenance, read before any stage runs: a missing weights file or an unknown backend
    is one error naming it now, not after ingest and detect have run."""
    return {name: stage(name).describe(getattr(cfg, stage(name).config)) for name in stages if stage(name).describe}


def run_all(cfg: CurationConfig, out_root: str | Path, executor: Any = None, stages: tuple[str, ...] = stage_names()) -> dict[str, Any]:
    """Run `stages` in the given order (default: all, table order); returns {stage: summary dict}, also in work_dir/summary.json.

    With `cfg.fused` and detect, pose and segment all asked for, those three run as one decode-once pass.
    """
    from shoemodel.curation.fused import FUSED, run_fused

    check_models(cfg, stages)
    if "ingest" in stages or cfg.ingest.bytes == "reference":
        warn_relative_sources(cfg)
    out: dict[str, Any] = {}
    if any(stage(name).gpu for name in stages):
        check_resources(executor, cfg.gpu_resources)
        pin_workers(executor)
    fuse = cfg.fused and all(n in stages for n in FUSED)
    for name in stages:
        if fuse and name in FUSED:
            if name == FUSED[0]:
                resources = (cfg.gpu_resources or None) if _is_dask(executor) else None
                out.update({k: v.to_dict() for k, v in run_fused(cfg, executor, resources).items()})
            continue
        res = run_stage(name, cfg, out_root, executor)
        out[name] = res.to_dict() if isinstance(res, StageSummary) else build_summary(res)
    if "build" not in stages:  # build checks the whole funnel itself, before it writes the manifest
        from shoemodel.curation.ledger import finish_run
        from shoemodel.curation.stages import upstreams

        finish_run(cfg.work_dir, stages, upstreams())
    add_persons(out, Path(cfg.work_dir))
    Path(cfg.work_dir).mkdir(parents=True, exist_ok=True)
    (Path(cfg.work_dir) / "summary.json").write_text(json.dumps(out, indent=2) + "\n")
    return out


def add_persons(summary: dict[str, Any], work_dir: Path) -> None:
    """Each stage's person counts from the run's ledger totals (photos are the stage summaries' own counts)."""
    from shoemodel.curation.ledger import PERSONS, TOTALS

    p = work_dir / TOTALS
    counts = json.loads(p.read_text()) if p.exists() else {}
    for name, s in summary.items():
        persons = counts.get(name, {}).get(PERSONS)
        if persons and persons["in"]:
            s["persons"] = persons


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
        if s.get("persons"):  # persons dropped inside a kept photo are counted too
            p = s["persons"]
            d = ", ".join(f"{k} {v}" for k, v in p["dropped"].items()) or "-"
            f = ", ".join(f"{k} {v}" for k, v in p["failed"].items()) or "-"
            lines.append(f"{'  persons':<8} {p['in']:>6} {p['kept']:>6}  {d} / {f}")
    return "\n".join(lines)
