"""Pull finished annotations back and rebuild the annotated wearable-area set from them.

Two steps so that nothing is lost: `pull` copies every task with its annotations into a JSONL
snapshot (workdir/tasks.jsonl), then `build_set` turns the snapshot into shards. Skipped,
cancelled and empty tasks become recorded drops; a bad task (unknown label, image gone) becomes a
recorded failure with its reason while the rest are written; fix it and re-run.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.annotation.agreement import MERGE_RULE, merge_masks, pairwise_agreement
from shoemodel.annotation.brush import results_to_mask
from shoemodel.annotation.client import iter_tasks
from shoemodel.annotation.ledger import Ledger
from shoemodel.annotation.pool import iter_pool
from shoemodel.schemas.builder import build_record
from shoemodel.store import Dropped, iter_failures, write_set
from shoemodel.store.atomic import atomic_write_text

SNAPSHOT_NAME = "tasks.jsonl"


@dataclass
class ImportReport:
    """Counts of one import: records written, tasks still pending, drops and failures by reason."""

    records: int = 0
    pending: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    closed_rounds: list[int] = field(default_factory=list)


def pull(client: Any, project_id: int, path: str | Path) -> Path:
    """Snapshot every task of the project (annotations included) to `path` (a JSONL file), atomically.

    Tasks are sorted by id and keys by name, so an unchanged project gives a byte-identical file and
    DVC reruns nothing downstream of it.
    """
    tasks = sorted(iter_tasks(client, project_id), key=lambda t: t.get("id") or 0)
    lines = [json.dumps(t, default=str, sort_keys=True) for t in tasks]
    path = Path(path)
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return path


def read_snapshot(path: str | Path) -> list[dict[str, Any]]:
    """The tasks of a snapshot."""
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def task_state(task: dict[str, Any]) -> str:
    """'pending' (no annotation yet), 'skipped' (only cancelled), 'empty' (submitted with nothing) or 'done'."""
    anns = task.get("annotations") or []
    if not anns:
        return "pending"
    kept = [a for a in anns if not a.get("was_cancelled")]
    if not kept:
        return "skipped"
    if not any(a.get("result") for a in kept):
        return "empty"
    return "done"


def _annotator(ann: dict[str, Any]) -> str:
    name = str(ann.get("created_username") or "").strip().split(",")[0].strip()
    return name or f"user:{ann.get('completed_by')}"


def task_mask(task: dict[str, Any], width: int, height: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The merged class-id mask of a finished task and its annotation metadata (who, when, agreement)."""
    anns = sorted((a for a in task["annotations"] if not a.get("was_cancelled") and a.get("result")),
                  key=lambda a: str(a.get("updated_at") or a.get("created_at")))
    where = f"task {task['id']}"
    masks = [results_to_mask(a["result"], width, height, f"{where} annotation {a.get('id')}") for a in anns]
    mean, pairs = pairwise_agreement(masks)
    meta = {
        "task_id": task["id"],
        "round": task.get("data", {}).get("round"),
        "annotators": [_annotator(a) for a in anns],
        "annotation_ids": [a.get("id") for a in anns],
        "lead_time_s": [a.get("lead_time") for a in anns],
        "created_at": [str(a.get("created_at")) for a in anns],
        "updated_at": [str(a.get("updated_at")) for a in anns],
        "cancelled": sum(1 for a in task["annotations"] if a.get("was_cancelled")),
        "agreement_miou": mean,
        "pairwise_miou": pairs,
        "merge_rule": MERGE_RULE if len(masks) > 1 else "single annotation",
        "prediction_model_versions": sorted({str(p.get("model_version")) for p in task.get("predictions") or []}),
    }
    return merge_masks(masks), meta


def build_set(snapshot: str | Path, pool: str | Path, output: str | Path, *, min_agreement: float = 0.0,
              records_per_shard: int = 256, server: dict[str, Any] | None = None) -> ImportReport:
    """Rebuild the annotated set from a snapshot; the pool supplies the images and metadata."""
    tasks = [t for t in read_snapshot(snapshot) if "record_id" in t.get("data", {})]
    report = ImportReport(pending=sum(task_state(t) == "pending" for t in tasks))
    finished = sorted((t for t in tasks if task_state(t) != "pending"), key=lambda t: t["data"]["record_id"])
    wanted = {t["data"]["record_id"] for t in finished}
    pool_rows = {r["id"]: r for r in iter_pool(pool, wanted)}

    def make_record(task: dict[str, Any]) -> dict[str, Any]:
        state = task_state(task)
        if state != "done":
            raise Dropped(state)
        rid = task["data"]["record_id"]
        row = pool_rows.get(rid)
        if row is None:
            raise LookupError(f"image gone: record {rid!r} (task {task['id']}) is no longer in the pool {pool}")
        mask, meta = task_mask(task, row["width"], row["height"])
        if meta["agreement_miou"] is not None and meta["agreement_miou"] < min_agreement:
            raise Dropped(f"low agreement {meta['agreement_miou']:.3f} < {min_agreement}")
        prov = json.loads(row["provenance"])
        prov["annotation"] = {**(server or {}), "task_id": task["id"], "snapshot": str(snapshot)}
        return build_record("wearable_area", id=rid, source_uri=row["source_uri"], content_hash=row["content_hash"],
                            image=row["image"], shoe_image=row["shoe_image"], area_mask=mask, split=row["split"],
                            caption=row["caption"], provenance=prov, annotation=meta)

    digest = hashlib.sha256(Path(snapshot).read_bytes()).hexdigest()
    manifest = write_set(output, "wearable_area", finished, make_record, records_per_shard=records_per_shard,
                         item_key=lambda t: f"task {t['id']} ({t['data']['record_id']})",
                         fingerprint={"snapshot_sha256": digest, "min_agreement": min_agreement},
                         provenance={"stage": "annotation.import", "snapshot_sha256": digest, **(server or {})},
                         progress=False)
    report.records = manifest.num_records
    drops: Counter[str] = Counter()
    for f in iter_failures(output):
        if f.kind == "dropped":
            drops["low agreement" if f.reason.startswith("low agreement") else f.reason] += 1
        else:
            report.failed.append(f"{f.item}: {f.reason}")
    report.dropped = dict(drops)
    return report


def close_finished_rounds(ledger: Ledger, tasks: list[dict[str, Any]]) -> list[int]:
    """Mark open rounds closed when none of their tasks is pending; returns the rounds closed."""
    state = {t["data"].get("record_id"): task_state(t) for t in tasks}
    closed = []
    for r in ledger.rounds:
        if r.status == "open" and r.ids and all(state.get(i, "pending") != "pending" for i in r.ids):
            r.status = "closed"
            closed.append(r.round)
    return closed
