"""Read one split of a shard set into an Arrow table of the needed columns (encoded bytes stay encoded).

Images are decoded per sample in the Dataset, so memory holds compressed bytes only; the table is read
memory-mapped, which keeps the sample sets tiny in RAM and large sets out of the Python heap.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shoemodel.schemas.records import plain_images
from shoemodel.store import shard_paths


def load_split(root: str | Path, columns: Sequence[str], split: str | None, max_records: int = 0) -> pa.Table:
    """The rows of `split` (all rows when None) with `columns`, in shard order."""
    paths = shard_paths(root)
    if not paths:
        raise FileNotFoundError(f"{root}: no shards listed in its manifest (build the set first: `dvc repro build_sets`)")
    cols = list(dict.fromkeys([*columns, "split"]))
    # image columns as plain binary whichever layout a set was written in (schema 1.2 stores struct<bytes, path>)
    tables = [plain_images(pq.read_table(p, columns=cols, memory_map=True)) for p in paths]
    table = pa.concat_tables(tables)
    if split is not None:
        import pyarrow.compute as pc

        table = table.filter(pc.equal(table["split"], split))
    if max_records and table.num_rows > max_records:
        table = table.slice(0, max_records)
    if table.num_rows == 0:
        raise ValueError(f"{root}: split '{split}' is empty")
    return table
