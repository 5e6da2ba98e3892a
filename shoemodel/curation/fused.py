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

from shoemodel.curation import ledger, models, parts, runtime_log
from shoemodel.curation.config import CurationConfig
from shoemodel.curation.detect import detect_decoded
from shoemodel.curation.pose import pose_decoded
from shoemodel.curation.prefetch import batches
from shoemodel.curation.runner import chain_fingerprints, finish_stage, settings_fingerprint, upstream_fingerprints
from shoemodel.curation.segment import segment_decoded
from shoemodel.curation.stage_io import INGEST, kept_rows, stage_dir
from shoemodel.curation.stages import stage

FUSED = ("detect", "pose", "segment")
_DECODED = {"detect": detect_decoded, "pose": pose_decoded, "segment": segment_decoded}


def fused_part(task: tuple[int, tuple[frozenset[int], dict[str, str]]], work_dir: str, sections: dict[str, Any],
               run_id: str = "") -> tuple[int, Counter]:
    """Make the detect, pose and segment parts of ingest part `index` from one decode of each image.

    `fingerprints` are the ones the staged run would give each stage's part; a stage whose part on disk
    already carries its fingerprint is read back, the others are made and written with theirs.
    """
    index, (duplicates, fingerprints) = task
    stages = [stage(name) for name in FUSED]
    mdl = {s.name: models.cached(s.name, sections[s.name], s.build_model) for s in stages}
    for s in stages:
        runtime_log.note(stage_dir(work_dir, s.name), run_id, mdl[s.name], models.builds(s.name, sections[s.name]))
    done: dict[str, dict[str, dict[str, Any]] | None] = {}
    for s in stages:  # a stage redone makes every later one redone (their fingerprints chain it anyway)
        upstream_redone = any(done[n] is None for n in done)
        done[s.name] = None if upstream_redone else _existing(work_dir, s.name, index, fingerprints[s.name])
    out: dict[str, list[dict[str, Any]]] = {name: [] for name in FUSED}
    ins: dict[str, list[dict[str, Any]]] = {name: [] for name in FUSED}  # each stage's input rows, for its ledger
    rows = kept_rows(work_dir, index, (INGEST,), duplicates)
    det = sections["detect"]
    for b in batches(rows, det.batch_size, det.loader_threads):
        current, images = b.rows, b.images
        for s in stages:
            made = _run(s.name, current, images, mdl[s.name], sections[s.name], done[s.name])
            ins[s.name] += current
            out[s.name] += made
            kept = {r["source_uri"]: r for r in made if r["status"] == parts.KEPT}
            pairs = [(r, im) for r, im in zip(current, images) if r["source_uri"] in kept]
            current = [{**r, **_payload(kept[r["source_uri"]])} for r, _ in pairs]
            images = [im for _, im in pairs]
    for s in stages:  # in chain order, so a crash never leaves a part without its upstream part
        if done[s.name] is None:
            parts.write_part(stage_dir(work_dir, s.name), index, out[s.name], s.schema, fingerprints[s.name],
                             ledger_rows=ledger.entries(s.name, ins[s.name], out[s.name], sections[s.name]))
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
    return {k: v for k, v in row.items() if k not in ("status", "reason", "source_uri", "content_hash", *ledger.SIDE_KEYS)}


def _existing(work_dir: str, name: str, index: int, fingerprint: str) -> dict[str, dict[str, Any]] | None:
    """The rows of a finished part that carries the expected fingerprint, by source_uri; None: make it."""
    d = stage_dir(work_dir, name)
    if parts.part_fingerprint(d, index) != fingerprint:
        return None
    return {r["source_uri"]: r for r in parts.read_part(d, index)}


def run_fused(cfg: CurationConfig, executor: Any = None, resources: dict[str, float] | None = None) -> dict[str, parts.StageSummary]:
    """detect, pose and segment as one pass over the ingest parts; returns each stage's summary (as the staged run's).

    Each stage's part fingerprints chain as the staged run's do (ingest part -> detect -> pose -> segment,
    speed-only settings left out), so either path resumes the other's parts; only parts whose fingerprints
    differ are redone, and parts whose ingest part is gone are deleted.
    """
    from shoemodel.curation.ingest import load_duplicates

    work_dir = str(cfg.work_dir)
    ingest_dir = stage_dir(work_dir, INGEST)
    parts.read_fingerprint(ingest_dir)  # a clear error when ingest never ran
    sections = {name: getattr(cfg, stage(name).config) for name in FUSED}
    dups = load_duplicates(ingest_dir)
    upstream = upstream_fingerprints(ingest_dir)
    infos, want = {}, {}
    for name in FUSED:  # chain order: each stage's fingerprints chain its upstream stage's expected ones
        st = stage(name)
        infos[name] = st.describe(sections[name])
        settings_fp = settings_fingerprint(st, sections[name], infos[name])
        out_dir = stage_dir(work_dir, name)
        parts.prepare_stage_dir(out_dir, settings_fp)
        want[name] = upstream = chain_fingerprints(upstream, settings_fp, dups)
        parts.remove_parts_except(out_dir, want[name])
        stale = [i for i, fp in want[name].items() if parts.part_fingerprint(out_dir, i) != fp]
        if len(stale) == len(want[name]):
            runtime_log.reset(out_dir)  # every part is redone: earlier runtime notes no longer describe it
        parts.run_counts[name] = len(stale)
    indices = list(want["segment"])
    tasks = ((i, (dups.get(i, frozenset()), {n: want[n][i] for n in FUSED})) for i in indices)

    def is_done(i: int, payload: tuple[frozenset[int], dict[str, str]]) -> bool:
        return all(parts.part_fingerprint(stage_dir(work_dir, n), i) == fp for n, fp in payload[1].items())

    fn = partial(fused_part, work_dir=work_dir, sections=sections, run_id=uuid.uuid4().hex)
    parts.run_parts(tasks, fn, stage_dir(work_dir, "segment"), executor=executor, resources=resources,
                    total=len(indices), desc="detect+pose+segment", progress=cfg.progress, is_done=is_done)
    return {name: finish_stage(stage(name), Path(stage_dir(work_dir, name)), infos[name]) for name in FUSED}
