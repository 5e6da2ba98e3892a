"""Third-party noise off the console, into a log file; `shoemodel --verbose` (or SHOEMODEL_VERBOSE=1) shows it.

What a command prints is its own: progress bars, its tables and results, one-line errors. Libraries add lines that
read like errors: MediaPipe's C++ (TFLite, absl, glog) writes to file descriptor 2 from its own threads, which no
Python logging filter reaches; FiftyOne's MongoDB and the App server, children of ours, inherit that descriptor;
transformers / diffusers draw "Loading weights" bars and log notices. So, for one command run:

- descriptor 2 is pointed at the log file (children inherit it) while `sys.stderr`, the command's own error
  stream, keeps the terminal through a duplicate of the old descriptor 2;
- the loggers of the noisy libraries write to the same file instead of the console;
- the Hugging Face libraries' progress bars are off.

The log is $SHOEMODEL_LOG_FILE, else ~/.cache/shoemodel/third_party.log (appended, one header line a run): never
inside a pipeline output, so it cannot change a hash in dvc.lock. Only acts when `sys.stderr` is this process's
descriptor 2 (a real command run): under a test runner that captures output, nothing is redirected.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

VERBOSE_ENV = "SHOEMODEL_VERBOSE"
LOG_ENV = "SHOEMODEL_LOG_FILE"

#: The Python loggers of the libraries whose notices are not ours to show (their warnings go to the log too).
NOISY_LOGGERS = ("absl", "mediapipe", "fiftyone", "motor", "pymongo", "transformers", "diffusers", "huggingface_hub",
                 "accelerate", "urllib3", "PIL", "matplotlib", "gradio", "httpx", "uvicorn", "label_studio_sdk")

_VERBOSE: ContextVar[bool] = ContextVar("shoemodel_verbose", default=False)
_ACTIVE: list[tuple[logging.Handler, dict[str, tuple[list[logging.Handler], bool]]]] = []  # while redirected


def set_verbose(value: bool) -> None:
    """`--verbose` given for the invocation running now."""
    _VERBOSE.set(value)


def verbose() -> bool:
    """Whether third-party messages reach the console (`shoemodel --verbose ...`, or SHOEMODEL_VERBOSE=1)."""
    return _VERBOSE.get() or os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes")


def log_path() -> Path:
    """Where third-party messages go when they are not shown."""
    if os.environ.get(LOG_ENV):
        return Path(os.environ[LOG_ENV])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "shoemodel" / "third_party.log"


def _hf_quiet() -> None:
    """No "Loading weights" / download bars or load notices from the Hugging Face libraries (if imported later too)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GLOG_minloglevel", "2")
    for module in ("transformers", "diffusers"):
        if module in sys.modules:  # already imported: their env variables were read; set it directly
            with contextlib.suppress(Exception):
                lib = sys.modules[module].utils.logging
                lib.set_verbosity_error()
                lib.disable_progress_bar()


@contextlib.contextmanager
def third_party_to_log() -> Iterator[Path | None]:
    """For the `with` block: library noise to the log file (see the module note); yields the log path, or None when
    nothing was redirected (verbose, or stderr is not descriptor 2)."""
    if verbose() or not _is_fd2(sys.stderr):
        yield None
        return
    path = log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(path, "a", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
    except OSError:  # no writable cache folder: keep the console as it is rather than fail the command
        yield None
        return
    log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: shoemodel {' '.join(sys.argv[1:])}\n")
    _hf_quiet()
    old_stderr = sys.stderr
    old_stderr.flush()
    terminal_fd = os.dup(2)
    terminal = io.TextIOWrapper(os.fdopen(terminal_fd, "wb", buffering=0), encoding=old_stderr.encoding,
                                errors="backslashreplace", line_buffering=True, write_through=True)
    os.dup2(log.fileno(), 2)
    sys.stderr = terminal
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    saved: dict[str, tuple[list[logging.Handler], bool]] = {}
    _ACTIVE.append((handler, saved))
    adopt_loggers(*NOISY_LOGGERS)
    try:
        yield path
    finally:
        _ACTIVE.remove((handler, saved))
        for name, (handlers, propagate) in saved.items():
            lg = logging.getLogger(name)
            lg.handlers[:] = handlers
            lg.propagate = propagate
        with contextlib.suppress(Exception):
            terminal.flush()
        os.dup2(terminal_fd, 2)
        sys.stderr = old_stderr
        with contextlib.suppress(Exception):
            terminal.close()
        log.close()


def adopt_loggers(*names: str) -> None:
    """Send these loggers to the log file while library noise is redirected (no-op otherwise). For a library that
    installs its own console handler when imported (FiftyOne prints to stdout): call it after the import."""
    if not _ACTIVE:
        return
    handler, saved = _ACTIVE[-1]
    for name in names:
        lg = logging.getLogger(name)
        saved.setdefault(name, (lg.handlers[:], lg.propagate))
        lg.handlers[:] = [handler]
        lg.propagate = False


class _Diverting(io.TextIOBase):
    """stdout that sends a library's print() holding one of `markers` to the log (with the bare newline print adds)."""

    def __init__(self, out: Any, log: Any, markers: tuple[str, ...]):
        self._out, self._log, self._markers, self._eol = out, log, markers, False

    def write(self, text: str) -> int:
        if any(m in text for m in self._markers) or (self._eol and text == "\n"):
            self._eol = text != "\n"
            self._log.write(text.strip() + "\n")
            return len(text)
        self._eol = False
        return self._out.write(text)

    def flush(self) -> None:
        self._out.flush()

    def fileno(self) -> int:
        return self._out.fileno()

    def isatty(self) -> bool:
        return self._out.isatty()


@contextlib.contextmanager
def divert_prints(*markers: str) -> Iterator[None]:
    """While library noise is redirected, lines a library print()s to stdout (no logger to turn down, e.g. FiftyOne's
    "Could not connect session" while its App starts) go to the log when they hold one of `markers`."""
    if not _ACTIVE:
        yield
        return
    old = sys.stdout
    sys.stdout = _Diverting(old, _ACTIVE[-1][0].stream, markers)
    try:
        yield
    finally:
        sys.stdout = old


def _is_fd2(stream: object) -> bool:
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False
