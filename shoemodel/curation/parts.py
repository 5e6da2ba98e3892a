"""Intermediate tables between curation stages: numbered Parquet parts, atomic, resumable.

Part k of every stage holds the rows that came from part k of ingest, so a stage joins its
inputs part by part (by source_uri) without a global index, and one task = one part. A part
file is renamed into place only when complete: after a crash, rerunning a stage redoes just
the missing parts. Every input row yields exactly one output row whose `status` is kept,
dropped or failed, with a reason, so nothing is ever silently lost and the summary is exact.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from shoemodel.store.atomic import atomic_path, atomic_write_text, remove_stale_temporaries

PART_DIR = "parts"
FINGERPRINT = "fingerprint.json"
SUMMARY = "summary.json"
KEPT, DROPPED, FAILED = "kept", "dropped", "failed"

#: Columns every stage table starts with.
BASE_FIELDS = [
    pa.field("source_uri", pa.string(), nullable=False),
    pa.field("content_hash", pa.string()),
    pa.field("status", pa.string(), nullable=False),
    pa.field("reason", pa.string()),
]


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def part_path(stage_dir: str | Path, index: int) -> Path:
    return Path(stage_dir) / PART_DIR / part_name(index)


def part_indices(stage_dir: str | Path) -> list[int]:
    """Indices of the complete parts of a stage, in order."""
    return sorted(int(p.name[5:10]) for p in (Path(stage_dir) / PART_DIR).glob("part-*.parquet"))


def write_part(stage_dir: str | Path, index: int, rows: list[dict[str, Any]], schema: pa.Schema) -> Path:
    """Write one part atomically (a crash leaves either the whole part or nothing)."""
    final = part_path(stage_dir, index)
    with atomic_path(final) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp, compression="zstd")
    return final


def read_part(stage_dir: str | Path, index: int, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """All rows of one part as dicts (a part is bounded by part_size, so this is small)."""
    return pq.read_table(part_path(stage_dir, index), columns=columns).to_pylist()


def fingerprint_of(obj: Any) -> str:
    """A short stable hash of a JSON-able description of inputs and settings."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_stage_dir(stage_dir: str | Path, fingerprint: str) -> None:
    """Keep finished parts only when they came from the same inputs and settings; else start over."""
    d = Path(stage_dir)
    fp = d / FINGERPRINT
    if fp.exists() and json.loads(fp.read_text()).get("fingerprint") != fingerprint:
        shutil.rmtree(d / PART_DIR, ignore_errors=True)
        (d / SUMMARY).unlink(missing_ok=True)
    (d / PART_DIR).mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(d / PART_DIR)
    atomic_write_text(fp, json.dumps({"fingerprint": fingerprint}))


def read_fingerprint(stage_dir: str | Path) -> str:
    """The fingerprint a finished stage ran under (downstream stages chain it into theirs)."""
    fp = Path(stage_dir) / FINGERPRINT
    if not fp.exists():
        raise FileNotFoundError(f"{stage_dir}: stage output missing (no {FINGERPRINT}); run the previous curation stage first")
    return json.loads(fp.read_text())["fingerprint"]


@dataclass
class StageSummary:
    """What a stage did: kept rows, dropped by reason, failed by reason."""

    stage: str
    inputs: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "inputs": self.inputs, "kept": self.kept, "dropped": self.dropped,
                "failed": self.failed, **({"extra": self.extra} if self.extra else {})}

    def line(self) -> str:
        """One human line, e.g. for the end of a progress bar."""
        d = ", ".join(f"{k} {v}" for k, v in self.dropped.items()) or "none"
        f = ", ".join(f"{k} {v}" for k, v in self.failed.items()) or "none"
        return f"{self.stage}: {self.inputs} in, {self.kept} kept; dropped: {d}; failed: {f}"


def reason_key(reason: str | None) -> str:
    """Group reasons by their head (text before ':'), so counts stay few and readable."""
    return (reason or "unknown").split(":")[0].strip()


def summarize(stage: str, stage_dir: str | Path, skip_status: Iterable[str] = ("skipped",)) -> StageSummary:
    """Count statuses over all parts (reads only two columns) and write summary.json."""
    s = StageSummary(stage)
    dropped: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for index in part_indices(stage_dir):
        for row in read_part(stage_dir, index, ["status", "reason"]):
            if row["status"] in skip_status:
                continue
            s.inputs += 1
            if row["status"] == KEPT:
                s.kept += 1
            elif row["status"] == DROPPED:
                dropped[reason_key(row["reason"])] += 1
            else:
                failed[reason_key(row["reason"])] += 1
    s.dropped, s.failed = dict(sorted(dropped.items())), dict(sorted(failed.items()))
    return s


def write_summary(stage_dir: str | Path, summary: StageSummary) -> None:
    atomic_write_text(Path(stage_dir) / SUMMARY, json.dumps(summary.to_dict(), indent=2) + "\n")


def run_parts(tasks: Iterable[tuple[int, Any]], fn: Callable[[tuple[int, Any]], tuple[int, Counter]], stage_dir: str | Path,
              executor: Any, resources: dict[str, float] | None, total: int | None, desc: str, progress: bool = True) -> None:
    """Run `fn` on every (index, payload) whose part is not done yet, with a progress bar.

    `fn` writes its part itself (on whatever worker runs it) and returns (index, status counts).
    """
    from shoemodel.parallel import InlineExecutor

    executor = executor or InlineExecutor()
    counts: Counter[str] = Counter()
    bar = tqdm(total=total, desc=desc, unit="part", disable=not progress)

    def pending() -> Iterator[tuple[int, Any]]:
        for index, payload in tasks:
            if part_path(stage_dir, index).exists():
                bar.update(1)
                continue
            yield index, payload

    for _index, c in executor.map_unordered(fn, pending(), resources=resources):
        counts.update(c)
        bar.update(1)
        bar.set_postfix(kept=counts[KEPT], dropped=counts[DROPPED], failed=counts[FAILED])
    bar.close()


def row(source_uri: str, content_hash: str | None, status: str, reason: str | None = None, **cols: Any) -> dict[str, Any]:
    """One stage-table row."""
    return {"source_uri": source_uri, "content_hash": content_hash, "status": status, "reason": reason, **cols}
