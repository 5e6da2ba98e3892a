"""Ingest: raw files -> checked, hashed, EXIF-upright image rows; bad files recorded with the reason.

A kept row either carries the (upright) image bytes (`ingest.bytes: copy`, and always for `copy_sources`
and web URIs: later stages then need only the part files) or references the source file by URI, SHA-256,
size and EXIF orientation (`reference`, the default: later stages read the file, verify it and make it
upright the same way; `shoemodel.curation.storage`). Exact duplicates (same SHA-256) and, optionally, perceptual-hash
near duplicates are marked in a second, cheap pass in input order: the first copy wins.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from shoemodel.curation import parts
from shoemodel.curation.config import IngestConfig
from shoemodel.curation.dup_index import INDEX_FILE, DuplicateIndex
from shoemodel.curation.sources import (
    IMAGE_SUFFIXES,
    check_sources,
    iter_sources,
    local_path,
    read_bytes,
    remote_stat,
    used_sources,
)
from shoemodel.curation.storage import COPY, REFERENCE, check_mode, needs_upright, storage_for, upright_image
from shoemodel.store.content_cache import cache_dir

INGEST_SCHEMA = pa.schema(parts.BASE_FIELDS + [
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("format", pa.string()),
    pa.field("phash", pa.string()),
    pa.field("size", pa.int64()),  # of the source file, with its mtime: the fast "unchanged" check on a rerun
    pa.field("mtime_ns", pa.int64()),  # null in a written part: the mtimes live in the stage's stamps (_write_stamps)
    pa.field("orientation", pa.int32()),  # EXIF orientation of the source file (1: upright as stored)
    pa.field("stored", pa.string()),  # copy: `image` holds the bytes; reference: read from source_uri, hash-checked
    pa.field("image", pa.binary()),  # the upright encoded photo (copy rows only)
])
#: Settings that decide how a row holds its photo, not what it says: outside the fingerprint every later stage
#: chains (both modes give the same records), checked row by row on a rerun instead (`plan_ingest`).
STORAGE_KEYS = ("bytes", "copy_sources")
DUPLICATES = "duplicates.json"


class BadImage(Exception):
    """A file that is not a usable photo; the message is the reason recorded."""


def check_image(data: bytes, cfg: IngestConfig) -> tuple[bytes, int, int, str, int]:
    """Validate and make upright; returns (bytes, width, height, format, EXIF orientation). Raises BadImage(reason)."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > cfg.max_bytes:
        raise BadImage(f"too large: {len(data)} bytes > {cfg.max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own pixel limit decides below
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:  # a header far beyond any photo (PIL refuses before we can)
        raise BadImage(f"too large: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise BadImage("not an image: PIL cannot identify it") from exc
    except Exception as exc:  # noqa: BLE001 - e.g. a plugin another library registered (ultralytics' HEIF) fails on junk
        raise BadImage(f"not an image: {type(exc).__name__}: {exc}") from exc
    with im:
        fmt = im.format or "?"
        if fmt == "MPO":  # a phone's multi-picture JPEG: its first frame is the photo, and a JPEG decoder reads just that
            fmt = "JPEG"
        w, h = im.size
        if fmt not in cfg.formats:
            raise BadImage(f"format not allowed: {fmt}")
        if w * h > cfg.max_pixels:  # checked from the header, before decoding
            raise BadImage(f"too large: {w}x{h} pixels > {cfg.max_pixels}")
        if min(w, h) < cfg.min_side:
            raise BadImage(f"too small: {w}x{h}, min side {cfg.min_side}")
        if im.mode == "CMYK":
            raise BadImage("colour mode: CMYK")
        if im.mode in ("I;16", "I;16B", "I;16L", "I", "F") or "16" in im.mode:
            raise BadImage(f"bit depth: {im.mode} (16/32-bit)")
        try:
            im.load()
        except (OSError, SyntaxError, ValueError) as exc:
            raise BadImage(f"truncated or corrupt: {exc}") from exc
        orientation = _orientation(im)
        if needs_upright(orientation):
            data, w, h, fmt = upright_image(im, fmt)
    return data, w, h, fmt, 1 if orientation is None else orientation


def _orientation(im: Any) -> int | None:
    value = im.getexif().get(0x0112, 1)
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return 0  # not a number: not 1, so made upright (a no-op transpose) as before


def phash(data: bytes) -> str:
    """64-bit perceptual hash as 16 hex digits."""
    import imagehash
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return str(imagehash.phash(im.convert("RGB")))


def ingest_one(uri: str, cfg: IngestConfig) -> dict[str, Any]:
    """One input file -> one row (kept with its bytes or a reference to them, or dropped/failed with the reason);
    size and mtime recorded (for a remote referenced file too: the rerun check needs them)."""
    size = mtime = None
    stored = storage_for(uri, cfg.bytes, cfg.copy_sources)
    path = local_path(uri)
    if path is not None:
        if path.is_symlink() and not path.exists():
            return parts.row(uri, None, parts.FAILED, f"broken link: {path} -> {os.readlink(path)}", size=None, mtime_ns=None)
        if path.is_dir():
            return parts.row(uri, None, parts.FAILED, "is a directory: a folder named like an image", size=None, mtime_ns=None)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            return parts.row(uri, None, parts.FAILED, f"unknown suffix: '{path.suffix}' (images: {', '.join(sorted(IMAGE_SUFFIXES))})",
                             size=None, mtime_ns=None)
        try:
            st = path.stat()
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            pass
    elif stored == REFERENCE:
        try:
            size, mtime = remote_stat(uri)
        except Exception:  # noqa: BLE001 - the read below records why
            pass
    try:
        data = read_bytes(uri)
    except Exception as exc:  # noqa: BLE001 - recorded per file
        return parts.row(uri, None, parts.FAILED, f"unreadable: {type(exc).__name__}: {exc}", size=size, mtime_ns=mtime)
    digest = hashlib.sha256(data).hexdigest()
    size = len(data) if size is None else size  # a remote file: its size as read
    try:
        data, w, h, fmt, orientation = check_image(data, cfg)
    except BadImage as exc:
        return parts.row(uri, digest, parts.DROPPED, str(exc), size=size, mtime_ns=mtime)
    except Exception as exc:  # noqa: BLE001
        return parts.row(uri, digest, parts.FAILED, f"{type(exc).__name__}: {exc}", size=size, mtime_ns=mtime)
    return parts.row(uri, digest, parts.KEPT, None, width=w, height=h, format=fmt, size=size, mtime_ns=mtime,
                     phash=phash(data) if cfg.near_duplicates else None, orientation=orientation, stored=stored,
                     image=data if stored == COPY else None)


def ingest_settings(cfg: IngestConfig) -> str:
    """Fingerprint of the settings that decide an ingest row (not the sources nor the part size: those only
    decide which parts exist, and adding a source appends parts instead of redoing them)."""
    s = {k: v for k, v in parts.settings_of(cfg).items() if k not in ("sources", "optional_sources", "part_size", *STORAGE_KEYS)}
    return parts.fingerprint_of([s, str(INGEST_SCHEMA)])


def _part_fingerprint(settings_fp: str, rows: list[dict[str, Any]]) -> str:
    """An ingest part's fingerprint: its settings and, per row, the URI, content hash and outcome."""
    return parts.fingerprint_of([settings_fp, [(r["source_uri"], r["content_hash"], r["status"], r["reason"]) for r in rows]])


STAMPS_DIR = "stamps"  # in cache_dir(stage): per part, {uri: [size, mtime_ns, sha256]} of its files as read


def _stamps_path(stage_dir: str | Path, index: int) -> Path:
    return cache_dir(stage_dir) / STAMPS_DIR / f"part-{index:06d}.json"


def _write_stamps(stage_dir: str | Path, index: int, rows: list[dict[str, Any]]) -> None:
    """Move each row's mtime out of the part (which must hash the same in a fresh clone) into the part's stamp file,
    with the size and SHA-256 it goes with: a stamp counts only for the content the part holds."""
    from shoemodel.store.atomic import atomic_write_text

    stamps = {r["source_uri"]: [r["size"], r["mtime_ns"], r["content_hash"]] for r in rows if r["mtime_ns"] is not None}
    for r in rows:
        r["mtime_ns"] = None
    path = _stamps_path(stage_dir, index)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(stamps))


def _refresh_stamps(stage_dir: str | Path, index: int, rows: list[dict[str, Any]], stamps: dict[str, list]) -> None:
    """After a kept part's local files were confirmed (by hash where their stamps were missing, as in a fresh clone,
    or stale), note their present mtimes, so the next run trusts them on size + mtime instead of hashing again."""
    from shoemodel.store.atomic import atomic_write_text

    now = dict(stamps)
    for r in rows:
        path = local_path(r["source_uri"])
        if path is None or r["content_hash"] is None:
            continue
        try:
            st = path.stat()
        except OSError:
            continue
        now[r["source_uri"]] = [st.st_size, st.st_mtime_ns, r["content_hash"]]
    if now != stamps:
        path = _stamps_path(stage_dir, index)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(now))


