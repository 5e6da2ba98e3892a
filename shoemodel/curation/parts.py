"""Intermediate tables between curation stages: numbered Parquet parts, atomic, resumable.

Part k of every stage holds the rows that came from part k of ingest, so a stage joins its
inputs part by part (by source_uri) without a global index, and one task = one part. A part
file is renamed into place only when complete: after a crash, rerunning a stage redoes just
the missing parts. Every input row yields exactly one output row whose `status` is kept,
dropped or failed, with a reason, so nothing is ever silently lost and the summary is exact.

Resume is keyed per part, on content: each part's Parquet footer holds its fingerprint, which
chains the fingerprint of the upstream part it was made from (ingest's covers the content hashes
of its files) with the stage's settings. A part is trusted only when its footer reads back and
its fingerprint is the one expected now, so a changed photo redoes exactly its part in every
stage, new photos become new parts, and settings that change only speed (`SPEED_KEYS`) redo nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
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


FP_KEY = b"shoemodel.part_fingerprint"
COUNTS_KEY = b"shoemodel.part_counts"  # {status: {reason head: n}}: a summary without reading the rows
#: Settings that change how fast a stage runs, never what it writes: left out of every fingerprint.
SPEED_KEYS = frozenset({"batch_size", "workers", "num_workers", "n_workers", "device", "dtype", "progress",
                        "prefetch", "threads", "loader_threads", "executor"})
#: How many parts each stage made in this process's last run (the rest were kept): for logs and tests.
run_counts: dict[str, int] = {}
_PART_RE = re.compile(r"^part-(\d+)\.parquet$")


def part_name(index: int) -> str:
    """`part-000012.parquet`: zero-padded for sorting, but read back by parsing, so any width works."""
    return f"part-{index:06d}.parquet"


def part_indices(stage_dir: str | Path) -> list[int]:
    """Indices of the complete parts of a stage, in order."""
    found = {}
    for p in (Path(stage_dir) / PART_DIR).glob("part-*.parquet"):
        m = _PART_RE.match(p.name)
        if m:
            found.setdefault(int(m.group(1)), p)
    return sorted(found)


def part_path(stage_dir: str | Path, index: int) -> Path:
    """The file of part `index` (an older 5-digit name is still found)."""
    d = Path(stage_dir) / PART_DIR
    p = d / part_name(index)
    if not p.exists() and index < 100000:
        old = d / f"part-{index:05d}.parquet"
        if old.exists():
            return old
    return p


def write_part(stage_dir: str | Path, index: int, rows: list[dict[str, Any]], schema: pa.Schema,
               fingerprint: str | None = None, *, ledger_rows: list[dict[str, Any]] | None = None) -> Path:
    """Write one part atomically (a crash leaves either the whole part or nothing); its fingerprint goes in the footer.

    Its ledger part (`ledger_rows`, default: one row per photo from the rows' status and reason) is written
    first with the same fingerprint: a crash between the two leaves a ledger part whose stage part is missing,
    so the part is redone (`part_fingerprint` trusts a part only with its ledger part)."""
    from shoemodel.curation import ledger

    final = Path(stage_dir) / PART_DIR / part_name(index)
    if ledger_rows is None:
        ledger_rows = ledger.photo_entries(Path(stage_dir).name, rows)
    ledger.write_ledger_part(stage_dir, index, ledger_rows, fingerprint)
    meta = {**(schema.metadata or {}), COUNTS_KEY: json.dumps(_counts(rows), sort_keys=True).encode()}
    if fingerprint is not None:
        meta[FP_KEY] = fingerprint.encode()
    schema = schema.with_metadata(meta)
    with atomic_path(final) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), tmp, compression="zstd")
    for stale in (Path(stage_dir) / PART_DIR).glob(f"part-*{index}.parquet"):  # an older-width name of the same index
        m = _PART_RE.match(stale.name)
        if m and int(m.group(1)) == index and stale != final:
            stale.unlink(missing_ok=True)
    return final


def part_fingerprint(stage_dir: str | Path, index: int, *, check_ledger: bool = True) -> str | None:
    """The fingerprint in a part's footer; None when the part is missing or damaged, or its ledger part is missing
    or was made for another fingerprint (then it is redone). `check_ledger=False`: the part's content fingerprint
    alone, for a reader that only keys on it (its own stage decides whether the part is redone).

    A sound part written without one (by an older version, or by hand) is keyed on its file's SHA-256."""
    from shoemodel.curation.ledger import has_ledger, ledger_fingerprint

    path = part_path(stage_dir, index)
    try:
        meta = pq.read_schema(path).metadata or {}
        fp = meta.get(FP_KEY)
        if fp:
            return fp.decode() if not check_ledger or ledger_fingerprint(stage_dir, index) == fp.decode() else None
        if check_ledger and not has_ledger(stage_dir, index):
            return None
        from shoemodel.store.manifest import file_sha256

        return "file-" + file_sha256(path)[:16]
    except (OSError, pa.ArrowException):
        return None


def settings_of(cfg: Any) -> dict[str, Any]:
    """A stage's settings that change its output (its dataclass fields less `SPEED_KEYS`)."""
    d = cfg if isinstance(cfg, dict) else dict(vars(cfg))
    return {k: settings_of(v) if hasattr(v, "__dataclass_fields__") else v for k, v in d.items() if k not in SPEED_KEYS}


def read_part(stage_dir: str | Path, index: int, columns: list[str] | None = None,
              missing_ok: bool = False) -> list[dict[str, Any]]:
    """All rows of one part as dicts (a part is bounded by part_size, so this is small). `missing_ok`: columns
    an older part lacks are left out of its rows instead of failing the read."""
    path = part_path(stage_dir, index)
    if missing_ok and columns is not None:
        names = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in names]
    return pq.read_table(path, columns=columns).to_pylist()


