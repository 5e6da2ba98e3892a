"""The curation ledger: every decision on record, one row per input file and per detected person at every stage.

Why: a set built from millions of photos must answer "why is this photo not in the set?" and "which records
should a person look at?". Each stage part (`parts.write_part`) writes its ledger part beside it in
`<stage>/ledger/part-k.parquet`, first, with the stage part's fingerprint in the footer: the stage part is
trusted only when its ledger part carries the same fingerprint (`parts.part_fingerprint`), so the ledger is
crash-safe, resumable and incremental exactly like the parts. The footer also holds the part's counts
(photos and persons, outcome -> reason -> n), so the totals of a run are summed from footers, never by
loading rows. ingest's duplicate pass is applied when reading (from `duplicates.json`); build's records and
failures come from the set's shards (`build_entries`).

A row: source_uri, content_hash, stage, part, person (null: the photo itself; else the person's index, the
record id's `-p<k>`), box (x1, y1, x2, y2, score), outcome (kept / dropped / failed), reason (a short code,
numbers stripped), detail (the full reason), value and threshold (the numbers behind the decision, where the
decision compared one), quality (the stage row's `quality` score when it has one) and qc (JSON: the QC numbers).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from shoemodel.store.atomic import atomic_path

LEDGER_DIR = "ledger"
TOTALS = "ledger.json"
KEPT, DROPPED, FAILED = "kept", "dropped", "failed"
OUTCOMES = (KEPT, DROPPED, FAILED)
PHOTOS, PERSONS = "photos", "persons"
#: Side-channel keys a stage's row function may add to its output rows (not columns of the stage table):
#: the per-person verdicts the ledger records (detect: every detected box; pose: one reason or None per box).
PERSON_VERDICTS = "ledger_persons"
PERSON_REASONS = "ledger_person_reasons"
SIDE_KEYS = (PERSON_VERDICTS, PERSON_REASONS)

LEDGER_SCHEMA = pa.schema([
    pa.field("source_uri", pa.string(), nullable=False),
    pa.field("content_hash", pa.string()),
    pa.field("stage", pa.string(), nullable=False),
    pa.field("part", pa.int32()),
    pa.field("person", pa.int32()),  # null: the photo's own row
    pa.field("box", pa.list_(pa.float32())),  # x1, y1, x2, y2, score
    pa.field("outcome", pa.string(), nullable=False),
    pa.field("reason", pa.string()),  # code: the reason's head, numbers left out
    pa.field("detail", pa.string()),  # the full reason as the stage wrote it
    pa.field("value", pa.float64()),  # the measured number the decision compared ...
    pa.field("threshold", pa.float64()),  # ... with this setting
    pa.field("quality", pa.float64()),  # the record's quality score (when the stage row has one)
    pa.field("qc", pa.string()),  # JSON: QC numbers (box score, keypoint scores, per-foot mask QC)
])
FP_KEY = b"shoemodel.part_fingerprint"
COUNTS_KEY = b"shoemodel.ledger_counts"  # {"photos"|"persons": {outcome: {reason: n}}}


class LedgerMismatch(RuntimeError):
    """The counts of a run do not add up (a stage's input is not its upstream stage's kept rows)."""


# ---------------------------------------------------------------- reasons and numbers

_NUM = r"(-?\d+(?:\.\d+)?(?:e-?\d+)?)"
#: reason text -> (value, threshold) for reasons that print both (ingest sizes, "a < b" style counts)
_PATTERNS = [
    (re.compile(rf"{_NUM} bytes > {_NUM}"), lambda m: (float(m[1]), float(m[2]))),
    (re.compile(rf"(\d+)x(\d+) pixels > {_NUM}"), lambda m: (float(m[1]) * float(m[2]), float(m[3]))),
    (re.compile(rf"(\d+)x(\d+), min side {_NUM}"), lambda m: (float(min(int(m[1]), int(m[2]))), float(m[3]))),
    (re.compile(rf"\({_NUM} > {_NUM}\)"), lambda m: (float(m[1]), float(m[2]))),
    (re.compile(rf":\s*{_NUM} [<>] {_NUM}"), lambda m: (float(m[1]), float(m[2]))),
]
#: mask QC reason head -> (its number in the foot's QC stats, the segment setting it is compared with)
MASK_QC = {"mask fills its prompt box": ("box_fill", "max_box_fill"), "speck": ("foot_area_ratio", "min_foot_area_ratio"),
           "thin": ("thickness_ratio", "min_thickness_ratio"), "mask has N components": ("components", "max_components"),
           "mask covers the other foot": ("other_foot_frac", "max_other_foot_frac"),
           "mask mostly above the ankle": ("above_ankle_frac", "max_above_ankle_frac"),
           "mask covers the calf": ("leg_overlap", "max_leg_overlap")}
#: pose reason head -> the pose setting it is compared with (its value is in the text)
POSE_LIMITS = {"leg length": ("min_leg_frac", "max_leg_frac"), "foot length": ("max_foot_frac", "max_foot_calf_ratio")}


def reason_code(reason: str | None) -> str | None:
    """A short, countable code for a reason: its head (before ':' or '('), digits as N; mask QC keeps its sub-reason."""
    if not reason:
        return None
    head, _, rest = reason.partition(":")
    if head.strip() == "mask qc" and rest.strip():
        return "mask qc: " + (reason_code(rest.strip()) or "")
    head = head.split("(")[0].strip()
    return re.sub(r"\d+(\.\d+)?", "N", head) or "unknown"


def reason_numbers(reason: str | None) -> tuple[float | None, float | None]:
    """(value, threshold) printed in a reason's text, or (None, None)."""
    for pat, fn in _PATTERNS:
        m = pat.search(reason or "")
        if m:
            return fn(m)
    return None, None


