"""One place for configuration: params.yaml sections loaded into typed dataclasses.

Each area defines its own dataclass next to its code; `load_section` fills it from the params file, then
from `--set key=value` texts and command-line flags, and rejects unknown keys with the section and key
named, so a typo never silently falls back to a default.

Paths: relative values of path fields (`ParamPath`) written in the params file, and the defaults of
those the file leaves out, are read against the params file's folder (the project root for the repo's
params.yaml), so a command run from another folder reads the same files. Values from the command line
are read against the current folder, as a user typing a path means.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from shoemodel.config_fields import (
    ParamPath,
    PathParam,
    dataclass_of,
    field_types,
    fits,
    literal_choices,
    parse_text,
    resolve_field,
    resolve_mapping,
    type_name,
    unknown_value,
)

__all__ = ["DEFAULT_PARAMS", "ConfigTypeError", "PARAMS_ENV", "ParamPath", "ParamsFileError", "PathParam", "changed_leaves",
           "check_params_file", "defaults_of", "from_dict", "load_params", "load_section", "params_path", "parse_set", "to_dict"]

T = TypeVar("T")

#: The params file read when neither --params nor $SHOEMODEL_PARAMS names one (built-in defaults if absent).
DEFAULT_PARAMS = Path("params.yaml")
PARAMS_ENV = "SHOEMODEL_PARAMS"


class ConfigTypeError(ValueError):
    """A value of the wrong type for its field; the message names the dotted key, the type and the value."""


def _check(here: str, value: Any, tp: Any, shown: str | None = None) -> Any:
    """`value` if it fits field type `tp`; else a ConfigTypeError naming `here` (`shown`: the text given, if any)."""
    if not fits(value, tp):
        choices = literal_choices(tp)
        if choices is not None and isinstance(value, str):  # a name out of a list (e.g. a backend): did you mean
            raise ConfigTypeError(unknown_value(here, value, choices))
        raise ConfigTypeError(f"{here}: expected {type_name(tp)}, got {repr(value) if shown is None else shown}")
    return value


def check_values(cls: type, values: Mapping[str, Any], where: str) -> None:
    """Refuse a value of the wrong type anywhere in `values` (params-file data for `cls`); unknown keys are left
    for `from_dict` to name."""
    types_ = field_types(cls)
    for name, value in values.items():
        if name not in types_:
            continue
        sub = dataclass_of(types_[name])
        if sub is not None and isinstance(value, dict):
            check_values(sub, value, f"{where}.{name}")
        else:
            _check(f"{where}.{name}", value, types_[name])


def params_path(path: str | Path | None = None) -> Path | None:
    """The params file to read: `path`, else $SHOEMODEL_PARAMS, else ./params.yaml; None when that default is absent.

    A file named explicitly (argument or environment) must exist: a typo there would otherwise run on defaults.
    """
    named = path if path is not None else os.environ.get(PARAMS_ENV) or None
    if named is None:
        return DEFAULT_PARAMS if DEFAULT_PARAMS.is_file() else None
    p = Path(named)
    if not p.is_file():
        origin = f"${PARAMS_ENV}" if path is None else "--params"
        raise FileNotFoundError(f"params file not found: {p} (from {origin})")
    return p


class ParamsFileError(ValueError):
    """A mistake in the params file itself (YAML syntax, an unknown section or key): the message names the file
    and the line, `FILE:LINE: ...`."""


def load_params(path: str | Path | None = None) -> dict[str, Any]:
    """Read the params file named as in `params_path` ({} only when the default ./params.yaml is absent).

    A YAML syntax error or a top level that is not a mapping is a ParamsFileError naming the file and the line.
    """
    p = params_path(path)
    if p is None:
        return {}
    text = p.read_text()
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{p}:{mark.line + 1}" if mark is not None else str(p)
        what = " ".join(x for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x) or str(exc)
        raise ParamsFileError(f"{where}: YAML syntax error: {what}") from None
    if not isinstance(data, dict):
        raise ParamsFileError(f"{p}:1: top level must be a mapping, got {type(data).__name__}")
    return data


def check_params_file(path: str | Path | None) -> None:
    """Read the params file (as `load_params`) and refuse a key above the config classes (a top-level section, or
    a part of `train`) that no registered section owns (`genrate:`), naming the file and the line: a misspelled
    section would otherwise run silently on defaults."""
    from shoemodel.config_registry import section_tree

    p = params_path(path)
    if p is None:
        return
    data = load_params(p)
    text = p.read_text()

    def walk(node: Mapping[str, Any], tree: Mapping[str, Any], keys: tuple[str, ...]) -> None:
        for key, value in node.items():
            if key not in tree:
                raise ParamsFileError(f"{p}:{key_line(text, (*keys, key))}: "
                                      + _unknown(".".join(keys) or "top level", [str(key)], tree, "section"))
            if tree[key] and isinstance(value, dict):  # a group of sections (train): its keys are sections too
                walk(value, tree[key], (*keys, key))

    walk(data, section_tree(), ())


def key_line(text: str, keys: Iterable[str]) -> int:
    """The line (1-based) of the dotted key `keys` in YAML `text`: of its deepest part found (1 when none is)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return 1
    line = 1
    for key in keys:
        if not isinstance(node, yaml.MappingNode):
            break
        pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == str(key)), None)
        if pair is None:
            break
        line, node = pair[0].start_mark.line + 1, pair[1]
    return line


