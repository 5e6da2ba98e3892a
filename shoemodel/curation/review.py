"""Review rounds of the shoe-leg set in Label Studio: send the records most worth a look, read the fixes back.

`send_round` picks the kept persons with the lowest `review_priority` (and, when asked, persons the segment
stage dropped for a chosen reason) that no review has seen, writes their photos where Label Studio serves
them, and creates one task per person with curation's keypoints and shoe masks as the prediction to correct
(`review_tasks`). While a round has pending tasks, running it again only repairs served photos (`new=True`
starts another round anyway). `import_round` reads every finished task into the corrections table
(`corrections`), which `curate build` applies on every run; nothing else is written, so the DVC stage that
builds the set needs no server.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation.config import CurationConfig
from shoemodel.curation.corrections import (
    REJECT,
    Key,
    load_corrections,
    merge_corrections,
    save_corrections,
)
from shoemodel.curation.review_tasks import ReviewTaskError, build_task, image_relpath, label_config, task_correction

LOCAL_FILES_PREFIX = "/data/local-files/"
BATCH = 50
#: The curation stage whose rows a review reads (the stage before build) and the one that names dropped persons.
SEGMENT = "segment"


def review_priority(row: dict[str, Any]) -> float:
    """How sure curation is of a person, in [0, 1]; the lowest are reviewed first. The segment stage's `quality`
    score when the row has one, else a score from the mask QC numbers (`mask_qc_score`)."""
    quality = row.get("quality")
    return float(quality) if quality is not None else mask_qc_score(row.get("mask_qc"))


def mask_qc_score(mask_qc: str | list | None) -> float:
    """The mean over both feet of how far each foot's mask is from failing its checks (a foot without a mask that
    passed counts 0): product of 1 - box fill, min(1, area / expected foot area), min(1, thickness / 0.35),
    1 - share nearer the other foot, 1 - share above the ankle, 1 - calf overlap."""
    feet = json.loads(mask_qc) if isinstance(mask_qc, str) else (mask_qc or [])
    scores = []
    for f in feet:
        if not isinstance(f, dict) or not f.get("ok"):
            scores.append(0.0)
            continue
        s = (1.0 - float(f.get("box_fill", 0.0))) * min(1.0, float(f.get("foot_area_ratio", 1.0)))
        s *= min(1.0, float(f.get("thickness_ratio", 0.35)) / 0.35)
        for key in ("other_foot_frac", "above_ankle_frac", "leg_overlap"):
            s *= 1.0 - float(f.get(key, 0.0))
        scores.append(float(np.clip(s, 0.0, 1.0)))
    scores += [0.0] * max(0, 2 - len(scores))
    return float(np.mean(scores))


@dataclass
class Candidate:
    """A person to review: where its photo is, and what curation made of it."""

    part: int
    content_hash: str
    person: int
    source_uri: str
    set_id: str
    kind: str  # kept | dropped
    priority: float
    keypoints: list[float]
    person_box: list[float]
    shoe_mask: bytes | None = None  # PNG of the record's mask (kept persons)
    reason: str = ""

    @property
    def key(self) -> Key:
        return (self.content_hash, self.person)


def _chain() -> tuple[str, ...]:
    from shoemodel.curation.stages import lineage

    return lineage(SEGMENT)


def _part_indices(work_dir: str | Path) -> list[int]:
    from shoemodel.curation import parts
    from shoemodel.curation.stage_io import stage_dir

    indices = parts.part_indices(stage_dir(work_dir, SEGMENT))
    if not indices:
        raise FileNotFoundError(f"no curated rows in {stage_dir(work_dir, SEGMENT)}: run `shoemodel curate run` first")
    return indices


def kept_candidates(work_dir: str | Path) -> Iterator[Candidate]:
    """Every person `build` would make a record of, with its review priority."""
    from shoemodel.curation.build import part_items

    chain = _chain()
    for index in _part_indices(work_dir):
        for item in part_items(index, str(work_dir), chain):
            person = int(item.get("person_index") or 0)
            yield Candidate(index, item["content_hash"], person, item["source_uri"],
                            item["content_hash"][:24] + item.get("id_suffix", ""), "kept", review_priority(item),
                            [float(v) for v in item["keypoints"]], [float(v) for v in item["person_box"]],
                            item["shoe_mask"])


def dropped_candidates(work_dir: str | Path, reason: str) -> Iterator[Candidate]:
    """Persons the segment stage dropped with a reason starting with `reason`, with pose's keypoints and no mask."""
    from shoemodel.curation import parts
    from shoemodel.curation.persons import person_suffix
    from shoemodel.curation.stage_io import kept_rows, stage_dir

    chain = _chain()
    for index in _part_indices(work_dir):
        posed = {r["content_hash"]: r for r in kept_rows(work_dir, index, chain[:-1])}
        for row in parts.read_part(stage_dir(work_dir, SEGMENT), index, ["content_hash", "mask_qc"]):
            pose_row = posed.get(row["content_hash"])
            if pose_row is None or not row.get("mask_qc"):
                continue
            ks = np.asarray(pose_row["keypoints"], np.float32).reshape(-1, 36)
            boxes = np.asarray(pose_row.get("person_box") or [], np.float32).reshape(-1, 5)
            index_of = list(pose_row.get("person_index") or range(len(ks)))
            for j, qc in enumerate(json.loads(row["mask_qc"])):
                why = str(qc.get("reason") or "") if isinstance(qc, dict) else ""
                if qc.get("ok") or not why.startswith(reason) or j >= len(ks):
                    continue
                person = int(index_of[j])
                yield Candidate(index, row["content_hash"], person, pose_row["source_uri"],
                                row["content_hash"][:24] + person_suffix(person), "dropped", 0.0,
                                ks[j].tolist(), boxes[j].tolist() if j < len(boxes) else [], None, why)