def _f(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def entry(uri: str, content_hash: str | None, stage: str, outcome: str, reason: str | None = None,
          person: int | None = None, box: Sequence[float] | None = None, value: Any = None, threshold: Any = None,
          quality: Any = None, qc: Any = None) -> dict[str, Any]:
    """One ledger row (numbers printed in the reason fill value/threshold when not given)."""
    if value is None and threshold is None and outcome != KEPT:
        value, threshold = reason_numbers(reason)
    return {"source_uri": uri, "content_hash": content_hash, "stage": stage, "part": None, "person": person,
            "box": None if box is None else [float(v) for v in box], "outcome": outcome,
            "reason": reason_code(reason) if outcome != KEPT else None, "detail": reason if outcome != KEPT else None,
            "value": _f(value), "threshold": _f(threshold), "quality": _f(quality),
            "qc": None if qc is None else json.dumps(qc, sort_keys=True, default=_json_default)}


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


# ---------------------------------------------------------------- per stage: stage rows -> ledger rows

def photo_entries(stage: str, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The photo rows of a stage part, from its rows' status and reason (ingest, and any stage without persons)."""
    return [entry(r["source_uri"], r.get("content_hash"), stage, r["status"], r.get("reason"), quality=_scalar_quality(r))
            for r in rows]


def _scalar_quality(r: dict[str, Any]) -> Any:
    q = r.get("quality")
    return q if isinstance(q, (int, float)) else None


def _qc_quality(q: dict[str, Any], r: dict[str, Any], j: int) -> Any:
    """A segment person's quality: the score its mask QC entry carries (segment.masks_to_result), else the row's."""
    value = q.get("quality")
    return value if isinstance(value, (int, float)) else _person_quality(r, j)


def _person_quality(r: dict[str, Any], j: int) -> Any:
    q = r.get("quality")
    if isinstance(q, (list, tuple)):
        return q[j] if j < len(q) else None
    return _scalar_quality(r)


def detect_entries(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], cfg: Any) -> list[dict[str, Any]]:
    """detect: the photo, then every box the detector found with its verdict (`detect.person_verdicts`)."""
    out = []
    for r in outputs:
        verdicts = r.get(PERSON_VERDICTS) or []
        best = max(verdicts, key=lambda v: v.get("level", 0), default=None)
        value, threshold = (best.get("value"), best.get("threshold")) if best and r["status"] == DROPPED else (None, None)
        if r["status"] == DROPPED and not verdicts:
            value, threshold = 0, None  # no box at all
        out.append(entry(r["source_uri"], r.get("content_hash"), "detect", r["status"], r.get("reason"),
                         value=value, threshold=threshold, qc={"num_persons": r.get("num_persons")}))
        for v in verdicts:
            out.append(entry(r["source_uri"], r.get("content_hash"), "detect", v["outcome"], v.get("reason"),
                             person=v["person"], box=v["box"], value=v.get("value"), threshold=v.get("threshold"),
                             qc={"score": v["box"][4]}))
    return out


def pose_entries(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], cfg: Any) -> list[dict[str, Any]]:
    """pose: the photo, then each person detect kept (box index = person), kept or dropped with its own reason."""
    by_uri = {r["source_uri"]: r for r in inputs}
    out = []
    for r in outputs:
        src = by_uri.get(r["source_uri"], {})
        boxes = np.asarray(src.get("boxes") or [], np.float32).reshape(-1, 5)
        reasons = r.get(PERSON_REASONS)
        out.append(entry(r["source_uri"], r.get("content_hash"), "pose", r["status"], r.get("reason"),
                         **_pose_numbers(r.get("reason"), cfg)))
        kept = list(r.get("person_index") or [])
        ks = np.asarray(r.get("keypoints") or [], np.float32).reshape(-1, 12, 3)
        for j, box in enumerate(boxes):
            if r["status"] == FAILED:
                outcome, reason = FAILED, r.get("reason")
            elif reasons is not None and j < len(reasons):
                outcome, reason = (KEPT, None) if reasons[j] is None else (DROPPED, reasons[j])
            else:  # a row read back without its verdicts: kept persons are those it holds
                outcome, reason = (KEPT, None) if j in kept else (DROPPED, r.get("reason"))
            qc = None
            if outcome == KEPT and j in kept:
                k = ks[kept.index(j)]
                qc = {"keypoint_score": round(float(k[k[:, 2] > 0, 2].mean()) if (k[:, 2] > 0).any() else 0.0, 4),
                      "keypoints_present": int((k[:, 2] > 0).sum())}
            out.append(entry(r["source_uri"], r.get("content_hash"), "pose", outcome, reason, person=j, box=box,
                             qc=qc, **(_pose_numbers(reason, cfg) if outcome == DROPPED else {})))
    return out


