"""Atomic file writes: write to a temporary name in the same folder, fsync, then rename.

Finished files get the permissions a plain `open()` would give (0666 less the umask), not the 0600
of a temporary file, so Dask workers and colleagues under another user can read the sets. A write
that fails because the disk is full or read-only raises `WriteError` with one line naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_UMASK: list[int] = []
_WHY = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded", errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied", errno.EPERM: "permission denied"}


class WriteError(OSError):
    """A file could not be written (disk full, read-only, no permission); the message is one line for the user."""

    def __str__(self) -> str:
        return str(self.strerror)


def describe_os_error(exc: OSError, path: str | Path) -> str:
    """'cannot write PATH: disk full' style text for the errors a user can fix."""
    why = _WHY.get(exc.errno or -1, exc.strerror or type(exc).__name__)
    return f"cannot write {path}: {why}"


def user_os_error(exc: BaseException) -> bool:
    """True for the OS errors a user fixes (disk full, read-only, permissions): shown as one line, not a traceback."""
    return isinstance(exc, OSError) and (isinstance(exc, WriteError) or exc.errno in _WHY)


def file_mode() -> int:
    """0666 less the process umask (read once; os.umask can only be read by setting it)."""
    if not _UMASK:
        old = os.umask(0o022)
        os.umask(old)
        _UMASK.append(old)
    return 0o666 & ~_UMASK[0]


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `final`; rename it onto `final` only if the block succeeds."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
    except OSError as exc:
        raise WriteError(exc.errno, describe_os_error(exc, final)) from exc
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            os.chmod(tmp_path, file_mode())
            with open(tmp_path, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp_path, final)
        except OSError as exc:
            if isinstance(exc, WriteError) or exc.errno not in _WHY:
                raise
            raise WriteError(exc.errno, describe_os_error(exc, final)) from exc
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(final: str | Path, text: str) -> None:
    """Write text to `final` atomically."""
    with atomic_path(final) as tmp:
        tmp.write_text(text)


def remove_stale_temporaries(folder: str | Path) -> int:
    """Delete temporary files a crashed writer left behind; returns how many."""
    n = 0
    for p in Path(folder).glob(".*.tmp"):
        p.unlink(missing_ok=True)
        n += 1
    return n


def write_json(final: str | Path, obj: Any) -> None:
    """Write `obj` as indented, key-sorted JSON atomically (NumPy scalars and arrays allowed)."""
    atomic_write_text(final, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_bytes_if_changed(final: str | Path, data: bytes) -> bool:
    """Write `data` to `final` (atomically) unless the file already holds exactly these bytes; True when written.

    Media exported for viewers are named by record id: a rebuilt set with a corrected mask must replace
    the old file, not keep it because a file of that name exists."""
    final = Path(final)
    try:
        if final.stat().st_size == len(data) and final.read_bytes() == data:
            return False
    except OSError:
        pass
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)
    return True
