"""The manifest of a shard set: counts, hashes, schema version and provenance."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shoemodel.store.atomic import atomic_write_text

MANIFEST_NAME = "manifest.json"
SHARD_DIR = "shards"


@dataclass
class ShardInfo:
    """One finished shard: its file, record count, failures and content hash."""

    index: int
    file: str
    num_records: int
    num_failures: int
    sha256: str
    num_bytes: int

    @classmethod
    def load(cls, sidecar: Path) -> ShardInfo:
        data = json.loads(sidecar.read_text())
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass
class Manifest:
    """Everything a consumer needs to trust a set without opening every shard."""

    set_name: str
    schema_version: str
    num_records: int
    num_failures: int
    records_per_shard: int
    shards: list[ShardInfo] = field(default_factory=list)
    failures_by_reason: dict[str, int] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    #: curation sets: per stage, photos and persons in / kept / dropped and failed by reason (the ledger's sums)
    ledger: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        if not data["ledger"]:  # sets not made by curation keep the manifest they always had
            data.pop("ledger")
        return json.dumps(data, indent=2, sort_keys=True)

    def write(self, root: str | Path) -> None:
        """Write manifest.json (not again when it already holds the same: a no-op rerun leaves the set untouched)."""
        p, text = Path(root) / MANIFEST_NAME, self.to_json() + "\n"
        try:
            if p.read_text() == text:
                return
        except OSError:
            pass
        atomic_write_text(p, text)


def read_manifest(root: str | Path) -> Manifest:
    """Load the manifest of a set folder; a clear error names the folder when it is missing."""
    path = Path(root) / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path}: no manifest; is '{root}' a shoemodel set folder (run `dvc repro` or `shoemodel build-set`)?")
    data = json.loads(path.read_text())
    data["shards"] = [ShardInfo(**s) for s in data.get("shards", [])]
    return Manifest(**data)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