def _pose_numbers(reason: str | None, cfg: Any) -> dict[str, Any]:
    """value/threshold of a pose reason: bone ratios are printed, their limits are the pose settings."""
    code = reason_code(reason)
    if code not in POSE_LIMITS or cfg is None:
        return {}
    value, _ = reason_numbers(reason)
    m = re.search(rf"{_NUM} (?:of box height|x the calf)", reason or "")
    value = float(m[1]) if m else value
    lo_key, hi_key = POSE_LIMITS[code]
    if code == "foot length":
        key = hi_key if "calf" in (reason or "") else lo_key
        return {"value": value, "threshold": getattr(cfg, key, None)}
    lo, hi = getattr(cfg, lo_key, None), getattr(cfg, hi_key, None)
    return {"value": value, "threshold": lo if value is not None and lo is not None and value < lo else hi}


def segment_entries(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], cfg: Any) -> list[dict[str, Any]]:
    """segment: the photo, then each person pose kept: kept when its masks passed QC, else the first failing
    foot's reason with that foot's number and the setting it broke; qc holds every foot's numbers."""
    by_uri = {r["source_uri"]: r for r in inputs}
    out = []
    for r in outputs:
        src = by_uri.get(r["source_uri"], {})
        index = list(src.get("person_index") or range(len(np.asarray(src.get("keypoints") or []).reshape(-1, 36))))
        boxes = np.asarray(src.get("person_box") or [], np.float32).reshape(-1, 5)
        qc = json.loads(r.get("mask_qc") or "[]") if r["status"] != FAILED else []
        photo_numbers = {}
        persons = []
        for j, person in enumerate(index):
            q = qc[j] if j < len(qc) and isinstance(qc[j], dict) else {}
            box = boxes[j] if j < len(boxes) else None
            if r["status"] == FAILED:
                outcome, reason, numbers = FAILED, r.get("reason"), {}
            elif q.get("ok", r["status"] == KEPT and not qc):
                outcome, reason, numbers = KEPT, None, {}
            else:
                outcome, reason = DROPPED, q.get("reason") or r.get("reason")
                numbers = _mask_numbers(reason, q.get("feet") or [], cfg)
                photo_numbers = photo_numbers or numbers
            persons.append(entry(r["source_uri"], r.get("content_hash"), "segment", outcome, reason, person=int(person),
                                 box=box, quality=_qc_quality(q, r, j), qc=q.get("feet"), **numbers))
        out.append(entry(r["source_uri"], r.get("content_hash"), "segment", r["status"], r.get("reason"),
                         quality=_scalar_quality(r), **(photo_numbers if r["status"] == DROPPED else {})))
        out += persons
    return out


