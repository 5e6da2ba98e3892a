"""Deterministic train/val/test assignment shared by every set builder."""

from __future__ import annotations

import hashlib


def split_for(key: str, val_fraction: float, test_fraction: float) -> str:
    """Split from a stable hash of `key` (an id or content hash): the same key always lands in the same split."""
    u = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 0x100000000
    return "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"