def check_keys(cls: type, values: Mapping[str, Any], section: str, p: Path, text: str) -> None:
    """Refuse an unknown key anywhere in the params file's `section` (data for `cls`), naming the file and line."""
    types_ = field_types(cls)
    for name, value in values.items():
        if name not in types_:
            keys = (*section.split("."), str(name))
            raise ParamsFileError(f"{p}:{key_line(text, keys)}: " + _unknown(section, [str(name)], types_))
        sub = dataclass_of(types_[name])
        if sub is not None and isinstance(value, dict):
            check_keys(sub, value, f"{section}.{name}", p, text)


def from_dict(cls: type[T], values: Mapping[str, Any] | None, where: str = "", base: str | Path | None = None) -> T:
    """Build dataclass `cls` from a mapping; nested dataclass fields are built recursively.

    With `base`, the defaults of path fields absent from `values` are read against that folder (values
    present are taken as they are: the caller has already resolved them).
    """
    values = dict(values or {})
    types_ = field_types(cls)
    unknown = sorted(set(values) - set(types_))
    if unknown:
        raise ValueError(_unknown(where or cls.__name__, unknown, types_))
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        sub = dataclass_of(types_[name])
        if sub is not None and isinstance(value, dict):
            value = from_dict(sub, value, f"{where}.{name}" if where else name, base)
        elif isinstance(value, list) and isinstance(getattr(cls, name, None), tuple):
            value = tuple(value)
        kwargs[name] = value
    obj = cls(**kwargs)
    if base is not None:
        _resolve_defaults(obj, values, base)
    return obj