def _read_stamps(stage_dir: str | Path, index: int) -> dict[str, list]:
    try:
        return json.loads(_stamps_path(stage_dir, index).read_text())
    except (OSError, ValueError):
        return {}  # none (a fresh clone): the files are hashed once, as on any mtime change


def _ingest_part(task: tuple[int, list[str]], stage_dir: str, cfg: IngestConfig, settings_fp: str) -> tuple[int, Counter]:
    index, uris = task
    rows = [ingest_one(u, cfg) for u in uris]
    _write_stamps(stage_dir, index, rows)  # before the part: a stamp without its part matches no content there
    parts.write_part(stage_dir, index, rows, INGEST_SCHEMA, _part_fingerprint(settings_fp, rows))
    return index, Counter(r["status"] for r in rows)


def _chunks(it: Iterator[str], size: int, start: int = 0) -> Iterator[tuple[int, list[str]]]:
    for index in itertools.count(start):
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield index, chunk


def _content_unchanged(uri: str, size: int | None, mtime: int | None, digest: str | None, stored: str | None = COPY) -> bool:
    """Size + mtime as the fast check; when they differ, the SHA-256 decides (a touched file is not a new one).
    Remote URIs whose bytes the part holds are trusted as listed (not re-read on every run); a referenced remote
    file is checked like a local one (its size and modified time from the filesystem), since later stages read it."""
    path = local_path(uri)
    if path is None:
        return stored != REFERENCE or _remote_unchanged(uri, size, mtime, digest)
    try:
        st = path.stat()
    except OSError:
        return digest is None  # still unreadable: unchanged; newly missing: changed
    if size == st.st_size and mtime == st.st_mtime_ns:
        return True
    if digest is None:
        return False
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == digest
    except OSError:
        return False


