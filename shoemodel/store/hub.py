"""Publish a set to the Hugging Face Hub as it is on disk: its Parquet shards (features in their schema),
the dataset card (README.md, whose `configs:` give the splits) and the manifest; the per-shard sidecars
and the resume fingerprint stay home."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shoemodel.store.card import CARD_NAME, ID2LABEL_NAME
from shoemodel.store.manifest import MANIFEST_NAME, read_manifest


def upload_files(root: str | Path) -> list[Path]:
    """The files of the set at `root` that a push uploads, card first."""
    root = Path(root)
    manifest = read_manifest(root)
    extra = [root / n for n in (CARD_NAME, ID2LABEL_NAME, MANIFEST_NAME) if (root / n).is_file()]
    if not (root / CARD_NAME).is_file():
        raise FileNotFoundError(f"{root / CARD_NAME}: no dataset card (rebuild the set, which writes it)")
    return [*extra, *(root / s.file for s in manifest.shards)]


def push_set(root: str | Path, repo_id: str, *, private: bool | None = None, token: str | None = None,
             message: str | None = None, api: Any = None) -> Any:
    """Create (or reuse) dataset repo `repo_id` and commit the set's files in one commit; returns the CommitInfo."""
    from huggingface_hub import CommitOperationAdd, HfApi

    root = Path(root)
    api = api or HfApi(token=token)
    files = upload_files(root)
    api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
    ops = [CommitOperationAdd(path_in_repo=f.relative_to(root).as_posix(), path_or_fileobj=str(f)) for f in files]
    return api.create_commit(repo_id, ops, repo_type="dataset",
                             commit_message=message or f"shoemodel {read_manifest(root).set_name} set")
