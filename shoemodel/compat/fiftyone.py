"""Make `import fiftyone` work after dask has been imported.

dask imports the `importlib_metadata` backport, which takes over distribution lookup from the stdlib; its
metadata objects raise KeyError for an absent field, and fiftyone's `eta` reads `metadata(...)["author"]`,
which its own package does not declare. The import then fails with `KeyError: 'author'`. While fiftyone is
imported (once per process), missing metadata fields read as None, as the stdlib's did.
"""

from __future__ import annotations

import importlib.metadata as _metadata
import sys
from types import ModuleType
from typing import Any


class _MissingIsNone:
    """Package metadata whose absent fields are None (the stdlib's behaviour before the backport)."""

    def __init__(self, meta: Any) -> None:
        self._meta = meta

    def __getitem__(self, key: str) -> Any:
        try:
            return self._meta[key]
        except KeyError:
            return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._meta, name)


def import_fiftyone() -> ModuleType:
    """`import fiftyone`, tolerant of the metadata lookup described above."""
    if "fiftyone" in sys.modules:
        return sys.modules["fiftyone"]
    original = _metadata.metadata
    _metadata.metadata = lambda name: _MissingIsNone(original(name))  # type: ignore[assignment]
    try:
        import fiftyone
    finally:
        _metadata.metadata = original
    from shoemodel import quiet

    quiet.adopt_loggers("fiftyone", "eta")  # its import puts a stdout handler on them: MongoDB notices and the like
    return fiftyone