def _mtime(row: dict[str, Any], stamps: dict[str, list]) -> int | None:
    """The mtime the file had when the part read it: from the part's stamps (for the same size and content), or from
    the row itself in a part written before the stamps moved out of it."""
    stamp = stamps.get(row["source_uri"])
    if stamp and stamp[0] == row["size"] and stamp[2] == row["content_hash"]:
        return stamp[1]
    return row.get("mtime_ns")


def _remote_unchanged(uri: str, size: int | None, mtime: int | None, digest: str | None) -> bool:
    try:
        now = remote_stat(uri)
    except Exception:  # noqa: BLE001 - gone or unreachable: redo the part (its row says why)
        return False
    if mtime is not None and now == (size, mtime):
        return True
    if size is not None and now[0] != size:
        return False
    try:
        return hashlib.sha256(read_bytes(uri)).hexdigest() == digest
    except Exception:  # noqa: BLE001
        return False


def _storage_unchanged(row: dict[str, Any], cfg: IngestConfig | None) -> bool:
    """A kept row holds its photo the way the settings now ask (an older part without `stored` copied it)."""
    if cfg is None or row["status"] != parts.KEPT:
        return True
    return (row.get("stored") or COPY) == storage_for(row["source_uri"], cfg.bytes, cfg.copy_sources)


@dataclass
class IngestPlan:
    """What a rerun of ingest has to do: parts to redo (with their URIs) and new URIs to append as new parts."""

    redo: dict[int, list[str]] = field(default_factory=dict)
    kept_parts: int = 0
    next_index: int = 0
    removed: list[int] = field(default_factory=list)


