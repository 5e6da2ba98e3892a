"""Write a set as numbered Parquet shards, atomically and resumably.

Input items are cut into consecutive chunks of `records_per_shard`; chunk k becomes shard k, one file per
split its records fall in (`shards/shard-0000k-train.parquet`, `-val`, `-test`): `datasets` takes a file's
split from its name, so `load_dataset("parquet", data_dir=SET)` gives train / validation / test. The set's
dataset card (store/card.py, README.md) is written with the manifest.
A shard is committed by renaming its finished files into place, then its sidecar (the list of its
files and its failures) last, so after a crash every shard with a sidecar is complete, and a rerun with the same input skips them and redoes only the rest: nothing
is duplicated and nothing is lost. Per-item failures are captured in the shard's sidecar, never
raised. A fingerprint of the input and config guards against resuming onto a different run.

With `chunk_fingerprint`, each shard also carries the fingerprint of its own chunk of input (the
caller hashes the content the records are made from), so a changed input redoes exactly its shard
and appended input adds shards while the finished ones stay. Before a finished shard is trusted its
files are verified against its sidecar: size, a readable Parquet footer, and the SHA-256 whenever a
file's mtime is not the one recorded; a damaged shard is redone. The mtimes are kept outside the set
(store.content_cache.cache_dir), so the set's bytes depend only on its input and settings.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from shoemodel.schemas.records import (
    SCHEMA_VERSION,
    SCHEMAS,
    RecordError,
    ValidationOptions,
    is_image_type,
    stored_row,
    validate_record,
)
from shoemodel.store.atomic import atomic_path, atomic_write_text, file_mode, remove_stale_temporaries
from shoemodel.store.card import write_card
from shoemodel.store.content_cache import ContentCache, cache_dir
from shoemodel.store.hf import shard_schema
from shoemodel.store.manifest import SHARD_DIR, Manifest, ShardInfo, file_sha256

FINGERPRINT_NAME = "fingerprint.json"
SHARD_STAMPS = "shards.json"  # in cache_dir(set): size, mtime and SHA-256 of each shard file
ROW_GROUP_SIZE = 64


class Dropped(Exception):
    """Raised by a record maker to drop an item on purpose (filtered, not broken), with a reason."""


@dataclass
class Failure:
    """An input item that produced no record: `kind` is 'failed' (error) or 'dropped' (filtered)."""

    item: str
    kind: str
    reason: str


@dataclass
class ShardResult:
    """What writing (or skipping) one shard produced: a file per split its records fall in, and its failures."""

    index: int
    files: list[ShardInfo]
    failures: list[Failure]
    skipped: bool = False
    mtimes_ns: dict[str, int] = field(default_factory=dict)  # file -> mtime as written (for the stamp cache)

    @property
    def num_records(self) -> int:
        return sum(f.num_records for f in self.files)


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def _sidecar(root: Path, index: int) -> Path:
    return root / SHARD_DIR / f"{shard_name(index)}.json"


def _shard_file(root: Path, index: int, split: str) -> Path:
    return root / SHARD_DIR / f"{shard_name(index)}-{split}.parquet"


def is_complete(root: Path, index: int) -> bool:
    """A shard is complete when its sidecar is in place and every file it lists too."""
    sidecar = _sidecar(root, index)
    if not sidecar.exists():
        return False
    try:
        files = json.loads(sidecar.read_text()).get("files")
    except json.JSONDecodeError:
        return False
    return isinstance(files, list) and all((root / f["file"]).exists() for f in files)


def shard_stamps(root: str | Path) -> ContentCache:
    """The (size, mtime, SHA-256) cache of a set's shard files, outside the set."""
    return ContentCache(cache_dir(root) / SHARD_STAMPS)


def shard_is_sound(root: Path, index: int, data: dict[str, Any], stamps: ContentCache | None = None) -> bool:
    """A finished shard matches its sidecar: for each file its size, footer, and SHA-256 (read again unless `stamps`
    knows the file at its size and mtime)."""
    stamps = stamps if stamps is not None else shard_stamps(root)
    try:
        for f in data["files"]:
            path = root / f["file"]
            st = path.stat()
            if st.st_size != f["num_bytes"]:
                return False
            pq.read_metadata(path)
            if stamps.digest(path) != f["sha256"]:
                return False
        return True
    except (OSError, KeyError, TypeError, pa.ArrowException):
        return False


