"""Check a set against its manifest: every shard's size, SHA-256, Parquet footer and records; damage is a finding.

A truncated or altered shard must be reported (one line naming the file), never crash the check, and the
other shards are still checked record by record.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shoemodel.store.manifest import Manifest, file_sha256


def verify_set(root: str | Path, manifest: Manifest) -> tuple[int, list[str]]:
    """(records checked, one line per problem) for the set at `root`."""
    from shoemodel.schemas.records import RecordError, plain_images, validate_record

    root = Path(root)
    problems: list[str] = []
    n = 0
    for shard in manifest.shards:
        path = root / shard.file
        try:
            size = path.stat().st_size
        except OSError as exc:
            problems.append(f"{shard.file}: missing ({exc.strerror})")
            continue
        if size != shard.num_bytes:
            problems.append(f"{shard.file}: {size} bytes, the manifest says {shard.num_bytes} (truncated or replaced)")
            continue
        if file_sha256(path) != shard.sha256:
            problems.append(f"{shard.file}: content hash differs from the manifest")
            continue
        try:
            pf = pq.ParquetFile(path)
            for batch in pf.iter_batches(batch_size=64):
                for rec in plain_images(batch).to_pylist():
                    n += 1
                    try:
                        validate_record(rec, manifest.set_name)
                    except RecordError as exc:
                        problems.append(f"{shard.file}: record {rec.get('id')}: {exc}")
        except (OSError, pa.ArrowException) as exc:
            problems.append(f"{shard.file}: unreadable Parquet: {' '.join(str(exc).split())}")
    return n, problems
