"""Content hashes of input files, with size + mtime as the fast check and SHA-256 as the truth.

Resume keys (per shard, per part) must change when a file's content changes, but hashing every
photo on every no-op rerun would cost as much as reading them. The cache remembers (size, mtime_ns,
sha256) per path; a file whose size and mtime are unchanged is not read again, any other is re-hashed.
"""

from __future__ import annotations

import json
from pathlib import Path

from shoemodel.store.atomic import atomic_write_text
from shoemodel.store.manifest import file_sha256


class ContentCache:
    """path -> SHA-256, remembered in a JSON file between runs (written by `save`)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._known: dict[str, list] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self._known = {}
        self._dirty = False
        self.hashed = 0  # files read and hashed this run (the rest were trusted on size + mtime)

    def digest(self, file: str | Path) -> str | None:
        """SHA-256 of `file`, or None when it cannot be read (the record then fails with its own reason)."""
        key = str(file)
        try:
            st = Path(file).stat()
        except OSError:
            return None
        known = self._known.get(key)
        if known and known[0] == st.st_size and known[1] == st.st_mtime_ns:
            return known[2]
        try:
            digest = file_sha256(file)
        except OSError:
            return None
        self.hashed += 1
        self._known[key] = [st.st_size, st.st_mtime_ns, digest]
        self._dirty = True
        return digest

    def save(self) -> None:
        """Write the cache if anything was hashed."""
        if self._dirty:
            atomic_write_text(self.path, json.dumps(self._known))
            self._dirty = False
