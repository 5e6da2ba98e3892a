"""Content hashes of input files, with size + mtime as the fast check and SHA-256 as the truth.

Resume keys (per shard, per part) must change when a file's content changes, but hashing every
photo on every no-op rerun would cost as much as reading them. The cache remembers (size, mtime_ns,
sha256) per path; a file whose size and mtime are unchanged is not read again, any other is re-hashed.

Such caches live beside an output folder, never in it (`cache_dir`): a DVC output must hash the same in a fresh
clone, whose files have other mtimes and whose folder has another path.
"""

from __future__ import annotations

import json
from pathlib import Path

from shoemodel.store.atomic import atomic_write_text
from shoemodel.store.manifest import file_sha256

CACHE_DIR = ".shoemodel-cache"


def cache_dir(out: str | Path) -> Path:
    """The folder of the mtime-keyed caches of output folder `out`: OUT/../.shoemodel-cache/OUT_NAME."""
    out = Path(out)
    return out.parent / CACHE_DIR / out.name


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
        self.remember(file, st.st_size, st.st_mtime_ns, digest)
        return digest

    def remember(self, file: str | Path, size: int, mtime_ns: int, digest: str) -> None:
        """Record a file hashed elsewhere (a worker that wrote it), so the next run trusts it on size + mtime."""
        self._known[str(file)] = [size, mtime_ns, digest]
        self._dirty = True

    def save(self) -> None:
        """Write the cache if anything was hashed."""
        if self._dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(self._known))
            self._dirty = False