def _mask_numbers(reason: str | None, feet: list[dict[str, Any]], cfg: Any) -> dict[str, Any]:
    """The failing foot's number and the setting it broke, for a `mask qc: ...` reason."""
    code = (reason_code(reason) or "").removeprefix("mask qc: ")
    if code not in MASK_QC:
        return {}
    stat, setting = MASK_QC[code]
    foot = next((f for f in feet if not f.get("ok", True) and reason_code(f.get("reason")) == code), None)
    value = foot.get(stat) if foot else None
    return {"value": value, "threshold": getattr(cfg, setting, None) if cfg is not None else None}


STAGE_ENTRIES = {"detect": detect_entries, "pose": pose_entries, "segment": segment_entries}


def entries(stage: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], cfg: Any = None) -> list[dict[str, Any]]:
    """The ledger rows of one stage part from the rows it read and the rows it wrote."""
    fn = STAGE_ENTRIES.get(stage)
    return fn(inputs, outputs, cfg) if fn else photo_entries(stage, outputs)


# ---------------------------------------------------------------- parts on disk

def ledger_path(stage_dir: str | Path, index: int) -> Path:
    from shoemodel.curation.parts import part_name

    return Path(stage_dir) / LEDGER_DIR / part_name(index)


def counts_of(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """{"photos"|"persons": {outcome: {reason code ('' when kept): n}}}."""
    out: dict[str, dict[str, Counter]] = {PHOTOS: {}, PERSONS: {}}
    for r in rows:
        kind = PHOTOS if r["person"] is None else PERSONS
        out[kind].setdefault(r["outcome"], Counter())[r["reason"] or ""] += 1
    return {k: {o: dict(c) for o, c in v.items()} for k, v in out.items()}


def write_ledger_part(stage_dir: str | Path, index: int, rows: list[dict[str, Any]], fingerprint: str | None) -> Path:
    """Write part `index` of a stage's ledger atomically; footer: the stage part's fingerprint and the counts."""
    for r in rows:
        r["part"] = index
    meta = {COUNTS_KEY: json.dumps(counts_of(rows), sort_keys=True).encode()}
    if fingerprint is not None:
        meta[FP_KEY] = fingerprint.encode()
    final = ledger_path(stage_dir, index)
    with atomic_path(final) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=LEDGER_SCHEMA.with_metadata(meta)), tmp, compression="zstd")
    return final


def _footer(stage_dir: str | Path, index: int) -> dict[bytes, bytes] | None:
    try:
        return pq.read_schema(ledger_path(stage_dir, index)).metadata or {}
    except (OSError, pa.ArrowException):
        return None


def ledger_fingerprint(stage_dir: str | Path, index: int) -> str | None:
    """The fingerprint in a ledger part's footer; None when it is missing or damaged."""
    meta = _footer(stage_dir, index)
    fp = (meta or {}).get(FP_KEY)
    return fp.decode() if fp else None


def has_ledger(stage_dir: str | Path, index: int) -> bool:
    return ledger_path(stage_dir, index).exists()


def remove_ledger_parts_except(stage_dir: str | Path, keep: Iterable[int]) -> None:
    """Delete the ledger parts whose stage part is gone (and the temporaries a crash left)."""
    from shoemodel.curation.parts import _PART_RE
    from shoemodel.store.atomic import remove_stale_temporaries

    d = Path(stage_dir) / LEDGER_DIR
    if not d.is_dir():
        return
    remove_stale_temporaries(d)
    keep = set(keep)
    for p in d.glob("part-*.parquet"):
        m = _PART_RE.match(p.name)
        if m and int(m.group(1)) not in keep:
            p.unlink(missing_ok=True)