def select(work_dir: str | Path, n: int, exclude: set[Key], *, dropped_reason: str = "",
           n_dropped: int = 0) -> list[Candidate]:
    """The `n` kept persons of lowest priority (ties by record id) not in `exclude`, then up to `n_dropped`
    dropped persons of `dropped_reason` (by record id)."""
    kept = heapq.nsmallest(n, (c for c in kept_candidates(work_dir) if c.key not in exclude),
                           key=lambda c: (c.priority, c.set_id))
    dropped: list[Candidate] = []
    if dropped_reason and n_dropped > 0:
        dropped = heapq.nsmallest(n_dropped, (c for c in dropped_candidates(work_dir, dropped_reason)
                                              if c.key not in exclude), key=lambda c: c.set_id)
    return kept + dropped


# ---- Label Studio ----

def review_project(client: Any, title: str) -> Any:
    """The review project called `title` (created with the review config if absent); refuses another config."""
    from shoemodel.annotation.client import LabelStudioError

    config = label_config()
    for project in client.projects.list(title=title):
        if project.title != title:
            continue
        if "".join((project.label_config or "").split()) != "".join(config.split()):
            raise LabelStudioError(f"project {title!r} (id {project.id}) has a different labeling config; "
                                   "rename it or choose another curation.review.project_title")
        return project
    return client.projects.create(title=title, label_config=config,
                                  description="ShoeModel shoe-leg review (shoemodel curate review)")


@dataclass
class SendReport:
    """What a review send did."""

    round: int = 0
    created: int = 0
    kept: int = 0
    dropped: int = 0
    pending: int = 0
    photos_written: int = 0
    resumed: bool = False
    task_ids: list[int] = field(default_factory=list)


#: Formats a browser shows as they are; any other photo is served as PNG.
SERVED_AS_IS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp"}


def _photo(work_dir: str | Path, part: int, content_hash: str,
           cache: dict[int, dict[str, Any]]) -> tuple[bytes, str, tuple[int, int]]:
    """The photo a review task shows: its upright encoded bytes as curation reads them (a JPEG stays a JPEG, so a
    12 MP photo is not served as a 30 MB PNG), the file suffix, and its (width, height), which the keypoints use."""
    import io

    from PIL import Image

    from shoemodel.curation.stage_io import INGEST, kept_rows
    from shoemodel.curation.storage import row_image_bytes
    from shoemodel.schemas.records import decode_image, encode_png

    if part not in cache:
        cache.clear()  # one part at a time (candidates come sorted by part)
        cache[part] = {r["content_hash"]: r for r in kept_rows(work_dir, part, (INGEST,))}
    row = cache[part].get(content_hash)
    if row is None:
        raise FileNotFoundError(f"photo {content_hash[:12]} is no longer in curation's ingest part {part}")
    data = row_image_bytes(row)
    with Image.open(io.BytesIO(data)) as im:
        fmt, size = im.format, im.size
    if fmt in SERVED_AS_IS:
        return data, SERVED_AS_IS[fmt], size
    return encode_png(decode_image(data, "RGB", "image", row["source_uri"])), ".png", size


