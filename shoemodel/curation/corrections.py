"""The review corrections table: a person's fix of a curated shoe-leg record, applied by every `curate build`.

One JSON line per reviewed person, keyed by the photo's content hash and the person (its detect-box index,
the `-p<k>` of the record id), sorted by that key so the git-tracked file diffs line by line. A line holds the
decision (keep / reject) and, for keep, the 12 keypoints (x, y, score in pixels of the upright photo) and the
left and right shoe masks (PNG, base64). `build` applies the table to the rows curation kept on every run, so a
re-curation (other settings, other models) never undoes a fix: a kept person gets the reviewed points and
pixels, a rejected one leaves the set as a recorded drop `rejected in review`, and a person curation dropped
but the reviewer kept comes back from the photo and the correction alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.schemas.keypoints import NUM_KEYPOINTS
from shoemodel.store.atomic import atomic_write_text

KEEP, REJECT = "keep", "reject"
DECISIONS = (KEEP, REJECT)
REJECTED_REASON = "rejected in review"
#: The manifest's provenance.review key counting records a review added (persons curation did not keep).
ADDED_KEY = "added"
Key = tuple[str, int]


class CorrectionsError(ValueError):
    """The corrections table cannot be read (names the file, line and field)."""


@dataclass
class Correction:
    """One reviewed person: the decision and, for keep, the corrected keypoints and shoe masks."""

    content_hash: str
    person: int  # detect-box index of the person in the photo (record id suffix -p<person>, none for 0)
    decision: str  # keep | reject
    width: int
    height: int
    source_uri: str = ""
    keypoints: list[float] | None = None  # 12 x (x, y, score), pixels; missing = 0, 0, 0
    left_mask: str | None = None  # PNG (L, 0/255) as base64; None: no left shoe painted
    right_mask: str | None = None
    person_box: list[float] | None = None  # x1, y1, x2, y2, score: curation's box (a rescued person reuses it)
    review: dict[str, Any] = field(default_factory=dict)  # round, task, annotation, annotators, updated_at

    @property
    def key(self) -> Key:
        return (self.content_hash, self.person)

    def shoe_mask(self) -> np.ndarray:
        """The record's shoe mask: the union of the left and right shoe (bool, height x width)."""
        out = np.zeros((self.height, self.width), bool)
        for name in ("left_mask", "right_mask"):
            m = side_mask(self, name)
            if m is not None:
                out |= m
        return out


def encode_mask(mask: np.ndarray) -> str:
    """A bool mask as base64 PNG (L, 0/255): lossless and a few hundred bytes for a shoe."""
    from shoemodel.schemas.records import encode_png

    return base64.b64encode(encode_png(np.asarray(mask, bool).astype(np.uint8) * 255)).decode("ascii")


def decode_mask(text: str, where: str = "") -> np.ndarray:
    """A base64 PNG mask back to bool."""
    from shoemodel.schemas.records import decode_image

    return decode_image(base64.b64decode(text), "L", "mask", where) > 127


def side_mask(c: Correction, name: str) -> np.ndarray | None:
    text = getattr(c, name)
    return None if not text else decode_mask(text, f"{c.content_hash} person {c.person} {name}")


def check_correction(c: Correction, where: str) -> None:
    """Raise CorrectionsError naming `where` and the field when a correction cannot be applied."""
    if c.decision not in DECISIONS:
        raise CorrectionsError(f"{where}: decision {c.decision!r} is not one of {DECISIONS}")
    if not isinstance(c.person, int) or c.person < 0:
        raise CorrectionsError(f"{where}: person {c.person!r} is not a person index")
    if not c.content_hash:
        raise CorrectionsError(f"{where}: content_hash is empty")
    if c.decision == REJECT:
        return
    if c.keypoints is None or len(c.keypoints) != NUM_KEYPOINTS * 3:
        raise CorrectionsError(f"{where}: keypoints must hold {NUM_KEYPOINTS * 3} numbers for a kept person")
    if not c.left_mask and not c.right_mask:
        raise CorrectionsError(f"{where}: a kept person needs a left or right shoe mask")
    for name in ("left_mask", "right_mask"):
        try:
            m = side_mask(c, name)
        except Exception as exc:  # noqa: BLE001 - any decode error names the line
            raise CorrectionsError(f"{where}: {name} is not a base64 PNG ({exc})") from exc
        if m is not None and m.shape != (c.height, c.width):
            raise CorrectionsError(f"{where}: {name} is {m.shape[1]}x{m.shape[0]}, the photo {c.width}x{c.height}")


def load_corrections(path: str | Path | None) -> dict[Key, Correction]:
    """The table at `path` (empty when the path is empty or the file is missing); a bad line is an error naming it."""
    if not path or not Path(path).exists():
        return {}
    table: dict[Key, Correction] = {}
    names = {f for f in Correction.__dataclass_fields__}
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorrectionsError(f"{where}: not JSON ({exc.msg})") from exc
            if not isinstance(data, dict):
                raise CorrectionsError(f"{where}: not a JSON object")
            unknown = sorted(set(data) - names)
            if unknown:
                raise CorrectionsError(f"{where}: unknown field(s) {unknown}")
            try:
                c = Correction(**data)
            except TypeError as exc:
                raise CorrectionsError(f"{where}: {exc}") from exc
            check_correction(c, where)
            table[c.key] = c
    return table