# ---------------------------------------------------------------- totals (footers only)

def _add(into: dict[str, dict[str, int]], counts: dict[str, dict[str, int]]) -> None:
    for outcome, by_reason in counts.items():
        c = into.setdefault(outcome, {})
        for reason, n in by_reason.items():
            c[reason] = c.get(reason, 0) + n


def _finish(raw: dict[str, dict[str, int]]) -> dict[str, Any]:
    kept = sum(raw.get(KEPT, {}).values())
    dropped = dict(sorted(raw.get(DROPPED, {}).items()))
    failed = dict(sorted(raw.get(FAILED, {}).items()))
    return {"in": kept + sum(dropped.values()) + sum(failed.values()), "kept": kept, "dropped": dropped, "failed": failed}


def stage_totals(stage_dir: str | Path) -> dict[str, Any]:
    """Photos and persons of one stage, from its ledger parts' footers (each part read once, no rows)."""
    from shoemodel.curation.parts import part_indices

    raw: dict[str, dict[str, dict[str, int]]] = {PHOTOS: {}, PERSONS: {}}
    missing = []
    for index in part_indices(stage_dir):
        meta = _footer(stage_dir, index)
        if meta is None or COUNTS_KEY not in meta:
            missing.append(index)
            continue
        for kind, counts in json.loads(meta[COUNTS_KEY]).items():
            _add(raw[kind], counts)
    out = {PHOTOS: _finish(raw[PHOTOS])}
    if raw[PERSONS]:  # ingest sees no persons
        out[PERSONS] = _finish(raw[PERSONS])
    if missing:
        out["parts_without_ledger"] = missing
    return out


def _duplicates(ingest_dir: Path) -> list[list]:
    p = ingest_dir / "duplicates.json"
    return json.loads(p.read_text()) if p.exists() else []


def totals(work_dir: str | Path, stages: Sequence[str], manifest: Any = None) -> dict[str, Any]:
    """Per stage (in run order), photos and persons: in, kept, dropped and failed by reason. ingest's duplicates
    are moved from kept to dropped ("duplicate"); build's persons are the set's records and failures."""
    from shoemodel.curation.stage_io import stage_dir

    out: dict[str, Any] = {}
    for name in stages:
        d = stage_dir(work_dir, name)
        if name == "build":
            if manifest is not None:
                out[name] = build_totals(manifest)
            continue
        if not (d / LEDGER_DIR).is_dir():
            continue
        t = stage_totals(d)
        if name == "ingest":
            n = len(_duplicates(d))
            if n:
                t[PHOTOS]["kept"] -= n
                t[PHOTOS]["dropped"] = dict(sorted({**t[PHOTOS]["dropped"], "duplicate": n}.items()))
        out[name] = t
    return out


def build_totals(manifest: Any) -> dict[str, Any]:
    """build's persons: each person segment kept becomes a record, or a failure of the set (by reason head)."""
    dropped = {k.split(": ", 1)[1]: v for k, v in manifest.failures_by_reason.items() if k.startswith("dropped")}
    failed = {k.split(": ", 1)[1]: v for k, v in manifest.failures_by_reason.items() if k.startswith("failed")}
    # persons a review kept that curation did not (shoemodel.curation.corrections) are records, but no stage's output
    added = int(((manifest.provenance or {}).get("review") or {}).get("added", 0))
    out = {PERSONS: {"in": manifest.num_records + manifest.num_failures - added, "kept": manifest.num_records - added,
                     "dropped": dropped, "failed": failed}}
    if added:
        out[PERSONS]["added_in_review"] = added
    return out


