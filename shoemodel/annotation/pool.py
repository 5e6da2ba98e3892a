"""Read the pool (a wearable-area-schema set) without holding it in memory.

Before annotation a pool record's area_mask is its SAM shoe mask painted as visible area; that is
the pre-annotation when no WD model exists yet.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from shoemodel.store import iter_records

ID_COLUMNS = ["id"]


def iter_pool(pool: str | Path, ids: Iterable[str] | None = None, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Stream pool records, only those in `ids` when given."""
    wanted = set(ids) if ids is not None else None
    for rec in iter_records(pool, columns=columns):
        if wanted is None or rec["id"] in wanted:
            yield rec


def stable_rank(seed: int, record_id: str) -> int:
    """A reproducible pseudo-random rank of an id (same seed, same order, on any machine)."""
    return int.from_bytes(hashlib.sha1(f"{seed}:{record_id}".encode()).digest()[:8], "big")


def sample_ids(pool: str | Path, k: int, seed: int, exclude: set[str]) -> list[str]:
    """k ids drawn uniformly from the pool minus `exclude`, streaming (bottom-k of a stable hash)."""
    heap: list[tuple[int, str]] = []  # max-heap via negated rank
    for rec in iter_records(pool, columns=ID_COLUMNS):
        rid = rec["id"]
        if rid in exclude:
            continue
        item = (-stable_rank(seed, rid), rid)
        if len(heap) < k:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    return [rid for _, rid in sorted(heap, reverse=True)]