def save_corrections(path: str | Path, table: Mapping[Key, Correction]) -> None:
    """Write the table atomically, one sorted line per person (an unchanged table gives the same bytes)."""
    lines = [json.dumps(asdict(table[k]), sort_keys=True) for k in sorted(table)]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(line + "\n" for line in lines))


def merge_corrections(old: Mapping[Key, Correction], new: Iterable[Correction]) -> dict[Key, Correction]:
    """`old` updated by `new`: per person the later review wins (by its updated_at), entries not reviewed again stay."""
    out = dict(old)
    for c in new:
        prev = out.get(c.key)
        if prev is None or str(c.review.get("updated_at", "")) >= str(prev.review.get("updated_at", "")):
            out[c.key] = c
    return out


def by_content_hash(table: Mapping[Key, Correction]) -> dict[str, list[Correction]]:
    """Corrections grouped by photo."""
    out: dict[str, list[Correction]] = {}
    for c in table.values():
        out.setdefault(c.content_hash, []).append(c)
    return out


def digest(corrections: Iterable[Correction]) -> str:
    """A fingerprint of some corrections (order-free): a shard made from them is redone when it changes."""
    lines = sorted(json.dumps(asdict(c), sort_keys=True) for c in corrections)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def review_meta(c: Correction) -> dict[str, Any]:
    """What a record's provenance says about its review."""
    return {"decision": c.decision, **c.review}


def apply_to_person(item: dict[str, Any], c: Correction) -> dict[str, Any]:
    """A build item with the correction applied: for keep the reviewed keypoints and shoe mask (PNG 0/255), and
    the review in `review`; a reject is marked there too (the record maker drops it)."""
    from shoemodel.schemas.records import encode_png

    out = {**item, "review": review_meta(c)}
    if c.decision == KEEP:
        out["keypoints"] = [float(v) for v in c.keypoints or []]
        out["shoe_mask"] = encode_png(c.shoe_mask().astype(np.uint8) * 255)
    return out


def apply_to_part(items: list[dict[str, Any]], corrections: list[Correction],
                  photo_rows: Any) -> list[dict[str, Any]]:
    """The items of one part with their corrections applied, plus the persons curation did not keep but a reviewer
    did (made from the photo's ingest row, which `photo_rows()` returns only when one is needed)."""
    from shoemodel.curation.persons import person_suffix

    table = {c.key: c for c in corrections}
    out, done = [], set()
    for item in items:
        key = (item["content_hash"], int(item.get("person_index") or 0))
        c = table.get(key)
        out.append(item if c is None else apply_to_person(item, c))
        if c is not None:
            done.add(key)
    rescued = [c for k, c in sorted(table.items()) if k not in done and c.decision == KEEP]
    if rescued:
        photos = {r["content_hash"]: r for r in photo_rows()}
        for c in rescued:
            row = photos.get(c.content_hash)
            if row is None:  # the photo itself is gone from the sources (or a duplicate of another): nothing to build
                continue
            item = {**row, "person_box": list(c.person_box or [0, 0, c.width, c.height, 0]), "mask_qc": "[]",
                    "person_index": c.person, "id_suffix": person_suffix(c.person)}
            out.append(apply_to_person(item, c))
    return out


def corrections_by_part(work_dir: str | Path, indices: Iterable[int],
                        table: Mapping[Key, Correction]) -> dict[int, list[Correction]]:
    """Part index -> the corrections of the photos in that part (ingest's content hashes: one column read per
    part, and only when the table is not empty)."""
    if not table:
        return {}
    from shoemodel.curation import parts
    from shoemodel.curation.stage_io import INGEST, stage_dir

    grouped = by_content_hash(table)
    out: dict[int, list[Correction]] = {}
    for i in indices:
        rows = parts.read_part(stage_dir(work_dir, INGEST), i, ["content_hash", "status"])
        hashes = {r["content_hash"] for r in rows if r["status"] == parts.KEPT}
        found = [c for h in sorted(hashes & set(grouped)) for c in grouped[h]]
        if found:
            out[i] = found
    return out


def added_in_review(work_dir: str | Path, by_part: Mapping[int, list[Correction]]) -> int:
    """How many records the build makes that curation did not keep: kept corrections of persons the segment stage
    did not keep (the ledger counts them apart, so its funnel still adds up)."""
    from shoemodel.curation import parts
    from shoemodel.curation.stage_io import stage_dir

    added = 0
    for i, found in by_part.items():
        kept: set[Key] = set()
        for r in parts.read_part(stage_dir(work_dir, "segment"), i, ["content_hash", "status", "mask_qc"]):
            if r["status"] != parts.KEPT:
                continue
            qc = json.loads(r.get("mask_qc") or "[]")
            persons = [q for q in qc if isinstance(q, dict) and "person" in q]
            if not persons:  # a one-person row of the older shape
                kept.add((r["content_hash"], 0))
            kept |= {(r["content_hash"], int(q["person"])) for q in persons if q.get("ok")}
        added += sum(1 for c in found if c.decision == KEEP and c.key not in kept)
    return added