def check(counts: dict[str, Any], upstream: dict[str, str | None], known: dict[str, Any] | None = None) -> list[str]:
    """What does not add up: each stage's photos (and persons) in must be its upstream stage's kept ones, and in =
    kept + dropped + failed. `upstream` maps a stage to the one whose kept rows it reads; `known`: the counts of
    every stage (default `counts`), upstream ones included. Returns the problems."""
    known = counts if known is None else known
    problems = []
    for name, t in counts.items():
        if t.get("parts_without_ledger"):
            problems.append(f"{name}: parts without a ledger part: {t['parts_without_ledger'][:5]}")
        for kind in (PHOTOS, PERSONS):
            c = t.get(kind)
            if c is None:
                continue
            total = c["kept"] + sum(c["dropped"].values()) + sum(c["failed"].values())
            if total != c["in"]:
                problems.append(f"{name} {kind}: in {c['in']} != kept {c['kept']} + dropped + failed ({total})")
            up = upstream.get(name)
            if up is None or up not in known or kind not in known[up]:
                continue
            if kind == PERSONS and name == "detect":
                continue  # detect finds the persons: they have no upstream
            if known[up][kind]["kept"] != c["in"]:
                problems.append(f"{name} {kind}: in {c['in']} != {up} kept {known[up][kind]['kept']}")
    return problems


def finish_run(work_dir: str | Path, ran: Sequence[str], upstream: dict[str, str | None],
               manifest: Any = None) -> dict[str, Any]:
    """Sum the ledger of the stages that ran (and the stages they read), check it adds up (LedgerMismatch naming
    what does not) and write work_dir/ledger.json. A stage that did not run may be stale (its upstream changed
    since): it is neither counted nor checked."""
    from shoemodel.store.atomic import atomic_write_text

    order = list(upstream)
    wanted = set(ran) | {upstream[s] for s in ran if upstream.get(s)}
    counts = totals(work_dir, [s for s in order if s in wanted], manifest)
    problems = check({k: v for k, v in counts.items() if k in ran}, upstream, counts)
    if problems:
        raise LedgerMismatch("curation ledger does not add up: " + "; ".join(problems))
    if manifest is not None:
        manifest.ledger = counts
    text = json.dumps(counts, indent=2, sort_keys=True) + "\n"
    p = Path(work_dir) / TOTALS
    if not (p.exists() and p.read_text() == text):
        atomic_write_text(p, text)
    return counts


# ---------------------------------------------------------------- reading rows (streamed, part by part)

def iter_stage(work_dir: str | Path, stage: str, columns: list[str] | None = None) -> Iterator[list[dict[str, Any]]]:
    """The ledger rows of one stage, one list per part (ingest's duplicates marked dropped as they are read)."""
    from shoemodel.curation.parts import part_indices
    from shoemodel.curation.stage_io import stage_dir

    d = stage_dir(work_dir, stage)
    dups = duplicate_map(d) if stage == "ingest" else {}
    for index in part_indices(d):
        path = ledger_path(d, index)
        if not path.exists():
            continue
        rows = pq.read_table(path, columns=columns).to_pylist()
        if dups:
            for pos, r in enumerate(rows):
                if (index, pos) in dups and r.get("outcome") == KEPT:
                    r.update(outcome=DROPPED, reason="duplicate", detail=f"duplicate: of {dups[(index, pos)]}")
        yield rows


def duplicate_map(ingest_dir: Path) -> dict[tuple[int, int], str]:
    """(part, row in part) -> the URI of the copy kept, for each duplicate ingest's second pass marked."""
    return {(int(x[0]), int(x[1])): _kept_copy(x) for x in _duplicates(Path(ingest_dir))}


def _kept_copy(dup: list) -> str:
    """The URI of the copy a duplicate entry names as kept (its last item, or that item's last)."""
    last = dup[-1]
    return str(last[-1] if isinstance(last, list) else last)


def build_entries(work_dir: str | Path, out_root: str | Path) -> Iterator[list[dict[str, Any]]]:
    """build's person rows: every person segment kept, kept when its record is in the set, else its failure."""
    from shoemodel.curation.persons import person_suffix
    from shoemodel.store.writer import iter_failures

    failures = {f.item: f for f in iter_failures(out_root)} if Path(out_root).is_dir() else {}
    for rows in iter_stage(work_dir, "segment"):
        out = []
        for r in rows:
            if r["person"] is None or r["outcome"] != KEPT:
                continue
            f = failures.get(r["source_uri"] + person_suffix(int(r["person"])))
            e = entry(r["source_uri"], r["content_hash"], "build", f.kind if f else KEPT, f.reason if f else None,
                      person=r["person"], box=r["box"], quality=r["quality"])
            e["qc"], e["part"] = r["qc"], r["part"]
            out.append(e)
        yield out
