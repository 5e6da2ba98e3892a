"""The two options every `shoemodel` command takes, `--params` and `--set`, and how a command turns them into its config.

- `--params PATH`: the params file [default: $SHOEMODEL_PARAMS, else ./params.yaml; built-in defaults when
  ./params.yaml is absent]. A file named but missing is an error. Given before the command
  (`shoemodel --params p.yaml train wd`) or after it; after wins.
- `--set KEY=VALUE` (repeatable): KEY is the params.yaml dotted path (`train.wd.steps=3`, the key
  `dvc exp run -S` takes) or relative to the command's section (`steps=3`); VALUE is YAML.
- Order: the file, then --set (the root's, then the command's), then the command's own flags.
- Relative paths in the file are read against the file's folder; those on the command line against the
  current folder. A bad file or key is one line on stderr and exit code 2.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from shoemodel.config import load_section, params_path, parse_set

T = TypeVar("T")

PARAMS = typer.Option(
    None, "--params", metavar="PATH", show_default=False,
    help="Params file (default: $SHOEMODEL_PARAMS, else ./params.yaml (built-in defaults when absent)). "
         "Relative paths in it are read against its folder.")
SET = typer.Option(
    None, "--set", metavar="KEY=VALUE", show_default=False,
    help="Set one params field for this run (repeatable): KEY is the params.yaml dotted path "
         "(train.wd.steps=3, as `dvc exp run -S` takes) or relative to the command's section (steps=3); "
         "VALUE is YAML (2e-3, true, null, \\[a, b]). Paths are read against the current folder.")


@dataclass
class RootOptions:
    """`--params` / `--set` given before the command name."""

    params: Path | None = None
    sets: list[str] = field(default_factory=list)


#: The root's options while one `shoemodel` invocation runs (reset when it ends, so none leak into the next).
_ROOT: ContextVar[RootOptions | None] = ContextVar("shoemodel_root_options", default=None)


def root_callback(ctx: typer.Context, params: Path | None = PARAMS, set_: list[str] | None = SET) -> None:
    """ShoeModel toolkit: build the shoe-wearing dataset, train WD / LpS / SW, benchmark, generate."""
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

    def load(self, cls: type[T], section: str, flags: dict[str, Any] | None = None,
             implied: dict[str, Any] | None = None) -> T:
        """Dataclass `cls` from `section`: file, `implied`, --set, then `flags` (None: not given)."""
        sets = [s for s in self.sets if self.section_of(parse_set(s)[0]) == section]
        try:
            return load_section(cls, section, self.params, flags, sets, implied)
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
        for item in items:
            parse_set(item)
    except (ValueError, FileNotFoundError) as exc:
        fail(str(exc))
    if items and not sections:
        fail(f"--set {items[0]}: this command reads no params section")
    return CommandConfig(path, items, sections)
