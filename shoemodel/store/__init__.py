"""Shard store: bounded, atomic, resumable, streaming Parquet shards with a manifest."""

from shoemodel.store.manifest import Manifest, ShardInfo, read_manifest
from shoemodel.store.reader import iter_records, shard_paths, to_hf_dataset
from shoemodel.store.writer import Dropped, Failure, ShardResult, iter_failures, write_set

__all__ = [
    "Manifest", "ShardInfo", "read_manifest",
    "iter_records", "shard_paths", "to_hf_dataset",
    "Dropped", "Failure", "ShardResult", "iter_failures", "write_set",
]
