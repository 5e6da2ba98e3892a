"""How an ingest row holds its photo: the bytes themselves (copy) or a verified reference to the source file.

Copying every photo into the ingest parts doubles the disk before the set is even built (at 669k photos,
~200 GB of parts for ~200 GB of photos). In reference mode a row keeps only the URI, the SHA-256 of the file
as read, its size and EXIF orientation; every later stage reads the file again (a local path or any fsspec
URI), checks the hash and makes it upright exactly as ingest did, so both modes give the same bytes. Sources
that may change or vanish (`ingest.copy_sources`, and every http(s):// URI) are still copied.
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

from shoemodel.curation.sources import is_uri, read_bytes

COPY, REFERENCE = "copy", "reference"
MODES = (REFERENCE, COPY)
#: Web content is not stable (a page may serve other bytes tomorrow): always copied.
ALWAYS_COPIED = ("http://", "https://")


class SourceChanged(Exception):
    """A referenced photo is not the one ingest hashed (edited, replaced or gone); the message names the file."""


def check_mode(mode: str) -> None:
    """A clear error for an unknown `ingest.bytes` value (before any file is read)."""
    if mode not in MODES:
        raise ValueError(f"curation.ingest.bytes must be one of {MODES}, not {mode!r}")


def _under(uri: str, prefix: str) -> bool:
    if is_uri(uri) or is_uri(prefix):
        prefix = prefix.rstrip("/")
        return uri == prefix or uri.startswith(prefix + "/")
    u, p = os.path.abspath(uri.removeprefix("file://")), os.path.abspath(prefix.removeprefix("file://"))
    return u == p or u.startswith(p.rstrip(os.sep) + os.sep)


def storage_for(uri: str, mode: str, copy_sources: list[Any] = ()) -> str:
    """COPY or REFERENCE for one listed file: copy mode copies all; reference mode copies web URIs and files
    under a `copy_sources` entry (a folder, a file or a URI prefix)."""
    if mode == COPY or uri.startswith(ALWAYS_COPIED):
        return COPY
    return COPY if any(_under(uri, str(s)) for s in copy_sources) else REFERENCE


def needs_upright(orientation: int | None) -> bool:
    """Ingest re-encodes a photo whose EXIF orientation is anything but 1 (or absent)."""
    return orientation not in (1, None)


def upright_image(im: Any, fmt: str) -> tuple[bytes, int, int, str]:
    """An opened, loaded PIL image -> (EXIF-transposed bytes, width, height, format): JPEG stays JPEG (q95), the
    rest becomes PNG. The one uprighting both modes use, so their bytes are identical."""
    from PIL import ImageOps

    up = ImageOps.exif_transpose(im)
    buf = io.BytesIO()
    if fmt == "JPEG":
        up.convert("RGB").save(buf, format="JPEG", quality=95)
    else:
        up.save(buf, format="PNG")
        fmt = "PNG"
    return buf.getvalue(), up.size[0], up.size[1], fmt


def upright_bytes(data: bytes, orientation: int | None) -> bytes:
    """A source file's bytes -> the upright encoded bytes ingest would have stored for it."""
    if not needs_upright(orientation):
        return data
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        fmt = "JPEG" if im.format in ("JPEG", "MPO") else (im.format or "?")
        im.load()
        return upright_image(im, fmt)[0]


def read_verified(uri: str, content_hash: str | None) -> bytes:
    """The source file's bytes, checked against the SHA-256 ingest recorded; SourceChanged when it differs or is gone."""
    try:
        data = read_bytes(uri)
    except OSError as exc:  # FileNotFoundError included, from a local path or an fsspec filesystem
        raise SourceChanged(f"source changed since ingest: {uri} (gone: {type(exc).__name__}: {exc})") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != content_hash:
        raise SourceChanged(f"source changed since ingest: {uri} (sha256 {digest[:16]}, ingest had {str(content_hash)[:16]})")
    return data


def row_image_bytes(row: dict[str, Any]) -> bytes:
    """A kept ingest row's upright encoded image: its own bytes (copy), or the referenced file read, verified and
    made upright (reference). Every reader of a photo goes through here."""
    data = row.get("image")
    if data is not None:
        return data
    if row.get("stored", REFERENCE) != REFERENCE:
        raise ValueError(f"{row.get('source_uri')}: a copied row without image bytes")
    return upright_bytes(read_verified(row["source_uri"], row.get("content_hash")), row.get("orientation"))

