"""One writer per output folder: an advisory lock file that names its holder.

A second run on the same folder would interleave shards and parts; it gets `FolderLocked` saying
which process (pid, host, command, start time) holds the folder. The lock is an OS file lock
(`fcntl.flock`), so it goes away with the process even after `kill -9`; the file is only a note, removed
when the run ends (normally or by Ctrl-C); one left by a killed run is taken over with a one-line note.
It lies beside the folder (`.NAME.lock`), so the folder's content (and its DVC hash) stays the data.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


class FolderLocked(RuntimeError):
    """Another live process is writing the folder; the message names it."""


def lock_path(folder: str | Path) -> Path:
    """The lock file of `folder`: `.NAME.lock` in its parent."""
    folder = Path(folder).resolve()
    return folder.parent / f".{folder.name}.lock"


def holder(folder: str | Path) -> dict:
    """What the lock file says about its holder ({} when none or unreadable)."""
    try:
        return json.loads(lock_path(folder).read_text() or "{}")
    except (OSError, ValueError):
        return {}


_SECRET_WORDS = ("token", "password", "secret", "key")


def redact(argv: list[str]) -> str:
    """The command line with the value of any --token/--password/--secret/--key style option replaced by ***."""
    out: list[str] = []
    hide_next = False
    for a in argv:
        if hide_next:
            out.append("***")
            hide_next = False
            continue
        name, eq, _value = a.partition("=")
        secret = name.startswith("-") and any(w in name.lower() for w in _SECRET_WORDS)
        if secret and eq:
            out.append(f"{name}=***")
        else:
            out.append(a)
            hide_next = secret
    return " ".join(out)


@contextlib.contextmanager
def folder_lock(folder: str | Path, command: str | None = None) -> Iterator[Path]:
    """Hold the write lock of `folder` (created if absent) for the block; FolderLocked if another process has it.

    The lock file is removed when the block ends, normally or by an exception (Ctrl-C included), so nothing is
    left beside the output. One left by a killed run is taken over, with a one-line note naming that run."""
    from shoemodel.store.atomic import WriteError, describe_os_error

    folder = Path(folder)
    path = lock_path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(exc.errno, describe_os_error(exc, folder)) from exc
    fd = _acquire(folder, path)
    try:
        stale = _read_note(fd)
        if stale:
            log.warning("took over the stale lock of %s: pid %s on %s (%s, since %s) is gone", folder, stale.get("pid", "?"),
                        stale.get("host", "?"), stale.get("command", "?"), stale.get("since", "?"))
        note = {"pid": os.getpid(), "host": socket.gethostname(), "command": command or redact(sys.argv),
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(note) + "\n").encode(), 0)
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # while still holding the lock: a waiting opener of this file retries on the new one
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(folder: Path, path: Path) -> int:
    """Open and flock the lock file; retried when the file was removed (by its releasing holder) meanwhile, so two
    processes never hold locks on two different files of one name."""
    import fcntl

    from shoemodel.store.atomic import WriteError, describe_os_error

    for _ in range(100):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise WriteError(exc.errno, describe_os_error(exc, folder)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            h = holder(folder)
            os.close(fd)
            who = (f"pid {h.get('pid', '?')} on {h.get('host', '?')} ({h.get('command', '?')}, since {h.get('since', '?')})"
                   if h else "another process")
            raise FolderLocked(f"{folder} is being written by {who}; wait for it to finish or use another output folder") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise FolderLocked(f"{folder}: its lock file {path} keeps changing; is another run starting and stopping?")


def _read_note(fd: int) -> dict:
    """What a lock file we just acquired says (a note left there means its run died without removing it)."""
    try:
        text = os.pread(fd, 4096, 0).decode(errors="replace").strip()
        return json.loads(text) if text else {}
    except (OSError, ValueError):
        return {"pid": "?"}


@contextlib.contextmanager
def folder_locks(*folders: str | Path, command: str | None = None) -> Iterator[None]:
    """Lock several folders (in a fixed order, so two runs cannot deadlock)."""
    with contextlib.ExitStack() as stack:
        for f in sorted({str(Path(f).resolve()) for f in folders}):
            stack.enter_context(folder_lock(f, command))
        yield
