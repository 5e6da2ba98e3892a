"""One place for configuration: params.yaml sections loaded into typed dataclasses.

Each area defines its own dataclass next to its code; `load_section` fills it from params.yaml
and rejects unknown keys with the section and key named, so a typo never silently falls back
to a default.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated, Any, TypeVar

import yaml

T = TypeVar("T")

DEFAULT_PARAMS = Path(os.environ.get("SHOEMODEL_PARAMS", "params.yaml"))


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


def load_params(path: str | Path = DEFAULT_PARAMS) -> dict[str, Any]:
    """Read params.yaml (an empty dict if the file does not exist)."""
    p = Path(path)
    if not p.exists():
        return {}
    with p.open() as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{p}: top level must be a mapping, got {type(data).__name__}")
    return data


def from_dict(cls: type[T], values: dict[str, Any] | None, where: str = "") -> T:
    """Build dataclass `cls` from a mapping; nested dataclass fields are built recursively."""
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"{where or cls.__name__}: unknown key(s) {unknown}; known: {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        ftype = fields[name].type
        sub = _dataclass_type(cls, name, ftype)
        if sub is not None and isinstance(value, dict):
            value = from_dict(sub, value, f"{where}.{name}" if where else name)
        elif isinstance(value, list) and isinstance(getattr(cls, name, None), tuple):
            value = tuple(value)
        kwargs[name] = value
    return cls(**kwargs)


def _dataclass_type(cls: type, name: str, ftype: Any) -> type | None:
    import typing

    hints = typing.get_type_hints(cls)
    t = hints.get(name, ftype)
    return t if dataclasses.is_dataclass(t) else None


def load_section(cls: type[T], section: str, path: str | Path = DEFAULT_PARAMS, overrides: dict[str, Any] | None = None) -> T:
    """Fill dataclass `cls` from the `section` of params.yaml (dotted for nesting), then apply overrides."""
    node: Any = load_params(path)
    for part in section.split("."):
        node = (node or {}).get(part, {}) if isinstance(node, dict) else {}
    values = dict(node or {})
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return from_dict(cls, values, section)


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as a plain dict (for provenance and logs)."""
    return dataclasses.asdict(obj)
