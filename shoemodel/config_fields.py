"""What a config field is: its type, whether it holds paths, and how a `--set` text becomes its value.

Config dataclasses mark path fields with `ParamPath` (or `Annotated[str, PathParam("tiny")]` when some
values name a built-in choice instead of a file), so a relative path written in a params file means the
same file whatever folder the command runs from.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Union

import yaml


class PathParam:
    """Marks a config field as a filesystem path, so a relative value is read against the params file's folder.

    `keywords` are values of the field that name a built-in choice instead of a file (e.g. "tiny"); they,
    empty values, absolute paths and URIs ("s3://...") are left as they are.
    """

    def __init__(self, *keywords: str) -> None:
        self.keywords = frozenset(keywords)

    def __repr__(self) -> str:
        return f"PathParam({', '.join(map(repr, sorted(self.keywords)))})"


#: A path field: `train_set: ParamPath = "data/sets/shoe_leg"` (use `Annotated[str, PathParam("tiny")]` for keywords).
ParamPath = Annotated[str, PathParam()]

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: "2e-3", "1E5": YAML 1.1 (PyYAML) reads these as strings; a command line means a number.
_SCIENTIFIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """Field name -> annotated type of dataclass `cls` (Annotated extras kept, string annotations evaluated)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return {f.name: hints.get(f.name, f.type) for f in dataclasses.fields(cls)}


def _strip(tp: Any) -> tuple[Any, bool]:
    """(the type without Annotated and Optional, whether None is allowed)."""
    optional = False
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(tp))
            if len(args) != 1:
                return tp, optional
            tp = args[0]
        else:
            return tp, optional


def dataclass_of(tp: Any) -> type | None:
    """The dataclass a field holds (also through Optional), else None."""
    tp, _ = _strip(tp)
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def path_marker(tp: Any) -> tuple[PathParam | None, bool]:
    """(the field's PathParam or None, whether it holds a list/tuple of paths)."""
    for t in _candidates(tp):
        if typing.get_origin(t) is Annotated:
            marker = next((m for m in t.__metadata__ if isinstance(m, PathParam)), None)
            if marker is not None:
                return marker, False
        if typing.get_origin(t) in (list, tuple):
            items = [a for a in typing.get_args(t) if a is not Ellipsis]
            if len(items) == 1:
                marker, _ = path_marker(items[0])
                if marker is not None:
                    return marker, True
    return None, False


def _candidates(tp: Any) -> list[Any]:
    """`tp` and, for an Optional/Union, its members (Annotated kept)."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        return [a for a in typing.get_args(tp) if a is not type(None)]
    return [tp]


def resolve_path(value: Any, marker: PathParam, base: str | Path) -> Any:
    """`value` read against folder `base`; empty values, keywords, absolute paths and URIs stay as they are."""
    if not isinstance(value, str) or not value or value in marker.keywords or _URI.match(value):
        return value
    if value.startswith("~"):
        return os.path.expanduser(value)
    if os.path.isabs(value) or str(base) in ("", "."):
        return value
    return os.path.normpath(os.path.join(base, value))


def resolve_field(value: Any, tp: Any, base: str | Path) -> Any:
    """A field's value (one path or a list of paths) read against `base`; non-path fields unchanged."""
    marker, many = path_marker(tp)
    if marker is None:
        return value
    if many and isinstance(value, (list, tuple)):
        return type(value)(resolve_path(v, marker, base) for v in value)
    return resolve_path(value, marker, base)


def resolve_mapping(cls: type, values: dict[str, Any], base: str | Path) -> dict[str, Any]:
    """A copy of `values` (params-file data for dataclass `cls`) with every path field read against `base`.

    Unknown keys are kept as they are, for `from_dict` to report.
    """
    types_ = field_types(cls)
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in types_:
            out[name] = value
            continue
        sub = dataclass_of(types_[name])
        if sub is not None and isinstance(value, dict):
            out[name] = resolve_mapping(sub, value, base)
        else:
            out[name] = resolve_field(value, types_[name], base)
    return out


def parse_text(text: str, tp: Any = Any) -> Any:
    """The value a `--set key=TEXT` means for a field of type `tp`.

    Text fields take the text as it is (so `mixed_precision=no` stays "no", not YAML's False), with `null`
    meaning None where the field allows it and quotes removed; other fields read it as YAML, where
    "2e-3" is a float, `[a, b]` a list and `{k: v}` a mapping.
    """
    base, optional = _strip(tp)
    if base is str:
        if optional and text in ("null", "Null", "NULL", "~"):
            return None
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            return yaml.safe_load(text)
        return text
    value = yaml.safe_load(text) if text.strip() else None
    if isinstance(value, str) and _SCIENTIFIC.match(value):
        value = float(value)
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    origin = typing.get_origin(base)
    if origin in (list, tuple) and value is not None and not isinstance(value, (list, tuple)):
        value = [value]  # `sources=photos` means one source
    if origin is tuple and isinstance(value, list):
        value = tuple(value)
    return value


def literal_choices(tp: Any) -> tuple[str, ...] | None:
    """The allowed texts of a `Literal["a", "b"]` field (through Optional / Annotated), else None."""
    base, _ = _strip(tp)
    if typing.get_origin(base) is typing.Literal and all(isinstance(a, str) for a in typing.get_args(base)):
        return typing.get_args(base)
    return None


def unknown_value(key: str, value: Any, known: Any) -> str:
    """The one "unknown name" message (a backend, a choice): the key, the value, the known names, the closest one."""
    import difflib

    known = [str(k) for k in known]
    close = difflib.get_close_matches(str(value), known, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"{key}: '{value}' unknown; known: {', '.join(known)}{hint}"


def type_name(tp: Any) -> str:
    """A field type as a user reads it: `int`, `float or null`, `list of str`."""
    base, optional = _strip(tp)
    origin = typing.get_origin(base)
    if origin in (Union, types.UnionType):
        name = " or ".join(type_name(a) for a in typing.get_args(base) if a is not type(None))
    elif origin is typing.Literal:
        name = "one of " + ", ".join(map(repr, typing.get_args(base)))
    elif origin in (list, tuple):
        items = [a for a in typing.get_args(base) if a is not Ellipsis]
        name = f"list of {type_name(items[0])}" if len(items) == 1 else "list"
    elif origin is dict or base is dict:
        name = "mapping"
    elif isinstance(base, type):
        name = "mapping" if dataclasses.is_dataclass(base) else "path" if base is Path else base.__name__
    else:
        name = str(base)
    return f"{name} or null" if optional else name


def fits(value: Any, tp: Any) -> bool:
    """Whether `value` (read from YAML or --set) can be the value of a field of type `tp`.

    Checked before a run starts, so `steps=abc` is refused naming the key instead of failing deep inside
    training; types this cannot judge (Any, classes that are not plain data) are accepted.
    """
    base, optional = _strip(tp)
    if value is None:
        return optional or base is Any
    origin = typing.get_origin(base)
    if origin in (Union, types.UnionType):
        return any(fits(value, a) for a in typing.get_args(base))
    if origin is typing.Literal:
        return value in typing.get_args(base)
    if origin in (list, tuple):
        items = [a for a in typing.get_args(base) if a is not Ellipsis]
        if not isinstance(value, (list, tuple)):
            return False
        return len(items) != 1 or all(fits(v, items[0]) for v in value)
    if origin is dict or base is dict:
        return isinstance(value, dict)
    if base is bool:
        return isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if base is str or base is Path:
        return isinstance(value, (str, os.PathLike))
    if isinstance(base, type) and dataclasses.is_dataclass(base):
        return isinstance(value, (dict, base))
    return True