def send_round(cfg: CurationConfig, url: str, token: str, *, n: int | None = None, dropped_reason: str | None = None,
               n_dropped: int | None = None, new: bool = False) -> SendReport:
    """Resume the open review round (repair its photos) or send the next one; see the module docstring."""
    from shoemodel.annotation.client import connect, ensure_local_storage, iter_tasks
    from shoemodel.schemas.records import decode_image
    from shoemodel.store.atomic import write_bytes_if_changed

    rc = cfg.review
    client = connect(url, token, rc.timeout_s)
    project = review_project(client, rc.project_title)
    tasks = list(iter_tasks(client, project.id))
    root = Path(rc.document_root).resolve()
    if rc.image_url_prefix.startswith(LOCAL_FILES_PREFIX):
        (root / "images").mkdir(parents=True, exist_ok=True)
        ensure_local_storage(client, project.id, str(root / "images"), title="shoemodel review photos")
    report = SendReport(round=max((int(t["data"].get("round") or 0) for t in tasks), default=0))
    pending = [t for t in tasks if not t.get("annotations")]
    report.pending = len(pending)
    cache: dict[int, dict[str, Any]] = {}
    if pending and not new:  # the open round: only make sure its photos are still served
        report.resumed = True
        by_key = {(t["data"]["content_hash"], int(t["data"]["person"])): t for t in pending}
        for key, task in sorted(by_key.items()):
            recorded = task["data"].get("photo_path")
            if recorded and Path(recorded).is_file():
                continue
            data, suffix, _ = _photo(cfg.work_dir, _find_part(cfg.work_dir, key[0]), key[0], cache)
            report.photos_written += write_bytes_if_changed(Path(recorded or root / image_relpath(key[0], suffix)), data)
        return report
    sent = {(t["data"]["content_hash"], int(t["data"]["person"])) for t in tasks if "content_hash" in t.get("data", {})}
    exclude = sent | set(load_corrections(rc.corrections))
    reason = rc.dropped_reason if dropped_reason is None else dropped_reason
    n_drop = (rc.n_dropped if n_dropped is None else n_dropped) or (rc.n if n is None else n)  # 0: as many as n
    chosen = sorted(select(cfg.work_dir, rc.n if n is None else n, exclude, dropped_reason=reason,
                           n_dropped=n_drop if reason else 0), key=lambda c: c.part)
    if not chosen:
        return report
    report.round += 1
    batch: list[dict[str, Any]] = []
    for c in chosen:
        data, suffix, (w, h) = _photo(cfg.work_dir, c.part, c.content_hash, cache)  # percent coordinates are of it
        rel = image_relpath(c.content_hash, suffix)
        report.photos_written += write_bytes_if_changed(root / rel, data)
        mask = None if c.shoe_mask is None else decode_image(c.shoe_mask, "L", "shoe_mask", c.source_uri) > 127
        person = {"content_hash": c.content_hash, "person": c.person, "source_uri": c.source_uri, "set_id": c.set_id,
                  "kind": c.kind, "reason": c.reason, "priority": round(c.priority, 6), "keypoints": c.keypoints,
                  "person_box": c.person_box}
        task = build_task(person, rc.image_url_prefix + rel, report.round, w, h, mask)
        task["data"]["photo_path"] = str(root / rel)  # the ML backend (same machine as Label Studio) reads it there
        batch.append(task)
        report.kept += c.kind == "kept"
        report.dropped += c.kind == "dropped"
        if len(batch) >= BATCH:
            report.task_ids += _import(client, project.id, batch)
            batch = []
    if batch:
        report.task_ids += _import(client, project.id, batch)
    report.created = len(report.task_ids)
    report.pending += report.created
    return report


def _find_part(work_dir: str | Path, content_hash: str) -> int:
    from shoemodel.curation import parts
    from shoemodel.curation.stage_io import INGEST, stage_dir

    for i in parts.part_indices(stage_dir(work_dir, INGEST)):
        if any(r["content_hash"] == content_hash and r["status"] == parts.KEPT
               for r in parts.read_part(stage_dir(work_dir, INGEST), i, ["content_hash", "status"])):
            return i
    raise FileNotFoundError(f"photo {content_hash[:12]} is no longer in curation's ingest parts ({work_dir})")


def _import(client: Any, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
    resp = client.projects.import_tasks(id=project_id, request=tasks, return_task_ids=True)
    return list(resp.task_ids or [])


@dataclass
class ImportReport:
    """What a review import read: corrections by decision, tasks pending / skipped, and failures (task: reason)."""

    kept: int = 0
    rejected: int = 0
    pending: int = 0
    skipped: int = 0
    entries: int = 0  # lines of the corrections table after the import
    failed: list[str] = field(default_factory=list)


def import_round(cfg: CurationConfig, url: str, token: str) -> ImportReport:
    """Read every finished review task into the corrections table (`curation.review.corrections`): per person the
    latest review wins, entries whose task is gone from the server stay. A bad task is listed, the rest written."""
    from shoemodel.annotation.client import connect, iter_tasks

    rc = cfg.review
    old = load_corrections(rc.corrections)  # a broken table stops the import before anything is written
    client = connect(url, token, rc.timeout_s)
    project = review_project(client, rc.project_title)
    report = ImportReport()
    new = []
    for task in sorted(iter_tasks(client, project.id), key=lambda t: t.get("id") or 0):
        if "content_hash" not in task.get("data", {}):
            continue
        if not task.get("annotations"):
            report.pending += 1
            continue
        try:
            c = task_correction(task)
        except ReviewTaskError as exc:
            report.failed.append(str(exc))
            continue
        if c is None:
            report.skipped += 1
            continue
        new.append(c)
        report.rejected += c.decision == REJECT
        report.kept += c.decision != REJECT
    table = merge_corrections(old, new)
    save_corrections(rc.corrections, table)
    report.entries = len(table)
    return report