def make_records(items: Iterable[Any], make_record: Callable[[Any], dict[str, Any]], set_name: str,
                 validation: ValidationOptions, item_key: Callable[[Any], str] = str,
                 expand: Callable[[Any], Iterable[Any]] | None = None) -> Iterator[dict[str, Any] | Failure]:
    """Apply `make_record` to each item (each item's `expand`ed items), validate, and turn every error into a Failure."""
    if expand is not None:
        items = itertools.chain.from_iterable(map(expand, items))
    for item in items:
        key = item_key(item)
        try:
            record = make_record(item)
            validate_record(record, set_name, validation)
        except Dropped as exc:
            yield Failure(key, "dropped", str(exc))
            continue
        except RecordError as exc:
            yield Failure(key, "failed", str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 - any per-item error is recorded, never fatal
            yield Failure(key, "failed", f"{type(exc).__name__}: {exc}")
            continue
        yield record


def write_shard(root: str | Path, set_name: str, index: int, items: list[Any], make_record: Callable[[Any], dict[str, Any]],
                *, validation: ValidationOptions = ValidationOptions(), item_key: Callable[[Any], str] = str,
                fingerprint: str | None = None, expand: Callable[[Any], Iterable[Any]] | None = None) -> ShardResult:
    """Build and commit shard `index` from `items`, a file per split. Pure enough to run on any Dask worker (which,
    with `expand`, reads its own input: the items are then only references, e.g. part numbers)."""
    root = Path(root)
    schema = shard_schema(set_name)
    failures: list[Failure] = []
    with contextlib.ExitStack() as stack:
        tmps: dict[str, Path] = {}
        writers: dict[str, pq.ParquetWriter] = {}
        batches: dict[str, list[dict[str, Any]]] = {}
        counts: Counter[str] = Counter()

        def flush(split: str) -> None:
            if split not in writers:
                tmps[split] = stack.enter_context(atomic_path(_shard_file(root, index, split)))
                writers[split] = pq.ParquetWriter(tmps[split], schema, compression=_compression(schema))
            rows = [stored_row(r, schema) for r in batches[split]]
            writers[split].write_table(pa.Table.from_pylist(rows, schema=schema))
            counts[split] += len(batches[split])
            batches[split] = []

        for out in make_records(items, make_record, set_name, validation, item_key, expand):
            if isinstance(out, Failure):
                failures.append(out)
                continue
            batches.setdefault(out["split"], []).append(out)
            if len(batches[out["split"]]) >= ROW_GROUP_SIZE:
                flush(out["split"])
        for split in sorted(batches):
            if batches[split]:
                flush(split)
        for w in writers.values():
            w.close()
        files, entries, mtimes = [], [], {}
        for split in sorted(writers):
            os.chmod(tmps[split], file_mode())  # before the stat: the mtime recorded is the one the file keeps
            st = tmps[split].stat()
            info = ShardInfo(index, f"{SHARD_DIR}/{_shard_file(root, index, split).name}", counts[split], 0,
                             file_sha256(tmps[split]), st.st_size)
            files.append(info)
            entries.append(asdict(info))
            mtimes[info.file] = st.st_mtime_ns
        _sidecar(root, index).unlink(missing_ok=True)  # never an old sidecar beside the new files
    # the files are renamed into place (leaving the block); the sidecar, the commit mark, comes last
    atomic_write_text(_sidecar(root, index), json.dumps(
        {"index": index, "fingerprint": fingerprint, "schema_version": SCHEMA_VERSION, "files": entries,
         "failures": [asdict(f) for f in failures]}, indent=1))
    return ShardResult(index, files, failures, mtimes_ns=mtimes)


def _compression(schema: pa.Schema) -> dict[str, str]:
    """Encoded images are already compressed: store them as they are and zstd the rest."""
    return {f.name: "NONE" if pa.types.is_binary(f.type) or is_image_type(f.type) else "ZSTD" for f in schema}


def _load_result(root: Path, index: int) -> ShardResult:
    data = json.loads(_sidecar(root, index).read_text())
    files = [ShardInfo(**{k: f[k] for k in ShardInfo.__dataclass_fields__}) for f in data["files"]]
    return ShardResult(index, files, [Failure(**f) for f in data.get("failures", [])], skipped=True)


def _run_chunk(task: tuple[int, list[Any], str | None], root: str, set_name: str, make_record: Callable[[Any], dict[str, Any]],
               validation: ValidationOptions, item_key: Callable[[Any], str],
               expand: Callable[[Any], Iterable[Any]] | None = None) -> ShardResult:
    index, items, fingerprint = task
    return write_shard(root, set_name, index, items, make_record, validation=validation, item_key=item_key,
                       fingerprint=fingerprint, expand=expand)


def _trusted(root: Path, index: int, fingerprint: str | None, stamps: ContentCache | None = None) -> bool:
    """Keep a finished shard only if it is sound, in this schema version's layout (a set of an older one is
    rewritten whole, never mixed), and (when chunks are fingerprinted) made from the same chunk."""
    if not is_complete(root, index):
        return False
    try:
        data = json.loads(_sidecar(root, index).read_text())
    except (OSError, ValueError):
        return False
    return (data.get("schema_version") == SCHEMA_VERSION
            and (fingerprint is None or data.get("fingerprint") == fingerprint) and shard_is_sound(root, index, data, stamps))


def check_fingerprint(root: Path, fingerprint: dict[str, Any] | None) -> None:
    """Wipe old shards when they came from a different input/config; otherwise keep them for resume."""
    path = root / FINGERPRINT_NAME
    if fingerprint is None:
        return
    text = json.dumps(fingerprint, sort_keys=True)
    if path.exists() and path.read_text() == text:
        return
    if path.exists():
        shutil.rmtree(root / SHARD_DIR, ignore_errors=True)
        (root / "manifest.json").unlink(missing_ok=True)
    atomic_write_text(path, text)


def write_set(root: str | Path, set_name: str, items: Iterable[Any], make_record: Callable[[Any], dict[str, Any]], *,
              records_per_shard: int = 256, provenance: dict[str, Any] | None = None, executor: Any = None,
              validation: ValidationOptions = ValidationOptions(), item_key: Callable[[Any], str] = str,
              fingerprint: dict[str, Any] | None = None, resources: dict[str, float] | None = None,
              total: int | None = None, progress: bool = True, desc: str | None = None,
              chunk_fingerprint: Callable[[int, list[Any]], str] | None = None,
              expand: Callable[[Any], Iterable[Any]] | None = None, chunk_size: int | None = None,
              amend: Callable[[Manifest], None] | None = None) -> Manifest:
    """Stream `items` through `make_record` into a sharded set at `root`, resuming if shards exist.

    `make_record` (and `item_key`, `expand`) must be picklable when `executor` is a Dask executor.
    `chunk_fingerprint(index, chunk)` keys each shard on its own input (see the module note); `expand`
    turns one item into the items of its records on the worker; `chunk_size` items make one shard
    (default `records_per_shard`); `amend(manifest)` adds to the manifest before it is written (e.g. curation's
    ledger counts; it may raise to refuse the set). Returns the manifest, also written to root/manifest.json.
    """
    if set_name not in SCHEMAS:
        raise ValueError(f"unknown set '{set_name}'; known: {sorted(SCHEMAS)}")
    if records_per_shard < 1:
        raise ValueError("records_per_shard must be >= 1")
    from shoemodel.parallel import InlineExecutor

    root = Path(root)
    (root / SHARD_DIR).mkdir(parents=True, exist_ok=True)
    check_fingerprint(root, fingerprint)
    remove_stale_temporaries(root / SHARD_DIR)
    executor = executor or InlineExecutor()

    results: dict[int, ShardResult] = {}
    seen = [0]
    stamps = shard_stamps(root)

    def pending() -> Iterator[tuple[int, list[Any], str | None]]:
        # Lazily: the input is never listed whole; finished shards are read back from their sidecars.
        for index, chunk in _chunks(items, chunk_size or records_per_shard):
            seen[0] = index + 1
            fp = chunk_fingerprint(index, chunk) if chunk_fingerprint is not None else None
            if _trusted(root, index, fp, stamps):
                results[index] = _load_result(root, index)
                bar.update(1)
            else:
                yield index, chunk, fp

    fn = partial(_run_chunk, root=str(root), set_name=set_name, make_record=make_record, validation=validation,
                 item_key=item_key, expand=expand)
    n_total = -(-total // records_per_shard) if total else None
    bar = tqdm(total=n_total, desc=desc or f"{set_name} shards", unit="shard", disable=not progress)
    for result in executor.map_unordered(fn, pending(), resources=resources):
        results[result.index] = result
        bar.update(1)
        bar.set_postfix(records=sum(r.num_records for r in results.values()))
    bar.close()
    _remove_shards_beyond(root, seen[0])
    for r in results.values():
        for f in r.files:
            if f.file in r.mtimes_ns:
                stamps.remember(root / f.file, f.num_bytes, r.mtimes_ns[f.file], f.sha256)
    stamps.save()

    ordered = [results[i] for i in sorted(results)]
    reasons = Counter(f"{f.kind}: {f.reason.split(':')[0]}" for r in ordered for f in r.failures)
    manifest = Manifest(
        set_name=set_name,
        schema_version=SCHEMA_VERSION,
        num_records=sum(r.num_records for r in ordered),
        num_failures=sum(len(r.failures) for r in ordered),
        records_per_shard=records_per_shard,
        shards=[f for r in ordered for f in r.files],
        failures_by_reason=dict(sorted(reasons.items())),
        provenance=provenance or {},
    )
    if amend is not None:
        amend(manifest)
    manifest.write(root)
    write_card(root, manifest)
    write_counts[str(root)] = sum(not r.skipped for r in ordered)
    return manifest


def _chunks(items: Iterable[Any], size: int) -> Iterator[tuple[int, list[Any]]]:
    it = iter(items)
    for index in itertools.count():
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield index, chunk


def _remove_shards_beyond(root: Path, n_shards: int) -> None:
    for p in (root / SHARD_DIR).glob("shard-*.*"):
        idx = int(p.stem.split("-")[1])
        if idx >= n_shards:
            p.unlink()


def iter_failures(root: str | Path) -> Iterator[Failure]:
    """Every recorded per-item failure of a set, shard by shard."""
    for sidecar in sorted((Path(root) / SHARD_DIR).glob("shard-*.json")):
        for f in json.loads(sidecar.read_text()).get("failures", []):
            yield Failure(**f)


#: Shards made (not kept) by the last write_set into each folder in this process: for logs and tests.
write_counts: dict[str, int] = {}
