"""Decode once: detect -> pose -> segment back to back on each decoded batch of a part, on one worker.

The staged path decodes every image three times (once per model stage, each reading the ingest part) and
ships it through three rounds of tasks. Here one task per part decodes a batch once (in the prefetching
loader's threads), runs the detector on it, the pose model on the images the detector kept and SAM on the
ones pose kept, and still writes each stage's own part, with the fingerprints the staged run would give them,
so resume, the per-stage summaries and the build stage do not know which path made them. A part a stage
already finished is read back, not recomputed. The standalone stages stay for clusters that split the
models across machines.
"""

from __future__ import annotations

import uuid
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from shoemodel.curation import models, parts, runtime_log
from shoemodel.curation.config import CurationConfig
from shoemodel.curation.detect import detect_decoded
from shoemodel.curation.pose import pose_decoded
from shoemodel.curation.prefetch import batches
from shoemodel.curation.runner import finish_stage, stage_fingerprint
from shoemodel.curation.segment import segment_decoded
from shoemodel.curation.stage_io import INGEST, kept_rows, stage_dir
from shoemodel.curation.stages import stage

FUSED = ("detect", "pose", "segment")
_DECODED = {"detect": detect_decoded, "pose": pose_decoded, "segment": segment_decoded}


def fused_part(task: tuple[int, frozenset[int]], work_dir: str, sections: dict[str, Any], run_id: str = "") -> tuple[int, Counter]:
    """Make the detect, pose and segment parts of ingest part `index` from one decode of each image."""
    index, duplicates = task
    stages = [stage(name) for name in FUSED]
    mdl = {s.name: models.cached(s.name, sections[s.name], s.build_model) for s in stages}
    for s in stages:
        runtime_log.note(stage_dir(work_dir, s.name), run_id, mdl[s.name], models.builds(s.name, sections[s.name]))
    done = {s.name: _existing(work_dir, s.name, index) for s in stages}
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in FUSED}
    rows = kept_rows(work_dir, index, (INGEST,), duplicates)
    det = sections["detect"]
    for b in batches(rows, det.batch_size, det.loader_threads):
        current, images = b.rows, b.images
        for s in stages:
            made = _run(s.name, current, images, mdl[s.name], sections[s.name], done[s.name])
            out[s.name] += made
            kept = {r["source_uri"]: r for r in made if r["status"] == parts.KEPT}
            pairs = [(r, im) for r, im in zip(current, images) if r["source_uri"] in kept]
            current = [{**r, **_payload(kept[r["source_uri"]])} for r, _ in pairs]
            images = [im for _, im in pairs]
    for s in stages:  # in chain order, so a crash never leaves a part without its upstream part
        if done[s.name] is None:
            parts.write_part(stage_dir(work_dir, s.name), index, out[s.name], s.schema)
    final = out["segment"] if done["segment"] is None else list(done["segment"].values())
    return index, Counter(r["status"] for r in final)


def _run(name: str, rows: list[dict[str, Any]], images: list[Any], model: Any, cfg: Any,
         done: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    """One stage on a decoded batch in chunks of its own batch size, or its finished part's rows for these images."""
    if done is not None:
        return [done[r["source_uri"]] for r in rows if r["source_uri"] in done]
    made: list[dict[str, Any]] = []
    size = max(1, int(getattr(cfg, "batch_size", len(rows) or 1)))
    for start in range(0, len(rows), size):
        made += _DECODED[name](rows[start: start + size], images[start: start + size], model, cfg)
    return made


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("status", "reason", "source_uri", "content_hash")}


def _existing(work_dir: str, name: str, index: int) -> dict[str, dict[str, Any]] | None:
    d = stage_dir(work_dir, name)
    return {r["source_uri"]: r for r in parts.read_part(d, index)} if parts.part_path(d, index).exists() else None


def run_fused(cfg: CurationConfig, executor: Any = None, resources: dict[str, float] | None = None) -> dict[str, parts.StageSummary]:
    """detect, pose and segment as one pass over the ingest parts; returns each stage's summary (as the staged run's)."""
    from shoemodel.curation.ingest import load_duplicates

    work_dir = str(cfg.work_dir)
    sections = {name: getattr(cfg, stage(name).config) for name in FUSED}
    infos = {}
    for name in FUSED:  # chain order: each fingerprint reads the one its upstream just wrote
        st = stage(name)
        infos[name] = st.describe(sections[name])
        out_dir = stage_dir(work_dir, name)
        parts.prepare_stage_dir(out_dir, stage_fingerprint(st, work_dir, sections[name], infos[name]))
        if not parts.part_indices(out_dir):
            runtime_log.reset(out_dir)
    dups = load_duplicates(stage_dir(work_dir, INGEST))
    indices = parts.part_indices(stage_dir(work_dir, INGEST))
    tasks = ((i, dups.get(i, frozenset())) for i in indices)
    fn = partial(fused_part, work_dir=work_dir, sections=sections, run_id=uuid.uuid4().hex)
    parts.run_parts(tasks, fn, stage_dir(work_dir, "segment"), executor, resources, len(indices), "detect+pose+segment",
                    cfg.progress)
    return {name: finish_stage(stage(name), Path(stage_dir(work_dir, name)), infos[name]) for name in FUSED}