def plan_ingest(stage_dir: Path, listing: Iterable[str], settings_fp: str, new_uris: list[str],
                cfg: IngestConfig | None = None) -> IngestPlan:
    """Compare the finished parts with the listing, streaming it once.

    A part is kept when its footer reads back, it ran under the same settings, every file in it is
    unchanged (content check above) and held as `cfg` asks (copied or referenced), and all its files are still
    listed. A part with a changed or vanished file is redone with the URIs still listed; URIs in no part are new
    (appended to `new_uris`). Stable: a file stays in its part for good.

    Memory is one small entry per file (URI -> part) plus the URIs of the parts being redone: each part's rows
    are checked as it is read and then dropped, so a no-op rerun over millions of files holds no rows.
    """
    plan = IngestPlan()
    sizes: dict[int, int] = {}  # part -> its rows
    clean: set[int] = set()  # parts whose settings, files and storage are all unchanged
    where: dict[str, int | list[int]] = {}  # uri -> part of each of its (not yet listed) occurrences
    for index in parts.part_indices(stage_dir):
        plan.next_index = index + 1
        fp = parts.part_fingerprint(stage_dir, index)
        try:
            rows = parts.read_part(stage_dir, index, ["source_uri", "content_hash", "status", "reason", "size", "mtime_ns",
                                                      "stored"], missing_ok=True)
            stamps = _read_stamps(stage_dir, index)
        except Exception:  # noqa: BLE001 - a damaged part: its files are listed again as new
            rows = None
        if fp is None or rows is None:
            parts.part_path(stage_dir, index).unlink(missing_ok=True)
            plan.removed.append(index)
            continue
        sizes[index] = len(rows)
        if _part_fingerprint(settings_fp, rows) == fp and all(
                _content_unchanged(r["source_uri"], r["size"], _mtime(r, stamps), r["content_hash"], r.get("stored"))
                and _storage_unchanged(r, cfg) for r in rows):
            clean.add(index)
            _refresh_stamps(stage_dir, index, rows, stamps)
        for r in rows:
            _add_place(where, r["source_uri"], index)
    listed = dict.fromkeys(sizes, 0)
    redo: dict[int, list[str]] = {i: [] for i in sizes if i not in clean}
    for uri in listing:
        index = _take_place(where, uri)
        if index is None:
            new_uris.append(uri)
            continue
        listed[index] += 1
        if index in redo:
            redo[index].append(uri)
    unlisted = _by_part(where) if any(listed[i] != sizes[i] for i in clean) else {}
    for index in sorted(clean):
        if listed[index] == sizes[index]:
            plan.kept_parts += 1
        else:  # unchanged, but some of its files are no longer listed: redone with the ones that are
            redo[index] = _still_listed(stage_dir, index, unlisted[index])
    for index, uris in sorted(redo.items()):
        if uris:
            plan.redo[index] = uris
        else:  # every file of the part is gone
            parts.part_path(stage_dir, index).unlink(missing_ok=True)
            plan.removed.append(index)
    return plan


def _add_place(where: dict[str, int | list[int]], uri: str, index: int) -> None:
    """Record one occurrence of `uri` in part `index` (a URI listed twice has several)."""
    prev = where.get(uri)
    if prev is None:
        where[uri] = index
    elif isinstance(prev, list):
        prev.append(index)
    else:
        where[uri] = [prev, index]


def _take_place(where: dict[str, int | list[int]], uri: str) -> int | None:
    """The part of the next unlisted occurrence of `uri` (removed from `where`), or None for a new URI."""
    place = where.get(uri)
    if place is None:
        return None
    if isinstance(place, list):
        index = place.pop(0)
        if not place:
            del where[uri]
        return index
    del where[uri]
    return place


def _by_part(unlisted: dict[str, int | list[int]]) -> dict[int, Counter]:
    """The occurrences left in `unlisted` (files the listing no longer names), counted per URI, grouped by part."""
    out: dict[int, Counter] = {}
    for uri, place in unlisted.items():
        for i in (place if isinstance(place, list) else [place]):
            out.setdefault(i, Counter())[uri] += 1
    return out


def _still_listed(stage_dir: Path, index: int, unlisted: Counter) -> list[str]:
    """The URIs of part `index` that the listing named (`unlisted` counts its occurrences it did not), in part order."""
    left = Counter(unlisted)
    out = []
    for r in parts.read_part(stage_dir, index, ["source_uri"]):
        if left[r["source_uri"]] > 0:
            left[r["source_uri"]] -= 1
        else:
            out.append(r["source_uri"])
    return out


