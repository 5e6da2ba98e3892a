"""The one part runner of the model stages (detect, pose, segment): kept upstream rows -> model -> one part.

A task is one part index (plus the ingest duplicates in it). On whatever worker runs it, the stage's model
is built once per process, the rows every earlier stage kept are joined, the stage's row function turns
them into exactly one output row each, and the part is written atomically. The stage itself is a record
of the table in `shoemodel.curation.stages`; nothing here knows which stage it runs.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from shoemodel.curation import models, parts
from shoemodel.curation.stage_io import INGEST, kept_rows, stage_dir
from shoemodel.curation.stages import Stage, lineage


def run_part(task: tuple[int, tuple[frozenset[int], str]], stage: Stage, work_dir: str, cfg: Any) -> tuple[int, Counter]:
    """Make and write part `index` of `stage` (footer: its fingerprint); returns (index, status counts) for the progress bar."""
    index, (duplicates, fingerprint) = task
    model = models.cached(stage.name, cfg, stage.build_model)
    rows = stage.rows(kept_rows(work_dir, index, lineage(stage.upstream), duplicates), model, cfg)
    parts.write_part(stage_dir(work_dir, stage.name), index, rows, stage.schema, fingerprint)
    return index, Counter(r["status"] for r in rows)


def expected_fingerprints(up_dir: Path, settings_fp: str, dups: dict[int, frozenset[int]]) -> dict[int, str]:
    """Part index -> the fingerprint its part must carry now: its upstream part's (from the footer), the
    stage's settings and the duplicates in it. An upstream part without a readable fingerprint is skipped."""
    out = {}
    for i in parts.part_indices(up_dir):
        up = parts.part_fingerprint(up_dir, i)
        if up is not None:
            out[i] = parts.fingerprint_of([up, settings_fp, sorted(dups.get(i, ()))])
    return out


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
    settings_fp = parts.fingerprint_of([parts.settings_of(cfg), info, str(stage.schema)])
    parts.prepare_stage_dir(out_dir, settings_fp)
    dups = load_duplicates(stage_dir(work_dir, INGEST))
    want = expected_fingerprints(up_dir, settings_fp, dups)
    parts.remove_parts_except(out_dir, want)
    tasks = ((i, (dups.get(i, frozenset()), fp)) for i, fp in want.items())
    fn = partial(run_part, stage=stage, work_dir=str(work_dir), cfg=cfg)
    ran = parts.run_parts(tasks, fn, out_dir, executor, resources, len(want), stage.name, progress,
                          is_done=lambda i, payload: parts.part_fingerprint(out_dir, i) == payload[1])
    summary = parts.summarize(stage.name, out_dir)
    summary.extra = info
    parts.write_summary(out_dir, summary)
    parts.run_counts[stage.name] = ran
    return summary
