"""Where raw images come from: folders, list files, Parquet manifests, single paths or URIs, streamed."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
MANIFEST_COLUMNS = ("uri", "path", "source_uri", "url")
_WARNED: set[str] = set()


def _is_uri(s: str) -> bool:
    return "://" in s and not s.startswith("file://")


def iter_source(source: str) -> Iterator[str]:
    """URIs of one source, in a stable order: a folder (recursive), a .txt list, a .parquet manifest, or one file/URI."""
    if _is_uri(source):
        yield source
        return
    p = Path(source.removeprefix("file://"))
    if p.is_dir():
        for f in sorted(p.rglob("*")):
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                yield str(f)
    elif p.suffix == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(p)
        col = next((c for c in MANIFEST_COLUMNS if c in pf.schema_arrow.names), None)
        if col is None:
            raise ValueError(f"{p}: a manifest needs one of the columns {MANIFEST_COLUMNS}")
        for batch in pf.iter_batches(columns=[col], batch_size=4096):
            yield from (str(u) for u in batch.column(0).to_pylist() if u)
    elif p.suffix == ".txt" and p.is_file():
        with p.open() as fh:
            for line in fh:
                line = line.strip()
                if line and not line.startswith("#"):
                    yield line
    else:
        yield str(p)  # a single file; a missing one becomes a 'failed: unreadable' row, not a crash


def iter_sources(sources: Iterable[str], optional: Iterable[str] = ()) -> Iterator[str]:
    """All URIs of all sources in order; optional sources that do not exist are skipped with a log line."""
    for s in sources:
        yield from iter_source(s)
    for s in optional:
        if _is_uri(s) or Path(s).exists():
            yield from iter_source(s)
        elif s not in _WARNED:
            _WARNED.add(s)
            log.warning("optional curation source %s is absent; skipped", s)


def read_bytes(uri: str) -> bytes:
    """Read a local path or any fsspec URI (http, s3, gs ... when their packages are installed)."""
    if _is_uri(uri):
        import fsspec

        with fsspec.open(uri, "rb") as fh:
            return fh.read()
    return Path(uri.removeprefix("file://")).read_bytes()
