"""Ingest: raw files -> checked, hashed, EXIF-upright image rows; bad files recorded with the reason.

Each part row carries the image bytes, so later stages (on any Dask worker) need only the part
files, never the source tree. Exact duplicates (same SHA-256) and, optionally, perceptual-hash
near duplicates are marked in a second, cheap pass in input order: the first copy wins.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

from shoemodel.curation import parts
from shoemodel.curation.config import IngestConfig
from shoemodel.curation.sources import iter_sources, read_bytes

INGEST_SCHEMA = pa.schema(parts.BASE_FIELDS + [
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("format", pa.string()),
    pa.field("phash", pa.string()),
    pa.field("image", pa.binary()),
])
DUPLICATES = "duplicates.json"


class BadImage(Exception):
    """A file that is not a usable photo; the message is the reason recorded."""


def check_image(data: bytes, cfg: IngestConfig) -> tuple[bytes, int, int, str]:
    """Validate and make upright; returns (bytes, width, height, format). Raises BadImage(reason)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > cfg.max_bytes:
        raise BadImage(f"too large: {len(data)} bytes > {cfg.max_bytes}")
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise BadImage("not an image: PIL cannot identify it") from exc
    except Exception as exc:  # noqa: BLE001 - e.g. a plugin another library registered (ultralytics' HEIF) fails on junk
        raise BadImage(f"not an image: {type(exc).__name__}: {exc}") from exc
    with im:
        fmt = im.format or "?"
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
        orientation = im.getexif().get(0x0112, 1)
        if orientation not in (1, None):
            up = ImageOps.exif_transpose(im)
            buf = io.BytesIO()
            if fmt == "JPEG":
                up.convert("RGB").save(buf, format="JPEG", quality=95)
            else:
                up.save(buf, format="PNG")
                fmt = "PNG"
            data, (w, h) = buf.getvalue(), up.size
    return data, w, h, fmt


def phash(data: bytes) -> str:
    """64-bit perceptual hash as 16 hex digits."""
    import imagehash
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return str(imagehash.phash(im.convert("RGB")))


def ingest_one(uri: str, cfg: IngestConfig) -> dict[str, Any]:
    """One input file -> one row (kept with bytes, or dropped/failed with the reason)."""
    try:
        data = read_bytes(uri)
    except Exception as exc:  # noqa: BLE001 - recorded per file
        return parts.row(uri, None, parts.FAILED, f"unreadable: {type(exc).__name__}: {exc}")
    digest = hashlib.sha256(data).hexdigest()
    try:
        data, w, h, fmt = check_image(data, cfg)
    except BadImage as exc:
        return parts.row(uri, digest, parts.DROPPED, str(exc))
    except Exception as exc:  # noqa: BLE001
        return parts.row(uri, digest, parts.FAILED, f"{type(exc).__name__}: {exc}")
    return parts.row(uri, digest, parts.KEPT, None, width=w, height=h, format=fmt,
                     phash=phash(data) if cfg.near_duplicates else None, image=data)


def _ingest_part(task: tuple[int, list[str]], stage_dir: str, cfg: IngestConfig) -> tuple[int, Counter]:
    index, uris = task
    rows = [ingest_one(u, cfg) for u in uris]
    parts.write_part(stage_dir, index, rows, INGEST_SCHEMA)
    return index, Counter(r["status"] for r in rows)


def _chunks(it: Iterator[str], size: int) -> Iterator[tuple[int, list[str]]]:
    for index in itertools.count():
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield index, chunk


def _bands(h: int, n: int) -> list[tuple[int, int]]:
    width = 64 // n
    return [(i, (h >> (i * width)) & ((1 << width) - 1)) for i in range(n)]


def find_duplicates(stage_dir: str | Path, cfg: IngestConfig) -> list[list]:
    """[part index, row in part, source_uri, index/row/uri of the copy kept] per duplicate, in input order.

    Rows are named by position, since one URI may be listed twice. Near duplicates use pigeonhole
    banding: two 64-bit hashes within distance d share at least one of d+1 bands exactly, so only
    bucket mates are compared (no all-pairs scan).
    """
    exact: dict[str, list] = {}
    dups: list[list] = []
    n_bands = min(cfg.phash_max_distance + 1, 8)
    buckets: dict[tuple[int, int], list[tuple[int, list]]] = {}
    for index in parts.part_indices(stage_dir):
        for pos, r in enumerate(parts.read_part(stage_dir, index, ["source_uri", "content_hash", "status", "phash"])):
            if r["status"] != parts.KEPT:
                continue
            here = [index, pos, r["source_uri"]]
            first = exact.setdefault(r["content_hash"], here)
            if first is not here:
                dups.append(here + [first])
                continue
            if cfg.near_duplicates and r["phash"]:
                h = int(r["phash"], 16)
                match = None
                for band in _bands(h, n_bands):
                    match = next((ref for other, ref in buckets.get(band, ()) if bin(h ^ other).count("1") <= cfg.phash_max_distance), None)
                    if match:
                        break
                if match:
                    dups.append(here + [match])
                    continue
                for band in _bands(h, n_bands):
                    buckets.setdefault(band, []).append((h, here))
    return dups


def load_duplicates(stage_dir: str | Path) -> dict[int, frozenset[int]]:
    """Row positions of duplicates, grouped by ingest part index (each task gets only its own)."""
    p = Path(stage_dir) / DUPLICATES
    by_part: dict[int, set[int]] = {}
    for index, pos, *_ in json.loads(p.read_text()) if p.exists() else []:
        by_part.setdefault(int(index), set()).add(int(pos))
    return {k: frozenset(v) for k, v in by_part.items()}


def run_ingest(stage_dir: str | Path, cfg: IngestConfig, executor: Any = None, progress: bool = True) -> parts.StageSummary:
    """Ingest all sources into stage_dir/parts, mark duplicates, write summary.json; resumable."""
    from shoemodel.store.atomic import atomic_write_text

    stage_dir = Path(stage_dir)
    # The fingerprint covers the settings and the listing (names streamed through a hash, never held).
    h = hashlib.sha256(parts.fingerprint_of([cfg.__dict__, str(INGEST_SCHEMA)]).encode())
    n = 0
    for u in iter_sources(cfg.sources, cfg.optional_sources):
        h.update(u.encode() + b"\0")
        n += 1
    parts.prepare_stage_dir(stage_dir, h.hexdigest()[:16])
    it = iter_sources(cfg.sources, cfg.optional_sources)
    fn = partial(_ingest_part, stage_dir=str(stage_dir), cfg=cfg)
    parts.run_parts(_chunks(it, cfg.part_size), fn, stage_dir, executor, None, -(-n // cfg.part_size), "ingest", progress)
    dups = find_duplicates(stage_dir, cfg)
    atomic_write_text(stage_dir / DUPLICATES, json.dumps(dups, indent=1))
    summary = parts.summarize("ingest", stage_dir)
    if dups:
        summary.kept -= len(dups)
        summary.dropped = dict(sorted({**summary.dropped, "duplicate": len(dups)}.items()))
    parts.write_summary(stage_dir, summary)
    return summary