def _resolve_defaults(obj: Any, given: Mapping[str, Any], base: str | Path) -> None:
    """Read the defaults of path fields not in `given` against `base` (they are relative to the project root)."""
    for name, tp in field_types(type(obj)).items():
        if name in given and not isinstance(given[name], dict):
            continue
        value = getattr(obj, name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            if name not in given:  # a nested dict given was already handled by from_dict's recursion
                _resolve_defaults(value, {}, base)
        elif name not in given:
            object.__setattr__(obj, name, resolve_field(value, tp, base))  # also for frozen configs


def _unknown(where: str, keys: list[str], known: Mapping[str, Any], what: str = "key") -> str:
    close = [m for k in keys for m in difflib.get_close_matches(k, list(known), n=1)]
    hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"known: {sorted(known)}"
    return f"{where}: unknown {what}(s) {keys}; {hint}"


def parse_set(item: str) -> tuple[str, str]:
    """`key=value` -> (key, value text); the value is parsed later, against the field's type."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--set expects key=value, got '{item}'")
    return key.strip(), text


def relative_key(key: str, section: str) -> str:
    """`train.wd.steps` or `steps` -> `steps` for section `train.wd` (full dotted paths or relative ones)."""
    return key[len(section) + 1:] if key.startswith(section + ".") else key


def set_value(cls: type, values: dict[str, Any], key: str, value: Any, where: str, text: bool = False) -> None:
    """Set dotted `key` (relative to dataclass `cls`) in the mapping `values`, checking every part of it.

    `text=True`: `value` is a `--set` text, parsed against the field's type. A mapping given for a
    nested config sets its keys one by one (the file's other keys stay); for any other field it replaces.
    """
    name, _, rest = key.partition(".")
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    types_ = field_types(cls)
    if name not in types_:
        raise ValueError(_unknown(where, [name], types_))
    tp, sub = types_[name], dataclass_of(types_[name])
    here = f"{where}.{name}"
    if sub is not None:
        node = values.get(name)
        node = dict(node) if isinstance(node, dict) else {}
        if rest:
            set_value(sub, node, rest, value, here, text)
        else:
            value = parse_text(value, tp) if text else value
            if not isinstance(value, dict):
                raise ValueError(f"{here}: is a group of settings; give a mapping or set {here}.KEY")
            for k, v in value.items():
                set_value(sub, node, str(k), v, here)
        values[name] = node
    elif rest:
        current = values.get(name, _default(cls, name))
        if not isinstance(current, dict):
            raise ValueError(f"{here}: is not a mapping, so '{key}' has no part '{rest}'")
        values[name] = _set_in_dict(copy.deepcopy(current), rest.split("."), parse_text(value) if text else value)
    else:
        parsed = parse_text(value, tp) if text else value
        values[name] = _check(here, parsed, tp, repr(value) if text else None)


def _default(cls: type, name: str) -> Any:
    f = next(f for f in dataclasses.fields(cls) if f.name == name)
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None if f.default is dataclasses.MISSING else f.default


def _set_in_dict(d: dict[str, Any], parts: list[str], value: Any) -> dict[str, Any]:
    node = d
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return d


def load_section(cls: type[T], section: str, path: str | Path | None = None, overrides: Mapping[str, Any] | None = None,
                 sets: Iterable[str] = (), implied: Mapping[str, Any] | None = None) -> T:
    """Fill dataclass `cls` from `section` (dotted for nesting) of the params file, then the command line.

    Applied in order: the file (`path`, as in `params_path`), `implied` (values a flag implies, such as
    `--out`'s work folder), `sets` ("key=value" texts of --set; key relative to the section or starting
    with it), then `overrides` (typed flag values; None means the flag was not given). Keys are dotted
    paths relative to the section.
    """
    p = params_path(path)
    node: Any = load_params(p) if p is not None else {}
    for part in section.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is not None and not isinstance(node, dict):
        line = key_line(p.read_text(), section.split(".")) if p is not None else 1
        raise ParamsFileError(f"{p}:{line}: section {section} must be a mapping, got {type(node).__name__}")
    if node and p is not None:
        check_keys(cls, node, section, p, p.read_text())
    base = p.parent if p is not None else None
    values = resolve_mapping(cls, node or {}, base) if base is not None else dict(node or {})
    try:
        check_values(cls, values, section)
    except ConfigTypeError as exc:
        raise ConfigTypeError(f"{exc} (in {p})") from None
    for key, value in (implied or {}).items():
        set_value(cls, values, key, value, section)
    for item in sets:
        key, text = parse_set(item)
        try:
            set_value(cls, values, relative_key(key, section), text, section, text=True)
        except ConfigTypeError:
            raise
        except ValueError as exc:
            raise ValueError(f"--set {item}: {exc}") from exc
    for key, value in (overrides or {}).items():
        if value is not None:
            set_value(cls, values, key, value, section)
    return from_dict(cls, values, section, base)


def defaults_of(cls: type[T], section: str, base: str | Path | None = None) -> T:
    """`cls` with every field at its default (path defaults read against `base`, as a params file there would)."""
    return from_dict(cls, {}, section, base)


def changed_leaves(default: Any, value: Any, prefix: str) -> list[tuple[str, Any, Any]]:
    """(dotted key, default, value) of every leaf where two plain config trees (dicts of nested configs) differ.

    Nested configs are dicts on both sides with the same keys; any other value (a list, a free-form mapping
    such as `layout: {}`, whose keys differ) is one leaf.
    """
    if isinstance(default, dict) and isinstance(value, dict) and default.keys() == value.keys() and default:
        return [c for k in default for c in changed_leaves(default[k], value[k], f"{prefix}.{k}")]
    return [] if default == value else [(prefix, default, value)]


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as a plain dict (for provenance and logs)."""
    return dataclasses.asdict(obj)
