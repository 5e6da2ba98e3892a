"""Where raw images come from: folders, list files, Parquet manifests, single paths or URIs, streamed.

A folder is walked one directory at a time (each directory's entries sorted), so the listing is never
held whole and its order is stable. Every entry is listed, not only the ones with an image suffix:
a broken link, a directory called `x.jpg` or a `.txt` file among the photos becomes a row that
ingest counts as failed with the reason, so nothing in a source folder disappears without a count.
Plain sub-directories are walked; hidden entries (`.name`) are skipped, as every file browser does.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".mpo"}
MANIFEST_COLUMNS = ("uri", "path", "source_uri", "url")
_WARNED: set[str] = set()


class SourceNotFound(FileNotFoundError):
    """A required curation source does not exist (a mistyped folder is an error, not an empty run)."""


def is_uri(s: str) -> bool:
    """True for fsspec URIs other than file:// (s3://, gs://, http://...)."""
    return "://" in s and not s.startswith("file://")


_is_uri = is_uri


def local_path(uri: str) -> Path | None:
    """The local path of a source URI, or None for a remote one."""
    return None if is_uri(uri) else Path(uri.removeprefix("file://"))


def walk_folder(folder: Path) -> Iterator[str]:
    """Every non-hidden entry under `folder`, depth first, names sorted per directory; real sub-folders are
    walked, a folder whose name has an image suffix is listed (ingest reports it), links to folders are not followed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        log.warning("cannot list %s: %s", folder, exc)
        yield str(folder)  # listed, so ingest records it as unreadable
        return
    for e in entries:
        if e.name.startswith("."):
            continue
        is_dir = e.is_dir(follow_symlinks=False)
        if is_dir and Path(e.name).suffix.lower() not in IMAGE_SUFFIXES:
            yield from walk_folder(Path(e.path))
        else:
            yield e.path


def iter_source(source: str) -> Iterator[str]:
    """URIs of one source, in a stable order: a folder (recursive), a .txt list, a .parquet manifest, or one file/URI."""
    if is_uri(source):
        yield source
        return
    p = Path(source.removeprefix("file://"))
    if p.is_dir():
        yield from walk_folder(p)
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
    elif p.exists() or p.is_symlink():
        yield str(p)  # a single file (or a broken link: a 'failed' row, not a crash)
    else:
        raise SourceNotFound(f"curation source not found: {p}")


def check_sources(sources: Iterable[str]) -> None:
    """Raise SourceNotFound for the first required local source that does not exist."""
    for s in sources:
        p = local_path(s)
        if p is not None and not (p.exists() or p.is_symlink()):
            raise SourceNotFound(f"curation source not found: {p}")


def iter_sources(sources: Iterable[str], optional: Iterable[str] = ()) -> Iterator[str]:
    """All URIs of all sources in order; optional sources that do not exist are skipped with a log line."""
    sources, optional = list(sources), list(optional)
    check_sources(sources)
    for s in sources:
        yield from iter_source(s)
    for s in optional:
        if is_uri(s) or Path(s).exists():
            yield from iter_source(s)
        elif s not in _WARNED:
            _WARNED.add(s)
            log.warning("optional curation source %s is absent; skipped", s)


def used_sources(sources: Iterable[str], optional: Iterable[str] = ()) -> list[str]:
    """The sources a listing actually read (required ones, and the optional ones present), for provenance."""
    return [str(s) for s in sources] + [str(s) for s in optional if is_uri(s) or Path(s).exists()]


def remote_stat(uri: str) -> tuple[int | None, int | None]:
    """(size, modified time in ns) of an fsspec URI, for the rerun check of a referenced file; the time is None
    where the filesystem has none (then the rerun re-reads and hashes the file). OSError when it is gone."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(uri)
    size = fs.size(path)
    try:
        modified = fs.modified(path)
    except (NotImplementedError, KeyError, AttributeError, TypeError):
        return size, None
    return size, int(modified.timestamp() * 1e9) if modified is not None else None


def read_bytes(uri: str) -> bytes:
    """Read a local path or any fsspec URI (http, s3, gs ... when their packages are installed)."""
    if is_uri(uri):
        import fsspec

        with fsspec.open(uri, "rb") as fh:
            return fh.read()
    return Path(uri.removeprefix("file://")).read_bytes()