def find_duplicates(stage_dir: str | Path, cfg: IngestConfig) -> list[list]:
    """[part index, row in part, source_uri, index/row/uri of the copy kept] per duplicate, in input order.

    Rows are named by position, since one URI may be listed twice. The index (`dup_index`) is sub-quadratic,
    on disk and kept between runs: when the parts it covers are all still there, unchanged, only newer parts
    are added; when they are exactly the parts there are, only its small summary is read.
    """
    stage_dir = Path(stage_dir)
    indices = parts.part_indices(stage_dir)
    fps = {i: parts.part_fingerprint(stage_dir, i, check_ledger=False) for i in indices}  # plan_ingest checked them
    saved = DuplicateIndex.saved_decisions(stage_dir, cfg.phash_max_distance, cfg.near_duplicates, fps)
    if saved is not None and (stage_dir / INDEX_FILE).exists():
        return saved  # the same parts as last time: nothing to decide, the index stays on disk
    index = DuplicateIndex.open(stage_dir, cfg.phash_max_distance, cfg.near_duplicates)
    if index is not None:
        last = max(index.covered, default=-1)
        stale = any(fps.get(i) != fp for i, fp in index.covered.items()) or any(
            i < last and i not in index.covered for i in indices)
        if stale:  # an old part changed, appeared or went: first-wins must be decided again over everything
            index.close()
            index = None
    if index is None:
        index = DuplicateIndex.create(stage_dir, cfg.phash_max_distance, cfg.near_duplicates)
    try:
        for i in indices:
            if i in index.covered:
                continue
            rows = parts.read_part(stage_dir, i, ["source_uri", "content_hash", "status", "phash"])
            index.add_part(i, fps[i], [(pos, r["source_uri"], r["content_hash"], r["phash"])
                                       for pos, r in enumerate(rows) if r["status"] == parts.KEPT])
        index.save(stage_dir)
        return list(index.duplicates)
    finally:
        index.close()


def load_duplicates(stage_dir: str | Path) -> dict[int, frozenset[int]]:
    """Row positions of duplicates, grouped by ingest part index (each task gets only its own)."""
    p = Path(stage_dir) / DUPLICATES
    by_part: dict[int, set[int]] = {}
    for index, pos, *_ in json.loads(p.read_text()) if p.exists() else []:
        by_part.setdefault(int(index), set()).add(int(pos))
    return {k: frozenset(v) for k, v in by_part.items()}


def run_ingest(stage_dir: str | Path, cfg: IngestConfig, executor: Any = None, progress: bool = True) -> parts.StageSummary:
    """Ingest all sources into stage_dir/parts, mark duplicates, write summary.json; resumable and incremental.

    Finished parts whose files are unchanged are kept; a part with a changed file is redone; files not in
    any part yet become new parts after the last one. A required source that does not exist raises SourceNotFound.
    """
    from shoemodel.store.atomic import atomic_write_text

    stage_dir = Path(stage_dir)
    settings_fp = ingest_settings(cfg)
    check_mode(cfg.bytes)
    check_sources(cfg.sources)
    parts.prepare_stage_dir(stage_dir, settings_fp)
    new_uris: list[str] = []
    plan = plan_ingest(stage_dir, iter_sources(cfg.sources, cfg.optional_sources), settings_fp, new_uris, cfg)
    tasks = itertools.chain(sorted(plan.redo.items()), _chunks(iter(new_uris), cfg.part_size, plan.next_index))
    n_new = -(-len(new_uris) // cfg.part_size)
    fn = partial(_ingest_part, stage_dir=str(stage_dir), cfg=cfg, settings_fp=settings_fp)
    ran = parts.run_parts(tasks, fn, stage_dir, executor=executor, resources=None, total=len(plan.redo) + n_new,
                          desc="ingest", progress=progress, is_done=lambda _i, _payload: False)
    parts.run_counts["ingest"] = ran
    dups = find_duplicates(stage_dir, cfg)
    text = json.dumps(dups, indent=1)
    if not ((stage_dir / DUPLICATES).exists() and (stage_dir / DUPLICATES).read_text() == text):
        atomic_write_text(stage_dir / DUPLICATES, text)
    summary = parts.summarize("ingest", stage_dir)
    if dups:
        summary.kept -= len(dups)
        summary.dropped = dict(sorted({**summary.dropped, "duplicate": len(dups)}.items()))
    summary.extra = {"sources": used_sources(cfg.sources, cfg.optional_sources)}
    parts.write_summary(stage_dir, summary)
    return summary
