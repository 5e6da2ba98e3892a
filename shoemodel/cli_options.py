"""The two options every `shoemodel` command takes, `--params` and `--set`, and how a command turns them into its config.

- `--params PATH`: the params file [default: $SHOEMODEL_PARAMS, else ./params.yaml; built-in defaults when
  ./params.yaml is absent]. A file named but missing is an error. Given before the command
  (`shoemodel --params p.yaml train wd`) or after it; after wins.
- `--set KEY=VALUE` (repeatable): KEY is the params.yaml dotted path (`train.wd.steps=3`, the key
  `dvc exp run -S` takes) or relative to the command's section (`steps=3`); VALUE is YAML.
- Order: the file, then --set (the root's, then the command's), then the command's own flags.
- Relative paths in the file are read against the file's folder; those on the command line against the
  current folder. A bad file, key or value is one line on stderr and exit code 2; a mistake in the params file
  (YAML syntax, an unknown section or key, with "did you mean") names the file and the line (`p.yaml:4: ...`).
- Which config class reads which section: `shoemodel.config_registry.SECTIONS`, the one table.
- Any other error is one line too (exit 1; a full disk, read-only folder or denied permission names the
  path); `--debug` or SHOEMODEL_DEBUG=1 shows the traceback instead.
- Libraries' own messages (MediaPipe/TFLite, MongoDB, weight-loading bars) go to a log file (shoemodel/quiet.py);
  `--verbose` or SHOEMODEL_VERBOSE=1 shows them.
"""

from __future__ import annotations

import errno
import io
import os
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, NoReturn, TypeVar

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from shoemodel import quiet
from shoemodel.config import ConfigTypeError, check_params_file, load_section, params_path, parse_set
from shoemodel.config_registry import config_class

T = TypeVar("T")

PARAMS = typer.Option(
    None, "--params", metavar="PATH", show_default=False,
    help="Params file (default: $SHOEMODEL_PARAMS, else ./params.yaml (built-in defaults when absent)). "
         "Relative paths in it are read against its folder.")
SET = typer.Option(
    None, "--set", metavar="KEY=VALUE", show_default=False,
    help="Set one params field for this run (repeatable): KEY is the params.yaml dotted path "
         "(train.wd.steps=3, as `dvc exp run -S` takes) or relative to the command's section (steps=3); "
         "VALUE is YAML (2e-3, true, null, [a, b]). Paths are read against the current folder.")


@dataclass
class RootOptions:
    """`--params` / `--set` given before the command name."""

    params: Path | None = None
    sets: list[str] = field(default_factory=list)


#: The root's options while one `shoemodel` invocation runs (reset when it ends, so none leak into the next).
_ROOT: ContextVar[RootOptions | None] = ContextVar("shoemodel_root_options", default=None)


DEBUG_ENV = "SHOEMODEL_DEBUG"


#: `--debug` given for the invocation running now.
_DEBUG: ContextVar[bool] = ContextVar("shoemodel_debug", default=False)


def debugging() -> bool:
    """Whether errors show their traceback (`shoemodel --debug ...`, or SHOEMODEL_DEBUG=1)."""
    return _DEBUG.get() or os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")


def _version(value: bool) -> None:
    if value:
        from shoemodel import __version__

        typer.echo(f"shoemodel {__version__}")
        raise typer.Exit(0)


def root_callback(ctx: typer.Context, params: Path | None = PARAMS, set_: list[str] | None = SET,
                  debug: bool = typer.Option(False, "--debug", help="Show the full traceback of an error "
                                             "(also SHOEMODEL_DEBUG=1)."),
                  verbose: bool = typer.Option(False, "--verbose", help="Show the libraries' own messages "
                                               "(MediaPipe/TFLite, MongoDB, weight loading); else they go to "
                                               "$SHOEMODEL_LOG_FILE, default ~/.cache/shoemodel/third_party.log "
                                               "(also SHOEMODEL_VERBOSE=1)."),
                  version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                               help="Print the version and exit.")) -> None:
    """ShoeModel toolkit: build the shoe-wearing dataset, train WD / LpS / SW, benchmark, generate."""
    _DEBUG.set(debug)
    quiet.set_verbose(verbose)
    if not ctx.resilient_parsing:
        ctx.with_resource(quiet.third_party_to_log())
    _ROOT.set(RootOptions(params, list(set_ or [])))
    ctx.call_on_close(lambda: _ROOT.set(None))


