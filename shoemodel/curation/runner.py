"""The one part runner of the model stages (detect, pose, segment): kept upstream rows -> model -> one part.

A task is one part index (plus the ingest duplicates in it). On whatever worker runs it, the stage's model
is built once per process, the rows every earlier stage kept are joined, the stage's row function turns
them into exactly one output row each, and the part is written atomically. The stage itself is a record
of the table in `shoemodel.curation.stages`; nothing here knows which stage it runs.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from shoemodel.curation import models, parts, runtime_log
from shoemodel.curation.stage_io import INGEST, kept_rows, stage_dir
from shoemodel.curation.stages import Stage, lineage
from shoemodel.store.atomic import atomic_write_text


def run_part(task: tuple[int, frozenset[int]], stage: Stage, work_dir: str, cfg: Any, run_id: str = "") -> tuple[int, Counter]:
    """Make and write part `index` of `stage`; returns (index, status counts) for the progress bar."""
    index, duplicates = task
    model = models.cached(stage.name, cfg, stage.build_model)
    runtime_log.note(stage_dir(work_dir, stage.name), run_id, model, models.builds(stage.name, cfg))
    rows = stage.rows(kept_rows(work_dir, index, lineage(stage.upstream), duplicates), model, cfg)
    parts.write_part(stage_dir(work_dir, stage.name), index, rows, stage.schema)
    return index, Counter(r["status"] for r in rows)


def run_model_stage(stage: Stage, work_dir: str | Path, cfg: Any, executor: Any = None,
                    resources: dict[str, float] | None = None, progress: bool = True) -> parts.StageSummary:
    """Run `stage` over every part its upstream stage finished; resumable; writes <stage>/summary.json.

    The fingerprint chains the upstream's, so any change upstream, in `cfg` or in the model's weights
    (`stage.describe`) redoes the stage; otherwise finished parts are kept.
    """
    from shoemodel.curation.ingest import load_duplicates

    up_dir, out_dir = stage_dir(work_dir, stage.upstream), stage_dir(work_dir, stage.name)
    info = stage.describe(cfg)
    parts.prepare_stage_dir(out_dir, stage_fingerprint(stage, work_dir, cfg, info))
    if not parts.part_indices(out_dir):
        runtime_log.reset(out_dir)
    dups = load_duplicates(stage_dir(work_dir, INGEST))
    indices = parts.part_indices(up_dir)
    tasks = ((i, dups.get(i, frozenset())) for i in indices)
    fn = partial(run_part, stage=stage, work_dir=str(work_dir), cfg=cfg, run_id=uuid.uuid4().hex)
    parts.run_parts(tasks, fn, out_dir, executor, resources, len(indices), stage.name, progress)
    return finish_stage(stage, out_dir, info)


def stage_fingerprint(stage: Stage, work_dir: str | Path, cfg: Any, info: dict[str, Any]) -> str:
    """The upstream's fingerprint chained with this stage's settings, model and schema (fused runs use it too)."""
    up_dir = stage_dir(work_dir, stage.upstream)
    return parts.fingerprint_of([parts.read_fingerprint(up_dir), cfg.__dict__, info, str(stage.schema)])


def finish_stage(stage: Stage, out_dir: Path, info: dict[str, Any]) -> parts.StageSummary:
    """Count the stage's parts; provenance = the model's description plus the runtimes the workers noted."""
    runtimes, loads = runtime_log.collect(out_dir)
    summary = parts.summarize(stage.name, out_dir)
    summary.extra = {**info, **({"runtime": runtimes} if runtimes else {})}
    parts.write_summary(out_dir, summary)
    atomic_write_text(out_dir / "runtime.json", json.dumps({"model_builds_per_process": loads}, indent=2) + "\n")
    return summary
