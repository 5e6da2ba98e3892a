"""File names from record ids: a readable slug plus a short hash of the exact id.

Ids such as `brand/sku-1`, `brand_sku-1` and `brand:sku-1` slug to the same text; the hash of the
id itself keeps their files apart, and the same id always gives the same name (stable across runs).
"""

from __future__ import annotations

import hashlib
import re

SLUG_CHARS = 48
HASH_CHARS = 10


def id_file_name(record_id: str, suffix: str = "") -> str:
    """`<slug>-<10 hex of sha256(id)><suffix>`: safe on every file system, distinct for distinct ids, no dot in the stem."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", record_id).strip("_-")[:SLUG_CHARS] or "id"  # no dots: the stem has no suffix
    digest = hashlib.sha256(record_id.encode("utf-8")).hexdigest()[:HASH_CHARS]
    return f"{slug}-{digest}{suffix}"
