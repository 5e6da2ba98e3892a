"""SIGTERM on a serving command stops every process it started: a server two levels down gives its port back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

# A command as `browse` is: it installs the handler, then starts a helper that starts a server holding a port.
_COMMAND = textwrap.dedent("""
    import subprocess, sys, time
    from shoemodel.children import stop_children_on_sigterm
    stop_children_on_sigterm()
    helper = subprocess.Popen([sys.executable, "-c", (
        "import subprocess, sys, time;"
        "s = subprocess.Popen([sys.executable, '-m', 'http.server', '--bind', '127.0.0.1', sys.argv[1]]);"
        "print(s.pid, flush=True); time.sleep(600)"), sys.argv[1]], stdout=subprocess.PIPE, text=True)
    server = int(helper.stdout.readline())
    print(helper.pid, server, flush=True)
    time.sleep(600)
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_sigterm_stops_the_whole_process_tree_and_frees_the_port() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-c", _COMMAND, str(port)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        helper, server = map(int, proc.stdout.readline().split())
        deadline = time.time() + 30
        while not _listening(port):
            assert time.time() < deadline, "the server never listened"
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGTERM
        assert _gone(helper) and _gone(server)
        assert not _listening(port), "the server still holds its port"
    finally:
        if proc.poll() is None:
            proc.kill()
