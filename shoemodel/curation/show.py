"""Contact sheet of a curation run: kept and dropped photos in one PNG, so a user sees what curation did in seconds.

Each tile is one photo: the detected person boxes, per kept person its 12 keypoints with the skeleton and
its shoe-mask outline (green), per dropped person (at detect, pose or segment: the ledger's rows) its box in red
and its reason; a photo dropped earlier shows the stage and reason it stopped at. It reads the stage tables of the work folder only (nothing is rerun).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation import parts
from shoemodel.curation.ledger import duplicate_map
from shoemodel.curation.stage_io import decode_rgb, stage_dir
from shoemodel.curation.storage import row_image_bytes
from shoemodel.schemas.keypoints import SKELETON, SKELETON_COLORS

MODEL_STAGES = ("detect", "pose", "segment")


@dataclass
class Tile:
    """What one photo went through: where it stopped and why, and what each stage made of it."""

    source_uri: str
    row: dict[str, Any]  # the ingest row: its photo is read (a referenced one from the source) only when drawn
    kept: bool
    stage: str  # the last stage that saw it
    reason: str | None
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 5), np.float32))
    persons: list[dict[str, Any]] = field(default_factory=list)  # keypoints (12,3), box, mask (bytes|None), reason
    dropped: list[dict[str, Any]] = field(default_factory=list)  # persons dropped at any stage: box, stage, reason (ledger)


def collect(work_dir: str | Path) -> list[Tile]:
    """Every photo ingest kept, with its outcome, in part order."""
    tiles: list[Tile] = []
    ingest = stage_dir(work_dir, "ingest")
    if not parts.part_indices(ingest):
        raise FileNotFoundError(f"no curation stage tables in {work_dir} (run `shoemodel curate run` first)")
    dups = duplicate_map(ingest)
    for index in parts.part_indices(ingest):
        rows = {s: {r["source_uri"]: r for r in _read(work_dir, s, index)} for s in MODEL_STAGES}
        dropped = _dropped_persons(work_dir, index)
        for pos, r in enumerate(parts.read_part(ingest, index)):
            if r["status"] != parts.KEPT:
                continue
            tiles.append(_tile(r, rows))
            tiles[-1].dropped = dropped.get(r["source_uri"], [])
            if (index, pos) in dups:  # ingest's duplicate pass: no later stage saw it
                tiles[-1].reason = f"duplicate of {Path(dups[(index, pos)]).name}"
    return tiles


def _dropped_persons(work_dir: str | Path, index: int) -> dict[str, list[dict[str, Any]]]:
    """uri -> the persons of its photo dropped at some stage, with the stage and reason code (the ledger's rows)."""
    import pyarrow.parquet as pq

    from shoemodel.curation.ledger import KEPT, ledger_path

    out: dict[str, list[dict[str, Any]]] = {}
    for s in MODEL_STAGES:
        path = ledger_path(stage_dir(work_dir, s), index)
        if not path.exists():
            continue
        for r in pq.read_table(path, columns=["source_uri", "person", "box", "outcome", "reason"]).to_pylist():
            if r["person"] is not None and r["outcome"] != KEPT and r["box"] is not None:
                out.setdefault(r["source_uri"], []).append({"box": r["box"], "stage": s, "reason": r["reason"],
                                                            "person": r["person"]})
    return out


def _read(work_dir: str | Path, stage: str, index: int) -> list[dict[str, Any]]:
    d = stage_dir(work_dir, stage)
    return parts.read_part(d, index) if index in parts.part_indices(d) else []


def _tile(r: dict[str, Any], rows: dict[str, dict[str, dict[str, Any]]]) -> Tile:
    uri = r["source_uri"]
    t = Tile(uri, r, False, "ingest", None)
    for s in MODEL_STAGES:
        row = rows[s].get(uri)
        if row is None:
            t.reason = t.reason or f"not run by {s}"
            return t
        t.stage, t.reason = s, row["reason"]
        if s == "detect" and row.get("boxes"):
            t.boxes = np.asarray(row["boxes"], np.float32).reshape(-1, 5)
        if s == "pose" and row["status"] == parts.KEPT:
            ks = np.asarray(row["keypoints"], np.float32).reshape(-1, 12, 3)
            bs = np.asarray(row["person_box"], np.float32).reshape(-1, 5)
            t.persons = [{"keypoints": k, "box": b, "mask": None, "reason": None} for k, b in zip(ks, bs)]
        if s == "segment":
            qc = json.loads(row.get("mask_qc") or "[]")
            masks = row.get("shoe_masks") or ([row.get("shoe_mask")] if row.get("shoe_mask") else [])
            for j, p in enumerate(t.persons):
                p["mask"] = masks[j] if j < len(masks) else None
                q = qc[j] if j < len(qc) and isinstance(qc[j], dict) and "feet" in qc[j] else {}
                p["reason"] = q.get("reason") or _foot_reasons(q.get("feet", []))
        if row["status"] != parts.KEPT:
            return t
    t.kept = True
    return t


def _foot_reasons(feet: list[dict[str, Any]]) -> str | None:
    bad = [f"{f.get('side', '?')}: {f['reason']}" for f in feet if f.get("reason")]
    return "; ".join(bad) or None


def choose(tiles: list[Tile], n: int) -> list[Tile]:
    """Up to n tiles, half kept and half dropped when both are there (the rest filled from either)."""
    kept, dropped = [t for t in tiles if t.kept], [t for t in tiles if not t.kept]
    k = min(len(kept), max(n - len(dropped), n // 2))
    return kept[:k] + dropped[: n - k]


def draw_tile(t: Tile, size: int = 320) -> np.ndarray:
    """One photo as a size x (size + caption) RGB tile."""
    import cv2

    try:
        image = decode_rgb(row_image_bytes(t.row))
    except Exception as exc:  # noqa: BLE001 - e.g. a referenced photo changed since ingest: a grey tile saying so
        image, t.kept, t.reason = np.full((size, size, 3), 200, np.uint8), False, str(exc)
    h, w = image.shape[:2]
    s = size / max(h, w)
    canvas = np.full((size + 44, size, 3), 255, np.uint8)
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    canvas[: small.shape[0], : small.shape[1]] = small
    for b in t.boxes:
        cv2.rectangle(canvas, _p(b[:2], s), _p(b[2:4], s), (120, 120, 255), 1)
    for p in t.persons:
        if p["mask"] is not None:
            m = decode_rgb(p["mask"])[..., 0] > 127
            m = cv2.resize(m.astype(np.uint8), (small.shape[1], small.shape[0]), interpolation=cv2.INTER_NEAREST)
            contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(canvas, contours, -1, (0, 220, 0), 2)
        k = p["keypoints"]
        for (a, b), colour in zip(SKELETON, SKELETON_COLORS):
            if k[a, 2] > 0 and k[b, 2] > 0:
                cv2.line(canvas, _p(k[a, :2], s), _p(k[b, :2], s), colour, 1)
        for x, y, v in k:
            if v > 0:
                cv2.circle(canvas, _p((x, y), s), 2, (255, 0, 0), -1)
        if p["mask"] is None and p["reason"]:
            cv2.putText(canvas, "x", _p(p["box"][:2], s), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (220, 0, 0), 2)
    for d in t.dropped:  # a person dropped inside the photo: its box in red, with why
        x1, y1 = _p(d["box"][:2], s)
        cv2.rectangle(canvas, (x1, y1), _p(d["box"][2:4], s), (220, 0, 0), 1)
        cv2.putText(canvas, f"p{d['person']}", (x1 + 2, y1 + 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (220, 0, 0), 1)
    status = "KEPT" if t.kept else f"DROPPED at {t.stage}"
    reasons = [t.reason] if (t.reason and not t.kept) else []
    reasons += [p["reason"] for p in t.persons if p["mask"] is None and p["reason"]]
    seen = {p["reason"] for p in t.persons if p["mask"] is None}
    reasons += [f"p{d['person']} {d['stage']}: {d['reason']}" for d in t.dropped
                if d["stage"] != "segment" or d["reason"] not in seen]
    cv2.putText(canvas, f"{status}  {Path(t.source_uri).name}"[:48], (3, size + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                (0, 140, 0) if t.kept else (200, 0, 0), 1)
    text = "; ".join(r for r in reasons if r)
    for i, line in enumerate((text[:52], text[52:104])):
        if line:
            cv2.putText(canvas, line, (3, size + 28 + 13 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.34, (60, 60, 60), 1)
    return canvas


def _p(xy: Any, s: float) -> tuple[int, int]:
    return int(round(float(xy[0]) * s)), int(round(float(xy[1]) * s))


def contact_sheet(work_dir: str | Path, out_png: str | Path, n: int = 32, columns: int = 8, size: int = 320) -> dict[str, int]:
    """Write the sheet of up to n photos of a run; returns how many kept / dropped it drew and there are."""
    from PIL import Image

    tiles = collect(work_dir)
    chosen = choose(tiles, n)
    if not chosen:
        raise ValueError(f"no ingested photos in {work_dir}")
    drawn = [draw_tile(t, size) for t in chosen]
    cols = min(columns, len(drawn))
    rows = -(-len(drawn) // cols)
    sheet = np.full((rows * drawn[0].shape[0], cols * size, 3), 255, np.uint8)
    for i, d in enumerate(drawn):
        r, c = divmod(i, cols)
        sheet[r * d.shape[0]: (r + 1) * d.shape[0], c * size: (c + 1) * size] = d
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(out)
    return {"kept_drawn": sum(t.kept for t in chosen), "dropped_drawn": sum(not t.kept for t in chosen),
            "kept": sum(t.kept for t in tiles), "dropped": sum(not t.kept for t in tiles)}
