"""What `shoemodel curate report` shows, gathered from the ledger in one streamed pass (part by part).

Why: a person must see in a minute what a curation run did and which records to look at. Everything here is
bounded whatever the run's size: the funnel and the counts per reason are the ledger's sums (footers); per
reason only the first `per_reason` examples are kept (with their thumbnails) and the first `max_names` names;
the quality histogram is a fixed set of bins; the worst kept records are a heap of `worst` entries; failed
files are listed up to `max_failed`. Thumbnails are drawn afterwards from the stage parts of just those photos.
The page itself is written by `shoemodel.curation.report_html`.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation import ledger, parts
from shoemodel.curation.stage_io import stage_dir

STAGE_ORDER = ("ingest", "detect", "pose", "segment", "build")
BINS = 20  # quality histogram bins over [0, 1]


@dataclass
class Example:
    """One ledger row shown in the report (a photo, or one person of it)."""

    stage: str
    outcome: str
    reason: str | None
    detail: str | None
    source_uri: str
    part: int
    person: int | None
    box: list[float] | None
    value: float | None = None
    threshold: float | None = None
    quality: float | None = None
    thumb: bytes | None = None  # JPEG, drawn for the examples shown


@dataclass
class ReportData:
    """Everything the page shows; see the module note for the bounds."""

    work_dir: str
    totals: dict[str, Any]
    examples: dict[tuple[str, str, str], list[Example]] = field(default_factory=dict)  # (stage, outcome, reason)
    names: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    failed: list[Example] = field(default_factory=list)
    failed_total: int = 0
    hist: list[int] = field(default_factory=lambda: [0] * BINS)
    quality_label: str = "quality"
    worst: list[Example] = field(default_factory=list)
    kept_total: int = 0


def gather(work_dir: str | Path, out_root: str | Path | None = None, per_reason: int = 6, worst: int = 24,
           max_names: int = 200, max_failed: int = 5000) -> ReportData:
    """Stream the ledger of a run once; see the module note."""
    from shoemodel.curation.stages import stage_names
    from shoemodel.store.manifest import read_manifest

    work_dir = Path(work_dir)
    if not (stage_dir(work_dir, "ingest") / ledger.LEDGER_DIR).is_dir():
        raise FileNotFoundError(f"no curation ledger in {work_dir} (run `shoemodel curate run` first)")
    manifest = None
    if out_root is not None and (Path(out_root) / "manifest.json").exists():
        manifest = read_manifest(out_root)
    totals = ledger.totals(work_dir, stage_names(), manifest)
    data = ReportData(str(work_dir), totals)
    for stage in STAGE_ORDER[:-1]:
        for rows in ledger.iter_stage(work_dir, stage):
            for r in rows:
                if r["outcome"] != ledger.KEPT:
                    _note(data, r, per_reason, max_names, max_failed)
    if manifest is not None and out_root is not None:
        for rows in ledger.build_entries(work_dir, out_root):
            for r in rows:
                if r["outcome"] != ledger.KEPT:
                    _note(data, r, per_reason, max_names, max_failed)
    _quality(data, work_dir, worst)
    return data


def _example(r: dict[str, Any]) -> Example:
    return Example(r["stage"], r["outcome"], r["reason"], r["detail"], r["source_uri"], int(r["part"] or 0), r["person"],
                   r["box"], r["value"], r["threshold"], r["quality"])


def _note(data: ReportData, r: dict[str, Any], per_reason: int, max_names: int, max_failed: int) -> None:
    key = (r["stage"], r["outcome"], r["reason"] or "unknown")
    ex = data.examples.setdefault(key, [])
    if len(ex) < per_reason:
        ex.append(_example(r))
    names = data.names.setdefault(key, [])
    if len(names) < max_names:
        names.append(r["source_uri"] + ("" if r["person"] is None else f" (person {r['person']})"))
    if r["outcome"] == ledger.FAILED:
        data.failed_total += 1
        if len(data.failed) < max_failed:
            data.failed.append(_example(r))


def kept_quality(work_dir: str | Path) -> Iterator[tuple[dict[str, Any], float | None, bool]]:
    """Each person segment kept (the set's records), streamed part by part: (its segment ledger row, its quality,
    whether that is a quality score). Until stages score records, the quality is the person's mean keypoint score
    from pose's QC (False)."""
    for rows in ledger.iter_stage(work_dir, "segment"):
        if not rows:
            continue
        pose_scores = _pose_part(Path(work_dir), rows[0]["part"])  # one part of each at a time
        for r in rows:
            if r["person"] is None or r["outcome"] != ledger.KEPT:
                continue
            if r["quality"] is not None:
                yield r, float(r["quality"]), True
            else:
                yield r, pose_scores.get((r["source_uri"], r["person"])), False


def _quality(data: ReportData, work_dir: Path, worst: int) -> None:
    """Histogram and worst kept persons (those segment kept, i.e. the set's records), by `kept_quality`."""
    heap: list[tuple[float, int, Example]] = []
    n = 0
    any_quality = False
    for r, q, scored in kept_quality(work_dir):
        any_quality |= scored
        if q is None:
            continue
        data.kept_total += 1
        data.hist[min(BINS - 1, max(0, int(q * BINS)))] += 1
        ex = _example(r)
        ex.quality = q
        n += 1
        item = (-q, n, ex)
        if len(heap) < worst:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    data.worst = [ex for _, _, ex in sorted(heap, key=lambda t: (-t[0], t[1]))]
    data.quality_label = "quality score" if any_quality else "mean keypoint score (no quality score in this run)"


