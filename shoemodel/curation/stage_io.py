"""Read a stage's inputs for one part: kept rows of ingest joined with the kept rows of later stages."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.curation import parts

#: The first stage: its parts name the duplicates. The order of all stages lives in shoemodel.curation.stages.
INGEST = "ingest"


def stage_dir(work_dir: str | Path, stage: str) -> Path:
    return Path(work_dir) / stage


def kept_rows(work_dir: str | Path, index: int, chain: Sequence[str],
              duplicates: frozenset[int] | set[int] = frozenset()) -> list[dict[str, Any]]:
    """Rows kept by every stage of `chain` (ingest first, as `stages.lineage` gives it), each merged with all their columns.

    Within a part rows are keyed by source_uri: a URI listed twice is a duplicate, so only one survives.
    """
    merged: dict[str, dict[str, Any]] | None = None
    for stage in chain:
        rows = parts.read_part(stage_dir(work_dir, stage), index)
        if stage == INGEST:  # duplicates are named by row position (a URI may be listed twice)
            merged = {r["source_uri"]: r for i, r in enumerate(rows) if r["status"] == parts.KEPT and i not in duplicates}
            continue
        rows = [r for r in rows if r["status"] == parts.KEPT]
        assert merged is not None
        merged = {r["source_uri"]: {**merged[r["source_uri"]], **_without_base(r)} for r in rows if r["source_uri"] in merged}
    return list((merged or {}).values())


def _without_base(r: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in r.items() if k not in ("status", "reason")}


def decode_rgb(data: bytes) -> np.ndarray:
    """Encoded image bytes -> RGB uint8 array (ingest already made it upright)."""
    from shoemodel.schemas.records import decode_image

    return decode_image(data, "RGB")
