"""SIGTERM stops a serving command and every process it started.

`browse` (FiftyOne's App server and its MongoDB), `demo` (Gradio) and `annotate ml-backend` start helper processes.
Python's default SIGTERM ends the command at once, without its cleanup, and the helpers live on holding their
ports. With `stop_children_on_sigterm()`, SIGTERM (and SIGHUP) ends the children (their own children first seen,
the whole tree), waits a moment for them, kills what is left, then exits with 128 + the signal number.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

GRACE_S = 5.0  # what a child gets to shut down cleanly (MongoDB flushes its journal) before SIGKILL


def stop_children(grace_s: float = GRACE_S) -> list[int]:
    """Terminate every descendant process of this one (SIGTERM, then SIGKILL after `grace_s`); their pids."""
    import psutil

    try:
        kids = psutil.Process().children(recursive=True)
    except psutil.Error:
        return []
    for p in kids:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(kids, timeout=grace_s)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace_s)
    return [p.pid for p in kids]


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second signal ends us at once
    stop_children()
    sys.stderr.flush()
    os._exit(128 + signum)  # the servers' threads would keep a normal exit waiting


def stop_children_on_sigterm() -> None:
    """Install the handler (main thread only, as Python requires): SIGTERM / SIGHUP stop the whole process tree."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
