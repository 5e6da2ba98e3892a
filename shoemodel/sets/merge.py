"""Merge several sets of one kind into the set a trainer reads (curated + labelled, annotated + labelled).

The training sets are built from what the pipeline made: `merge.<set>.inputs` (MergeConfig) lists the
sets in priority order, human labels first: the labelled shoe-leg set before curation's detected keypoints,
the annotated wearable-area set before the labels it corrects. A photo is one record however many inputs
hold it: records are de-duplicated by content hash and the first input that has it gives its labels.

Splits never leak: a record keeps the split its input gave it (a hash of its content when it has
none), and when inputs disagree the held-out split wins (test over val over train), so a record in
the fixed test split stays there when sets grow and is never trained on. An input folder that does
not exist yet, or a set with no records (no round annotated yet), is valid and recorded as such.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shoemodel import __version__
from shoemodel.schemas.records import ValidationOptions
from shoemodel.sets.config import MergeConfig, MergeSpec
from shoemodel.sets.splits import split_for
from shoemodel.store.atomic import atomic_write_text
from shoemodel.store.manifest import MANIFEST_NAME, Manifest, read_manifest
from shoemodel.store.reader import iter_records
from shoemodel.store.writer import write_set

#: Held-out splits win a disagreement: a record any input holds out is never trained on.
SPLIT_RANK = {"test": 0, "val": 1, "train": 2}


@dataclass
class InputReport:
    """What one input contributed: 'absent', 'empty' or 'ok', its records, and how many were kept."""

    path: str
    status: str
    records: int = 0
    kept: int = 0
    duplicates: int = 0
    renamed_ids: int = 0
    split_overridden: int = 0


@dataclass
class MergeReport:
    """The merge of one set: per-input counts and the output's split sizes."""

    set_name: str
    out: str
    inputs: list[InputReport]
    splits: dict[str, int]
    num_records: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _open_input(path: str, set_name: str) -> InputReport:
    """Check one input: absent and empty are fine, a folder that is not a set of this kind is an error."""
    root = Path(path)
    if not root.exists():
        return InputReport(path, "absent")
    if not (root / MANIFEST_NAME).exists():
        raise FileNotFoundError(f"merge input {root}: folder exists but has no {MANIFEST_NAME}; not a shoemodel set")
    manifest = read_manifest(root)
    if manifest.set_name != set_name:
        raise ValueError(f"merge input {root}: is a {manifest.set_name} set, expected {set_name}")
    return InputReport(path, "ok" if manifest.num_records else "empty", records=manifest.num_records)


def _record_split(split: str | None, content_hash: str, cfg: MergeConfig) -> str:
    return split if split in SPLIT_RANK else split_for(content_hash, cfg.val_fraction, cfg.test_fraction)


def plan_merge(inputs: list[InputReport], cfg: MergeConfig) -> dict[str, tuple[int, str]]:
    """content hash -> (index of the input whose record is kept, the merged split). Reads two small columns."""
    plan: dict[str, tuple[int, str]] = {}
    for i, inp in enumerate(inputs):
        if inp.status != "ok":
            continue
        for row in iter_records(inp.path, columns=["content_hash", "split"]):
            h, split = row["content_hash"], _record_split(row["split"], row["content_hash"], cfg)
            if h not in plan:
                plan[h] = (i, split)
            elif SPLIT_RANK[split] < SPLIT_RANK[plan[h][1]]:
                plan[h] = (plan[h][0], split)
    return plan


def _merged_records(inputs: list[InputReport], plan: dict[str, tuple[int, str]]) -> Iterator[dict[str, Any]]:
    """Stream the kept records in input order, with their merged split and a unique id."""
    ids: set[str] = set()
    seen: set[str] = set()
    for i, inp in enumerate(inputs):
        if inp.status != "ok":
            continue
        for rec in iter_records(inp.path):
            h = rec["content_hash"]
            keep, split = plan[h]
            if keep != i or h in seen:
                inp.duplicates += 1
                continue
            seen.add(h)
            if rec["split"] != split:
                inp.split_overridden += 1
            rid = rec["id"]
            if rid in ids:  # another photo already has this id: keep both, make this id unique
                rid = f"{rid}~{h[:12]}"
                inp.renamed_ids += 1
            ids.add(rid)
            prov = json.loads(rec["provenance"] or "{}")
            prov["merge"] = {"input": inp.path, "input_split": rec["split"], "input_id": rec["id"]}
            inp.kept += 1
            yield {**rec, "id": rid, "split": split, "provenance": json.dumps(prov, sort_keys=True)}


def _fingerprint(inputs: list[InputReport], set_name: str, cfg: MergeConfig) -> dict[str, Any]:
    parts = []
    for inp in inputs:
        shards = [s.sha256 for s in read_manifest(inp.path).shards] if inp.status != "absent" else None
        parts.append({"path": inp.path, "shards": shards})
    return {"set": set_name, "inputs": parts, "records_per_shard": cfg.records_per_shard,
            "val_fraction": cfg.val_fraction, "test_fraction": cfg.test_fraction}


def merge_sets(set_name: str, cfg: MergeConfig, metrics: str | Path | None = None,
               progress: bool = False) -> MergeReport:
    """Write the merged `set_name` set (shards + manifest via the store writer) and return what went in."""
    spec: MergeSpec = getattr(cfg, set_name)
    if not spec.out:
        raise ValueError(f"merge.{set_name}.out is empty: name the folder the merged set is written to")
    if any(Path(p).resolve() == Path(spec.out).resolve() for p in spec.inputs):
        raise ValueError(f"merge.{set_name}: the output {spec.out} is also listed as an input")
    inputs = [_open_input(p, set_name) for p in spec.inputs]
    plan = plan_merge(inputs, cfg)
    fingerprint = _fingerprint(inputs, set_name, cfg)
    manifest: Manifest = write_set(
        spec.out, set_name, _merged_records(inputs, plan), lambda rec: rec, records_per_shard=cfg.records_per_shard,
        item_key=lambda rec: str(rec.get("id")), validation=ValidationOptions(decode_images=False),
        fingerprint={"sha256": hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()},
        provenance={"builder": "shoemodel merge-sets", "version": __version__,
                    "inputs": [{"path": i.path, "status": i.status} for i in inputs]},
        progress=progress, desc=f"merge {set_name}",
    )
    splits = Counter(split for _, split in plan.values())
    report = MergeReport(set_name, str(spec.out), inputs, dict(sorted(splits.items())), manifest.num_records)
    manifest.provenance["inputs"] = [asdict(i) for i in inputs]
    manifest.write(spec.out)
    if metrics:
        atomic_write_text(Path(metrics), json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n")
    return report
