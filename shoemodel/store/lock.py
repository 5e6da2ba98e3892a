"""One writer per output folder: an advisory lock file that names its holder.

A second run on the same folder would interleave shards and parts; it gets `FolderLocked` saying
which process (pid, host, command, start time) holds the folder. The lock is an OS file lock
(`fcntl.flock`), so it goes away with the process even after `kill -9`; the file is only a note.
It lies beside the folder (`.NAME.lock`), so the folder's content (and its DVC hash) stays the data.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path


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
    """Hold the write lock of `folder` (created if absent) for the block; FolderLocked if another process has it."""
    import fcntl

    from shoemodel.store.atomic import WriteError, describe_os_error

    folder = Path(folder)
    path = lock_path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise WriteError(exc.errno, describe_os_error(exc, folder)) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            h = holder(folder)
            who = (f"pid {h.get('pid', '?')} on {h.get('host', '?')} ({h.get('command', '?')}, since {h.get('since', '?')})"
                   if h else "another process")
            raise FolderLocked(f"{folder} is being written by {who}; wait for it to finish or use another output folder") from None
        note = {"pid": os.getpid(), "host": socket.gethostname(), "command": command or redact(sys.argv),
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(note) + "\n").encode())
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def folder_locks(*folders: str | Path, command: str | None = None) -> Iterator[None]:
    """Lock several folders (in a fixed order, so two runs cannot deadlock)."""
    with contextlib.ExitStack() as stack:
        for f in sorted({str(Path(f).resolve()) for f in folders}):
            stack.enter_context(folder_lock(f, command))
        yield