def group_callback(params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """`--params` / `--set` given after a group name (`shoemodel train --set train.wd.steps=3 wd`) apply to its command."""
    root = _ROOT.get() or RootOptions()
    _ROOT.set(RootOptions(params if params is not None else root.params, [*root.sets, *(set_ or [])]))


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit with `code` (no traceback: the message says what to fix)."""
    typer.secho(f"error: {' '.join(str(message).split())}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


_OS_ERRORS = {errno.ENOSPC: "no space left on the device", errno.EROFS: "read-only file system",
              errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
              errno.EDQUOT: "disk quota exceeded", errno.ENOENT: "not found"}


def _file_in_traceback(exc: BaseException) -> str | None:
    """The file being written when `exc` was raised (a write to a full disk names none itself): the innermost
    frame holding an open file or a path."""
    tb, frames = exc.__traceback__, []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames[-6:]):
        for value in frame.f_locals.values():
            if isinstance(value, io.IOBase) and isinstance(getattr(value, "name", None), str):
                return value.name
        for value in frame.f_locals.values():
            if isinstance(value, PurePath):
                return str(value)
    return None


def error_line(exc: BaseException) -> str:
    """What the user reads for an error that reached the top: the message; for OS errors, what and the path."""
    if isinstance(exc, OSError) and exc.errno in _OS_ERRORS:
        paths = [os.fsdecode(f) for f in (exc.filename, exc.filename2) if f is not None]
        if not paths and (found := _file_in_traceback(exc)) is not None:
            paths = [found]
        return f"{_OS_ERRORS[exc.errno]}: {' -> '.join(paths)}" if paths else f"{_OS_ERRORS[exc.errno]} ({exc})"
    text = " ".join(str(exc).split())
    if isinstance(exc, (ValueError, OSError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class OneLineErrors(TyperGroup):
    """The root group: an error no command turned into a message is still one line and exit code 1.

    The traceback is for developers: `--debug` (or SHOEMODEL_DEBUG=1) lets it through.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (Exit, Abort, TyperException):  # a clean exit, a usage error or Ctrl-C: typer reports them
            raise
        except Exception as exc:
            if debugging():
                raise
            typer.secho(f"error: {error_line(exc)} (--debug shows the traceback)", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None
        finally:
            _DEBUG.set(False)
            quiet.set_verbose(False)


def param_help(text: str, key: str) -> str:
    """`text [params.yaml: KEY, default VALUE]`, VALUE read from the section's config dataclass (where the default
    lives), so a help text never names a stale default."""
    from shoemodel.config_registry import section_for

    section = section_for(key)
    value: Any = config_class(section)() if section else None
    for part in key[len(section) + 1:].split(".") if section else []:
        value = getattr(value, part)
    shown = "none" if value in (None, "") else value
    return f"{text} [params.yaml: {key}, default {shown}]"


def need_path(path: str | Path, what: str, kind: str = "dir") -> Path:
    """`path` if it exists as a `kind` ("dir", "file" or "any"); else a one-line error naming `what`."""
    p = Path(path)
    ok = {"dir": p.is_dir, "file": p.is_file, "any": p.exists}[kind]()
    if not ok:
        fail(f"{what} not found: {p}" + ("" if kind == "any" or not p.exists() else f" (not a {kind})"))
    return p


@dataclass
class CommandConfig:
    """The params file and --set items of one command, routed to the sections it reads (the first is its own)."""

    params: Path | None
    sets: list[str]
    sections: tuple[str, ...]

    def section_of(self, key: str) -> str:
        """The section a --set key belongs to: the longest section it starts with, else the command's own."""
        named = [s for s in self.sections if key.startswith(s + ".")]
        return max(named, key=len) if named else self.sections[0]

    def load(self, section: str, flags: dict[str, Any] | None = None, implied: dict[str, Any] | None = None) -> Any:
        """The config of `section` (its class from the registry): file, `implied`, --set, then `flags` (None: not
        given)."""
        sets = [s for s in self.sets if self.section_of(parse_set(s)[0]) == section]
        try:
            return load_section(config_class(section), section, self.params, flags, sets, implied)
        except ConfigTypeError as exc:
            fail(str(exc))
        except (ValueError, FileNotFoundError) as exc:
            fail(f"{exc} (this command reads: {', '.join(self.sections)})" if str(exc).startswith("--set") else str(exc))


def command_config(params: Path | None, sets: list[str] | None, *sections: str) -> CommandConfig:
    """Merge this command's --params / --set with the root's and check them (missing file, malformed --set).

    `sections` are the params sections the command reads, its own first; a command that reads none
    refuses any --set.
    """
    root = _ROOT.get() or RootOptions()
    items = [*root.sets, *(sets or [])]
    try:
        path = params_path(params if params is not None else root.params)
        check_params_file(path)  # a YAML syntax error or an unknown section is this command's error too
        for item in items:
            parse_set(item)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    if items and not sections:
        fail(f"--set {items[0]}: this command reads no params section")
    return CommandConfig(path, items, sections)