def fingerprint_of(obj: Any) -> str:
    """A short stable hash of a JSON-able description of inputs and settings."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def prepare_stage_dir(stage_dir: str | Path, fingerprint: str) -> None:
    """Make the stage folder and note the settings fingerprint (for provenance); parts are judged one by one."""
    d = Path(stage_dir)
    fp = d / FINGERPRINT
    (d / PART_DIR).mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(d / PART_DIR)
    remove_stale_temporaries(d / "ledger")
    if not fp.exists() or json.loads(fp.read_text() or "{}").get("fingerprint") != fingerprint:
        atomic_write_text(fp, json.dumps({"fingerprint": fingerprint}))


def remove_parts_except(stage_dir: str | Path, keep: Iterable[int]) -> int:
    """Delete parts whose index is not in `keep` (their upstream part is gone); returns how many."""
    keep = set(keep)
    n = 0
    for index in part_indices(stage_dir):
        if index not in keep:
            part_path(stage_dir, index).unlink(missing_ok=True)
            n += 1
    from shoemodel.curation.ledger import remove_ledger_parts_except

    remove_ledger_parts_except(stage_dir, keep)
    return n


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


def _counts(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, Counter] = {}
    for r in rows:
        out.setdefault(r["status"], Counter())[reason_key(r["reason"]) if r["status"] != KEPT else ""] += 1
    return {k: dict(v) for k, v in out.items()}


def part_counts(stage_dir: str | Path, index: int) -> dict[str, dict[str, int]]:
    """Status -> reason head -> rows of one part, from its footer (or its rows, for a part written without it)."""
    meta = pq.read_schema(part_path(stage_dir, index)).metadata or {}
    if COUNTS_KEY in meta:
        return json.loads(meta[COUNTS_KEY])
    return _counts(read_part(stage_dir, index, ["status", "reason"]))


def summarize(stage: str, stage_dir: str | Path, skip_status: Iterable[str] = ("skipped",)) -> StageSummary:
    """Count statuses over all parts (from their footers) and write summary.json."""
    s = StageSummary(stage)
    dropped: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    skip = set(skip_status)
    for index in part_indices(stage_dir):
        for status, by_reason in part_counts(stage_dir, index).items():
            if status in skip:
                continue
            n = sum(by_reason.values())
            s.inputs += n
            if status == KEPT:
                s.kept += n
            else:
                (dropped if status == DROPPED else failed).update(by_reason)
    s.dropped, s.failed = dict(sorted(dropped.items())), dict(sorted(failed.items()))
    return s


def write_summary(stage_dir: str | Path, summary: StageSummary) -> None:
    """Write summary.json (left alone when it already says the same: a no-op run writes nothing)."""
    text = json.dumps(summary.to_dict(), indent=2) + "\n"
    p = Path(stage_dir) / SUMMARY
    if not (p.exists() and p.read_text() == text):
        atomic_write_text(p, text)


def run_parts(tasks: Iterable[tuple[int, Any]], fn: Callable[[tuple[int, Any]], tuple[int, Counter]], stage_dir: str | Path,
              *, executor: Any, resources: dict[str, float] | None, total: int | None, desc: str, progress: bool = True,
              is_done: Callable[[int, Any], bool] | None = None) -> int:
    """Run `fn` on every (index, payload) whose part is not done yet, with a progress bar; returns how many ran.

    `fn` writes its part itself (on whatever worker runs it) and returns (index, status counts).
    `is_done(index, payload)` says whether the part on disk can be kept (default: the file exists).
    """
    done = is_done or (lambda index, _payload: part_path(stage_dir, index).exists())
    from shoemodel.parallel import InlineExecutor

    executor = executor or InlineExecutor()
    counts: Counter[str] = Counter()
    bar = tqdm(total=total, desc=desc, unit="part", disable=not progress)

    def pending() -> Iterator[tuple[int, Any]]:
        for index, payload in tasks:
            if done(index, payload):
                bar.update(1)
                continue
            yield index, payload

    ran = 0
    for _index, c in executor.map_unordered(fn, pending(), resources=resources):
        counts.update(c)
        ran += 1
        bar.update(1)
        bar.set_postfix(kept=counts[KEPT], dropped=counts[DROPPED], failed=counts[FAILED])
    bar.close()
    return ran


def row(source_uri: str, content_hash: str | None, status: str, reason: str | None = None, **cols: Any) -> dict[str, Any]:
    """One stage-table row."""
    return {"source_uri": source_uri, "content_hash": content_hash, "status": status, "reason": reason, **cols}
