"""The curation ledger in FiftyOne: every photo and person curation dropped or failed, beside the set's records.

Why: the set shows what was kept; the ledger says why the rest is not there. `load_set` adds, for a set made by
`shoemodel curate` whose work folder (`OUT.work`) holds a ledger, one sample per dropped or failed ledger row
(photo or person) tagged `ledger`, its outcome and `<stage>: <reason>`, with the person's box drawn as a
detection labelled with the reason, and the numbers behind it (`ledger_value`, `ledger_threshold`); every kept
record gets its `quality` (sortable; until stages score records, the person's mean keypoint score, said in
`quality_source`). One saved view per reason (`ledger-<stage>-<reason>`) and `kept-by-quality` (worst first).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.compat.fiftyone import import_fiftyone

LEDGER_TAG = "ledger"
MODEL_STAGES = ("ingest", "detect", "pose", "segment")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def ledger_work_dir(root: str | Path) -> Path | None:
    """The work folder of a curated set (`OUT.work`) when it holds a ledger, else None."""
    from shoemodel.curation.ledger import LEDGER_DIR

    work = Path(f"{Path(root).resolve()}.work")
    return work if (work / "ingest" / LEDGER_DIR).is_dir() else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "unknown"


def reason_view(stage: str, reason: str | None) -> str:
    """The saved view of one ledger reason: `ledger-<stage>-<reason>`, lower case, one dash for any run of other
    characters ("mask qc: thin" -> ledger-segment-mask-qc-thin)."""
    return f"ledger-{_slug(stage)}-{_slug(reason or 'unknown')}"


def _image_size(uri: str) -> tuple[int, int] | None:
    """(width, height) of a local photo that opens, else None (then the sample shows a placeholder)."""
    from PIL import Image

    p = Path(uri.removeprefix("file://"))
    if p.suffix.lower() not in IMAGE_SUFFIXES or not p.is_file():
        return None
    try:
        with Image.open(p) as im:
            im.verify()
            return im.size
    except Exception:  # noqa: BLE001 - not an image: its reason says why
        return None


def ledger_samples(work_dir: Path, media: Path) -> Iterator[Any]:
    """One sample per dropped or failed ledger row (photo or person) of the model stages, streamed part by part."""
    from shoemodel.curation.ledger import KEPT, iter_stage
    from shoemodel.schemas.records import encode_png

    fo = import_fiftyone()
    placeholder = None
    for stage in MODEL_STAGES:
        for rows in iter_stage(work_dir, stage):
            for r in rows:
                if r["outcome"] == KEPT:
                    continue
                size = _image_size(r["source_uri"])
                if size is None:
                    if placeholder is None:
                        placeholder = (media / "placeholder.png").resolve()
                        placeholder.parent.mkdir(parents=True, exist_ok=True)
                        placeholder.write_bytes(encode_png(np.full((64, 64, 3), 96, np.uint8)))
                    path = placeholder
                else:
                    path = Path(r["source_uri"].removeprefix("file://")).resolve()
                reason = f"{stage}: {r['reason'] or 'unknown'}"
                s = fo.Sample(filepath=str(path), tags=[LEDGER_TAG, r["outcome"], reason])
                s["source_uri"], s["content_hash"] = r["source_uri"], r["content_hash"]
                s["ledger_stage"], s["ledger_outcome"], s["ledger_reason"] = stage, r["outcome"], r["reason"]
                s["ledger_detail"], s["ledger_value"], s["ledger_threshold"] = r["detail"], r["value"], r["threshold"]
                s["ledger_person"] = r["person"]
                if r["box"] is not None and size is not None:
                    w, h = size
                    x1, y1, x2, y2, score = r["box"]
                    s["ledger_box"] = fo.Detections(detections=[fo.Detection(
                        label=r["reason"] or r["outcome"], confidence=float(score),
                        bounding_box=[x1 / w, y1 / h, (x2 - x1) / w, (y2 - y1) / h])])
                yield s


def add_quality(ds: Any, work_dir: Path) -> None:
    """Set `quality` on every kept record (by source_uri and person, from the record id's `-p<k>`)."""
    from shoemodel.curation.report import kept_quality

    records = ds.match_tags([LEDGER_TAG, "dropped"], bool=False)
    if not len(records) or not records.has_field("record_id"):
        return
    quality: dict[tuple[str, int], tuple[float | None, bool]] = {
        (r["source_uri"], int(r["person"])): (q, scored) for r, q, scored in kept_quality(work_dir)}
    uris, ids = records.values("source_uri"), records.values("record_id")
    got = [quality.get((u, _person_of(i)), (None, False)) for u, i in zip(uris, ids)]
    records.set_values("quality", [q for q, _ in got])
    records.set_values("quality_source", [None if q is None else "quality score" if s else "mean keypoint score"
                                          for q, s in got])


def _person_of(record_id: str) -> int:
    m = re.search(r"-p(\d+)$", record_id or "")
    return int(m.group(1)) if m else 0


def save_views(ds: Any) -> None:
    """A saved view per ledger reason, and the kept records by quality (worst first)."""
    from fiftyone import ViewField as F

    if ds.has_field("ledger_stage"):
        for stage, reason in sorted({(s, r) for s, r in zip(*ds.match_tags(LEDGER_TAG).values(
                ["ledger_stage", "ledger_reason"])) if s}, key=str):
            view = ds.match((F("ledger_stage") == stage) & (F("ledger_reason") == reason))
            ds.save_view(reason_view(stage, reason), view, overwrite=True)
    if ds.has_field("quality"):
        ds.save_view("kept-by-quality", ds.exists("quality").sort_by("quality"), overwrite=True)
