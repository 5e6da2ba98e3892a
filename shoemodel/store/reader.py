"""Stream records out of a shard set, one row group at a time (never the whole set in memory).

Every read of shard rows goes through `plain_images` (here, in store.verify and training.data), so a record's
image columns are encoded bytes whichever layout its set was written in (binary, or struct<bytes, path>).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from shoemodel.schemas.records import plain_images
from shoemodel.store.manifest import read_manifest


def shard_paths(root: str | Path) -> list[Path]:
    """The shard files of a set in shard order, as listed by its manifest."""
    root = Path(root)
    return [root / s.file for s in read_manifest(root).shards]


def iter_records(root: str | Path, columns: Sequence[str] | None = None, split: str | None = None,
                 batch_size: int = 64) -> Iterator[dict[str, Any]]:
    """Yield records as dicts in shard order; `columns` limits what is read, `split` filters rows."""
    cols = list(columns) if columns is not None else None
    if cols is not None and split is not None and "split" not in cols:
        cols.append("split")
    for path in shard_paths(root):
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=batch_size, columns=cols):
            for row in plain_images(batch).to_pylist():
                if split is None or row.get("split") == split:
                    yield row


def to_hf_dataset(root: str | Path, split: str | None = None, streaming: bool = False) -> Any:
    """Open a set in Hugging Face `datasets` (Parquet-backed, memory-mapped or streaming): a DatasetDict of
    train / validation / test, or with `split` ("train", "val" or "validation", "test") that split's Dataset.

    Images and masks decode as PIL images and keypoints as 12 x (x, y, v): the shards carry the features
    (given here too, so sets written before schema 1.2, with plain binary images, read the same).
    """
    from datasets import load_dataset

    from shoemodel.store.hf import HF_SPLITS, set_features

    features = set_features(read_manifest(root).set_name)
    files: dict[str, list[str]] = {}
    for p in shard_paths(root):
        ours = p.stem.rsplit("-", 1)[-1]
        files.setdefault(HF_SPLITS.get(ours, "train"), []).append(str(p))
    if split is not None:
        name = HF_SPLITS.get(split, split)
        if name not in files:
            raise ValueError(f"{root}: no '{split}' split (has: {', '.join(files) or 'none'})")
        return load_dataset("parquet", data_files={name: files[name]}, split=name, features=features,
                            streaming=streaming)
    return load_dataset("parquet", data_files=files, features=features, streaming=streaming)
