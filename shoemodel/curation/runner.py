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

from shoemodel.curation import ledger, models, parts, runtime_log
from shoemodel.curation.stage_io import INGEST, kept_rows, stage_dir
from shoemodel.curation.stages import Stage, lineage
from shoemodel.store.atomic import atomic_write_text


def run_part(task: tuple[int, tuple[frozenset[int], str]], stage: Stage, work_dir: str, cfg: Any,
             run_id: str = "") -> tuple[int, Counter]:
    """Make and write part `index` of `stage` (footer: its fingerprint); returns (index, status counts) for the progress bar."""
    index, (duplicates, fingerprint) = task
    model = models.cached(stage.name, cfg, stage.build_model)
    runtime_log.note(stage_dir(work_dir, stage.name), run_id, model, models.builds(stage.name, cfg))
    inputs = kept_rows(work_dir, index, lineage(stage.upstream), duplicates)
    rows = stage.rows(inputs, model, cfg)
    parts.write_part(stage_dir(work_dir, stage.name), index, rows, stage.schema, fingerprint,
                     ledger_rows=ledger.entries(stage.name, inputs, rows, cfg))
    return index, Counter(r["status"] for r in rows)


def settings_fingerprint(stage: Stage, cfg: Any, info: dict[str, Any]) -> str:
    """The stage's settings (less the speed-only ones), model description and schema: what every part chains."""
    return parts.fingerprint_of([parts.settings_of(cfg), info, str(stage.schema)])


def chain_fingerprints(upstream: dict[int, str], settings_fp: str, dups: dict[int, frozenset[int]]) -> dict[int, str]:
    """Part index -> the fingerprint its part must carry, from its upstream part's fingerprint (fused runs
    chain the three model stages in memory with this, so their parts match the staged run's)."""
    return {i: parts.fingerprint_of([up, settings_fp, sorted(dups.get(i, ()))]) for i, up in upstream.items()}


def upstream_fingerprints(up_dir: Path) -> dict[int, str]:
    """Part index -> fingerprint read from each upstream part's footer; a part without one is skipped."""
    out = {}
    for i in parts.part_indices(up_dir):
        up = parts.part_fingerprint(up_dir, i, check_ledger=False)  # the upstream stage checks its own parts
        if up is not None:
            out[i] = up
    return out


def expected_fingerprints(up_dir: Path, settings_fp: str, dups: dict[int, frozenset[int]]) -> dict[int, str]:
    """Part index -> the fingerprint its part must carry now: its upstream part's (from the footer), the
    stage's settings and the duplicates in it. An upstream part without a readable fingerprint is skipped."""
    return chain_fingerprints(upstream_fingerprints(up_dir), settings_fp, dups)


def run_model_stage(stage: Stage, work_dir: str | Path, cfg: Any, executor: Any = None,
                    resources: dict[str, float] | None = None, progress: bool = True) -> parts.StageSummary:
    """Run `stage` over every part its upstream stage finished; resumable; writes <stage>/summary.json.

    Each part's fingerprint chains its upstream part's, so a change upstream, in `cfg` (less its speed
    settings) or in the model's weights (`stage.describe`) redoes exactly the parts it touches; the rest are
    kept, and parts whose upstream part is gone are deleted.
    """
    from shoemodel.curation.ingest import load_duplicates

    up_dir, out_dir = stage_dir(work_dir, stage.upstream), stage_dir(work_dir, stage.name)
    parts.read_fingerprint(up_dir)  # a clear error when the upstream stage never ran
    info = stage.describe(cfg)
    settings_fp = settings_fingerprint(stage, cfg, info)
    parts.prepare_stage_dir(out_dir, settings_fp)
    dups = load_duplicates(stage_dir(work_dir, INGEST))
    want = expected_fingerprints(up_dir, settings_fp, dups)
    parts.remove_parts_except(out_dir, want)
    if not any(parts.part_fingerprint(out_dir, i) == fp for i, fp in want.items()):
        runtime_log.reset(out_dir)  # every part is redone: earlier runtime notes no longer describe it
    tasks = ((i, (dups.get(i, frozenset()), fp)) for i, fp in want.items())
    fn = partial(run_part, stage=stage, work_dir=str(work_dir), cfg=cfg, run_id=uuid.uuid4().hex)
    ran = parts.run_parts(tasks, fn, out_dir, executor=executor, resources=resources, total=len(want), desc=stage.name,
                          progress=progress, is_done=lambda i, payload: parts.part_fingerprint(out_dir, i) == payload[1])
    parts.run_counts[stage.name] = ran
    return finish_stage(stage, out_dir, info)


def finish_stage(stage: Stage, out_dir: Path, info: dict[str, Any]) -> parts.StageSummary:
    """Count the stage's parts; provenance = the model's description plus the runtimes the workers noted."""
    runtimes, loads = runtime_log.collect(out_dir)
    summary = parts.summarize(stage.name, out_dir)
    summary.extra = {**info, **({"runtime": runtimes} if runtimes else {})}
    parts.write_summary(out_dir, summary)
    text = json.dumps({"model_builds_per_process": loads}, indent=2) + "\n"
    runtime = runtime_log.loads_path(out_dir)
    if not (runtime.exists() and runtime.read_text() == text):  # a no-op run writes nothing
        runtime.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(runtime, text)
    (Path(out_dir) / runtime_log.LOADS_FILE).unlink(missing_ok=True)  # where older versions wrote it
    return summary
