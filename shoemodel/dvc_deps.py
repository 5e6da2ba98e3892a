"""DVC code deps from the import graph: each stage lists exactly the project modules its command imports.

Hand-written code deps drift from the imports (a stage misses a module it uses, and editing that module reruns
nothing), so they are generated here and checked in the tests:

    python -m shoemodel.dvc_deps --check   # exit 1 naming each stage's missing / extra code deps
    python -m shoemodel.dvc_deps --write   # rewrite the `deps:` lists of dvc.yaml and annotation/dvc.yaml

What a command imports: the project modules that `shoemodel` loads before it dispatches (the CLI tables, measured
by importing them), plus, statically, what the command's function uses. Using a function follows its body: its
imports (the project imports lazily inside functions), the module's names it refers to, and any string literal that
names a project module (`"shoemodel.x.y"` or `"shoemodel.x.y:name"`, as registries and `import_module` take). A
module that is loaded runs its top-level code (followed the same way) and its packages' `__init__.py`; a module
taken as a whole (`import a.b`, `from a import b` of a module) has every function followed. Only `deps:` entries
under `shoemodel/` are rewritten; data deps keep their place and order. A folder is written instead of its files
when every module in it is used.

A registry whose table names builder modules (shoemodel.curation.backends) declares `IMPORTS_BUILDERS_THROUGH`, the
functions that import them: the module strings of its top-level table are followed only when one of those is used,
so a command that reads the registry's names or types (every config class does) does not depend on every backend.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = "shoemodel"
ROOT = Path(__file__).resolve().parent.parent
PIPELINES = ("dvc.yaml", "annotation/dvc.yaml")
_MODULE_STRING = re.compile(rf"^{PACKAGE}(\.\w+)+(:\w+)?$")


# ---- modules and their top-level names ----

def module_file(module: str) -> Path | None:
    """The source file of a project module (package -> its __init__.py), or None when there is none."""
    base = ROOT.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


@dataclass
class _Module:
    """One parsed module: its top-level definitions and where each imported name comes from."""

    name: str
    tree: ast.Module
    defs: dict[str, ast.AST] = field(default_factory=dict)  # top-level def / class
    bound: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name -> (module, attr or None)


def _resolve_from(mod: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = mod.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(mod: str, is_package: bool, node: ast.AST) -> list[tuple[str, str | None, str]]:
    """(module, attribute or None, bound name) of one import statement, project modules only."""
    out: list[tuple[str, str | None, str]] = []
    if isinstance(node, ast.Import):
        for a in node.names:
            if a.name == PACKAGE or a.name.startswith(PACKAGE + "."):
                out.append((a.name, None, a.asname or a.name.split(".")[0]))
    elif isinstance(node, ast.ImportFrom):
        src = _resolve_from(mod, is_package, node)
        if src == PACKAGE or src.startswith(PACKAGE + "."):
            out.extend((src, a.name, a.asname or a.name) for a in node.names)
    return out


@cache
def _parse(module: str) -> _Module | None:
    path = module_file(module)
    if path is None:
        return None
    tree = ast.parse(path.read_text(), str(path))
    info = _Module(module, tree)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            info.defs[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    info.defs[target.id] = node.value
        for src, attr, name in _imports(module, path.name == "__init__.py", node):
            info.bound[name] = (src, attr)
    return info


def _calls_project(info: _Module, node: ast.AST) -> bool:
    """Whether a top-level statement calls a project function or class as the module is imported."""
    return any(isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and (c.func.id in info.defs or c.func.id in info.bound)
               for c in ast.walk(node))


def _builder_functions(info: _Module) -> tuple[str, ...]:
    """The functions through which a registry module imports the builder modules its table names (none: not one)."""
    node = info.defs.get("IMPORTS_BUILDERS_THROUGH")
    if not isinstance(node, (ast.Tuple, ast.List)):
        return ()
    return tuple(e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))


# ---- the closure ----

class _Graph:
    """Walks what a command uses; `files` collects every project module file reached."""

    def __init__(self) -> None:
        self.files: set[Path] = set()
        self._done: set[tuple[str, str]] = set()
        self._deferred: dict[str, list[str]] = {}  # registry module -> its table's module strings, not yet followed
        self._defer_to: str | None = None  # while loading a registry: the module its strings are deferred to

    def load(self, module: str) -> None:
        """`module` is imported: its packages' __init__ and its top-level code run."""
        if ("load", module) in self._done:
            return
        self._done.add(("load", module))
        parts = module.split(".")
        for i in range(1, len(parts)):
            self.load(".".join(parts[:i]))
        info = _parse(module)
        if info is None:
            return
        self.files.add(module_file(module))
        if _builder_functions(info):
            self._deferred.setdefault(module, [])
        for node in info.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for part in [*node.decorator_list, node.args]:  # run at import; the body does not
                    self._walk(info, part)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for src, attr, _ in _imports(module, module_file(module).name == "__init__.py", node):
                    self._import(src, attr)
            elif not isinstance(node, (ast.Assign, ast.AnnAssign)) or _calls_project(info, node):
                self._defer_to = module if module in self._deferred else None
                try:
                    self._walk(info, node)  # a constant table is followed where a function uses it
                finally:
                    self._defer_to = None

    def whole(self, module: str) -> None:
        """Every function of `module` may run (it was imported as a module object)."""
        if ("whole", module) in self._done:
            return
        self._done.add(("whole", module))
        self.load(module)
        info = _parse(module)
        for name in info.defs if info else ():
            self.use(module, name)

    def use(self, module: str, name: str) -> None:
        """`module.name` is used: follow its definition (or what the name was imported from)."""
        if (module, name) in self._done:
            return
        self._done.add((module, name))
        self.load(module)
        info = _parse(module)
        if info is None:
            return
        if name in _builder_functions(info):
            for text in self._deferred.pop(module, []):
                self._string(text)
        if name in info.defs:
            self._walk(info, info.defs[name])
        elif name in info.bound:
            self._import(*info.bound[name])
        elif module_file(f"{module}.{name}"):
            self.whole(f"{module}.{name}")

    def function(self, module: str, lineno: int) -> None:
        """A command callback (possibly a nested function): its module loads and its body is followed."""
        self.load(module)
        info = _parse(module)
        for node in ast.walk(info.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                    min([node.lineno] + [d.lineno for d in node.decorator_list]) == lineno:
                self._walk(info, node)
                return
        raise LookupError(f"no function at {module}:{lineno}")

    def _import(self, src: str, attr: str | None) -> None:
        if attr is None:
            self.whole(src)
        elif attr == "*":
            self.whole(src)
        elif module_file(f"{src}.{attr}"):
            self.load(src)
            self.whole(f"{src}.{attr}")
        else:
            self.use(src, attr)

    def _string(self, text: str) -> None:
        target, _, attr = text.partition(":")
        if attr:
            self.use(target, attr)
        elif module_file(target):
            self.whole(target)
        elif "." in target and module_file(target.rsplit(".", 1)[0]):
            self.use(*target.rsplit(".", 1))

    def _walk(self, info: _Module, node: ast.AST) -> None:
        is_package = module_file(info.name).name == "__init__.py"
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                for src, attr, _ in _imports(info.name, is_package, sub):
                    self._import(src, attr)
            elif isinstance(sub, ast.Name) and (sub.id in info.defs or sub.id in info.bound):
                self.use(info.name, sub.id)
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and _MODULE_STRING.match(sub.value):
                if self._defer_to is not None:
                    self._deferred[self._defer_to].append(sub.value)
                else:
                    self._string(sub.value)


# ---- stage commands -> functions ----

@cache
def _cli_tree() -> dict[tuple[str, ...], list[Any]]:
    """Command path -> the callbacks that run for it (group callbacks, then the command's function)."""
    import typer.main

    from shoemodel.cli import app

    table: dict[tuple[str, ...], list[Any]] = {}

    def walk(group: Any, path: tuple[str, ...], callbacks: list[Any]) -> None:
        if group.registered_callback and group.registered_callback.callback:
            callbacks = [*callbacks, group.registered_callback.callback]
        elif group.info.callback:
            callbacks = [*callbacks, group.info.callback]
        for cmd in group.registered_commands:
            name = cmd.name or typer.main.get_command_name(cmd.callback.__name__)
            table[(*path, name)] = [*callbacks, cmd.callback]
        for sub in group.registered_groups:
            sub_callbacks = [*callbacks, sub.callback] if sub.callback else callbacks
            walk(sub.typer_instance, (*path, sub.name or sub.typer_instance.info.name), sub_callbacks)

    walk(app, (), [])
    return table


def command_modules(cmd: str | list[str], table: dict[tuple[str, ...], list[Any]]) -> set[Path]:
    """The project module files a stage's `cmd` imports: `shoemodel ...` lines (or `python -m shoemodel.x ...`); any
    other command is an error, since its imports cannot be told (its deps would silently miss them)."""
    graph = _Graph()
    for line in [cmd] if isinstance(cmd, str) else cmd:
        words = str(line).split()
        if words[:2] == ["python", "-m"] and len(words) > 2 and module_file(words[2]):
            graph.whole(words[2])
            continue
        if not words or words[0] != PACKAGE:
            raise LookupError(f"cannot tell which project modules this command imports: {line}")
        match = max((path for path in table if tuple(words[1:1 + len(path)]) == path), key=len, default=None)
        if match is None:
            raise LookupError(f"no `shoemodel` command matches: {line}")
        for fn in table[match]:
            graph.function(fn.__module__, fn.__code__.co_firstlineno)
    return graph.files


# ---- dvc.yaml ----

def _is_code(dep: Any) -> bool:
    return isinstance(dep, str) and (dep == PACKAGE or dep.startswith(PACKAGE + "/"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def collapse(files: set[Path]) -> list[str]:
    """Sorted deps for `files`: a folder below the package root instead of its files when all its modules are used."""
    rels = {_rel(f) for f in files}
    folders: list[str] = []
    for d in sorted({p.parent for p in files}, key=lambda p: len(p.parts)):
        if d == ROOT / PACKAGE or any(_rel(d).startswith(f + "/") for f in folders):
            continue
        if all(_rel(p) in rels for p in d.rglob("*.py") if "__pycache__" not in p.parts):
            folders.append(_rel(d))
    kept = [r for r in rels if not any(r.startswith(f + "/") for f in folders)]
    return sorted(kept + folders)


def covered(path: str, deps: list[str]) -> bool:
    """Whether a dep in `deps` (the file itself or a folder above it) tracks `path`."""
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


@dataclass
class StageDeps:
    """One stage's code deps: as listed in its dvc.yaml and as its command's imports make them."""

    pipeline: str
    stage: str
    listed: list[str]
    wanted: list[str]
    needed: set[str]  # every module file the command imports

    @property
    def missing(self) -> list[str]:
        return sorted(p for p in self.needed if not covered(p, self.listed))

    @property
    def extra(self) -> list[str]:
        return sorted(set(self.listed) - set(self.wanted))


def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _stage_bodies(stages: Any) -> list[tuple[str, Any]]:
    return [(name, body["do"] if "foreach" in body else body) for name, body in stages.items()]


def pipeline_deps(pipeline: str) -> list[StageDeps]:
    """Listed vs generated code deps of every stage of one dvc.yaml (foreach stages once: their cmd's words match)."""
    table = _cli_tree()
    doc = _yaml().load((ROOT / pipeline).read_text())
    out = []
    for name, body in _stage_bodies(doc.get("stages", {})):
        files = command_modules(body.get("cmd", ""), table)
        listed = [d for d in body.get("deps", []) or [] if _is_code(d)]
        out.append(StageDeps(pipeline, name, listed, collapse(files), {_rel(f) for f in files}))
    return out


def write(pipeline: str) -> int:
    """Rewrite `pipeline`'s code deps in place, as text: only their lines change (the generated list takes the
    place of the first code dep; every other line, comment and data dep stays). Returns the dep lines changed."""
    path = ROOT / pipeline
    lines = path.read_text().splitlines(keepends=True)
    doc = _yaml().load("".join(lines))
    by_stage = {s.stage: s for s in pipeline_deps(pipeline)}
    edits: list[tuple[int, int, list[str]]] = []  # (first line, lines to drop, lines to insert), 0-based
    changed = 0
    for name, body in _stage_bodies(doc.get("stages", {})):
        want = by_stage[name].wanted
        deps = body.get("deps")
        if not deps:
            if want:
                raise ValueError(f"{pipeline}: stage {name} has no deps list to write its code deps into")
            continue
        old = [d for d in deps if _is_code(d)]
        changed += len(set(old) ^ set(want))
        if old == want:
            continue
        rows = [deps.lc.item(i) for i in range(len(deps))]
        code_rows = [row for (row, _), d in zip(rows, deps) if _is_code(d)]
        col = rows[0][1]
        at = code_rows[0] if code_rows else max(row for row, _ in rows) + 1
        for row in code_rows:
            edits.append((row, 1, []))
        edits.append((at, 0, [f"{' ' * (col - 2)}- {d}\n" for d in want]))
    for row, drop, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):  # drop before insert
        lines[row:row + drop] = new
    if changed:
        path.write_text("".join(lines))
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shoemodel.dvc_deps", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 when a stage's code deps differ from its imports")
    mode.add_argument("--write", action="store_true", help="rewrite the code deps of dvc.yaml and annotation/dvc.yaml")
    args = parser.parse_args(argv)
    pipelines = [p for p in PIPELINES if (ROOT / p).is_file()]
    if args.write:
        for p in pipelines:
            print(f"{p}: {write(p)} code dep lines changed")
        return 0
    bad = 0
    for p in pipelines:
        for s in pipeline_deps(p):
            if s.listed != s.wanted:
                bad += 1
                print(f"{p}:{s.stage}: missing {s.missing or '-'}; extra {s.extra or '-'}"
                      + ("" if s.missing or s.extra else "; order differs"))
    if bad:
        print(f"{bad} stage(s) drift from their imports; run: python -m shoemodel.dvc_deps --write")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