def _pose_part(work_dir: Path, index: int) -> dict[tuple[str, int], float]:
    """(uri, person) -> mean keypoint score, from pose's ledger part `index`."""
    import pyarrow.parquet as pq

    path = ledger.ledger_path(stage_dir(work_dir, "pose"), index)
    if not path.exists():
        return {}
    out = {}
    for r in pq.read_table(path, columns=["source_uri", "person", "qc"]).to_pylist():
        if r["person"] is not None and r["qc"]:
            s = json.loads(r["qc"]).get("keypoint_score")
            if s is not None:
                out[(r["source_uri"], int(r["person"]))] = float(s)
    return out


# ---------------------------------------------------------------- thumbnails

def draw_thumbnails(data: ReportData, size: int = 160) -> None:
    """Draw the thumbnail of every example shown (grouped by part: each part's stage rows read once)."""
    shown = [ex for exs in data.examples.values() for ex in exs] + data.worst
    by_part: dict[int, list[Example]] = {}
    for ex in shown:
        by_part.setdefault(ex.part, []).append(ex)
    for index, exs in sorted(by_part.items()):
        context = _part_context(Path(data.work_dir), index, {ex.source_uri for ex in exs})
        for ex in exs:
            ex.thumb = thumbnail(ex, context.get(ex.source_uri, {}), size)


def _part_context(work_dir: Path, index: int, uris: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """uri -> {stage: row} for the photos of one part that are shown."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for stage in ("ingest", "pose", "segment"):
        d = stage_dir(work_dir, stage)
        if not parts.part_path(d, index).exists():
            continue
        for r in parts.read_part(d, index):
            if r["source_uri"] in uris:
                out.setdefault(r["source_uri"], {}).setdefault(stage, r)
    return out


def _photo(row: dict[str, Any] | None, uri: str) -> np.ndarray | None:
    from shoemodel.curation.sources import read_bytes
    from shoemodel.curation.stage_io import decode_rgb
    from shoemodel.curation.storage import row_image_bytes

    try:
        data = row_image_bytes(row) if row is not None and row.get("status") == parts.KEPT else read_bytes(uri)
        return decode_rgb(data)
    except Exception:  # noqa: BLE001 - not an image (the reason it was dropped): a placeholder tile
        return None


def thumbnail(ex: Example, rows: dict[str, dict[str, Any]], size: int = 160) -> bytes:
    """A small JPEG of the photo: every person box of the example (red: the one it is about), its keypoints and
    skeleton when pose kept it, its shoe-mask outline when segment kept it; a grey tile when there is no image."""
    import cv2

    image = _photo(rows.get("ingest"), ex.source_uri)
    if image is None:
        tile = np.full((size, size, 3), 200, np.uint8)
        cv2.putText(tile, "no image", (size // 2 - 34, size // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (90, 90, 90), 1)
        return _jpeg(tile)
    h, w = image.shape[:2]
    s = size / max(h, w)
    tile = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    pose, seg = rows.get("pose"), rows.get("segment")
    if ex.box is not None:
        x1, y1, x2, y2 = (int(round(v * s)) for v in ex.box[:4])
        cv2.rectangle(tile, (x1, y1), (x2, y2), (230, 40, 40) if ex.outcome != ledger.KEPT else (40, 200, 40), 2)
    if ex.person is not None and pose is not None and pose.get("status") == parts.KEPT:
        index = list(pose.get("person_index") or [])
        if ex.person in index:
            j = index.index(ex.person)
            k = np.asarray(pose["keypoints"], np.float32).reshape(-1, 12, 3)[j]
            _draw_keypoints(tile, k, s)
            masks = (seg or {}).get("shoe_masks") or []
            if j < len(masks) and masks[j] is not None:
                _draw_outline(tile, masks[j])
    return _jpeg(tile)


def _draw_keypoints(tile: np.ndarray, k: np.ndarray, s: float) -> None:
    import cv2

    from shoemodel.schemas.keypoints import SKELETON, SKELETON_COLORS

    p = lambda xy: (int(round(float(xy[0]) * s)), int(round(float(xy[1]) * s)))  # noqa: E731
    for (a, b), colour in zip(SKELETON, SKELETON_COLORS):
        if k[a, 2] > 0 and k[b, 2] > 0:
            cv2.line(tile, p(k[a, :2]), p(k[b, :2]), colour, 1)
    for x, y, v in k:
        if v > 0:
            cv2.circle(tile, p((x, y)), 2, (255, 0, 0), -1)


def _draw_outline(tile: np.ndarray, mask_png: bytes) -> None:
    import cv2

    from shoemodel.curation.stage_io import decode_rgb

    m = (decode_rgb(mask_png)[..., 0] > 127).astype(np.uint8)
    m = cv2.resize(m, (tile.shape[1], tile.shape[0]), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(tile, contours, -1, (0, 220, 0), 1)


def _jpeg(rgb: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=80)
    return buf.getvalue()
