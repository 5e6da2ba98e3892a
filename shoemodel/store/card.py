"""The dataset card of a set: README.md with the YAML front matter the Hugging Face Hub and `datasets` read.

Written with every set (store.writer.write_set), from its manifest: features, splits with counts, the
`configs:` data files per split (so `load_dataset(SET)` and a pushed copy give train / validation /
test), provenance, the classes of the masks, the keypoint order and where the images come from.
`id2label.json` beside it maps the mask values to class names (the convention of segmentation sets).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from shoemodel.schemas.classes import CLASS_NAMES
from shoemodel.schemas.keypoints import KEYPOINT_NAMES
from shoemodel.schemas.records import SCHEMAS
from shoemodel.store.atomic import atomic_write_text
from shoemodel.store.hf import HF_SPLITS, IMAGE_COLUMNS, hf_features
from shoemodel.store.manifest import SHARD_DIR, Manifest

CARD_NAME = "README.md"
ID2LABEL_NAME = "id2label.json"

_ABOUT = {
    "shoe_leg": ("Worn-shoe photos: the photo, the shoe pixels on black (X_m), the shoe mask and 12 leg/foot "
                 "keypoints (x, y, v; v = 0 missing, > 0 present) per record.",
                 ["keypoint-detection", "image-segmentation"]),
    "wearable_area": ("Product shoe photos: the photo, the shoe pixels on black (X_m) and the wearable-area mask "
                      "(per pixel: 0 background, 1 visible shoe, 2 wearable area) per record.",
                      ["image-segmentation"]),
}


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


def _split_counts(root: Path, manifest: Manifest) -> dict[str, int]:
    """Records per split, from the shard file names (shard-0000k-<split>.parquet) and their counts."""
    counts: Counter[str] = Counter()
    for s in manifest.shards:
        split = Path(s.file).stem.rsplit("-", 1)[-1]
        counts[split if split in HF_SPLITS else "train"] += s.num_records
    return dict(counts)


def _sources(root: Path, manifest: Manifest, limit: int = 10) -> list[tuple[str, int]]:
    """The folders (or URI hosts) the records came from, most records first."""
    counts: Counter[str] = Counter()
    for s in manifest.shards:
        for uri in pq.read_table(root / s.file, columns=["source_uri"]).column("source_uri").to_pylist():
            head, sep, rest = uri.partition("://")
            counts[f"{head}://{rest.split('/')[0]}" if sep else str(Path(uri).parent)] += 1
    return counts.most_common(limit)


def card_metadata(root: str | Path, manifest: Manifest) -> dict[str, Any]:
    """The YAML front matter: licence, tags, configs (data files per split) and dataset_info (features, splits)."""
    from datasets import DatasetInfo, Features, SplitDict, SplitInfo

    root = Path(root)
    counts = _split_counts(root, manifest)
    splits = SplitDict()
    for split, hf_name in HF_SPLITS.items():
        if counts.get(split):
            splits.add(SplitInfo(hf_name, num_examples=counts[split]))
    info = DatasetInfo(features=Features.from_dict(hf_features(SCHEMAS[manifest.set_name])), splits=splits)
    _, tasks = _ABOUT[manifest.set_name]
    return {
        "pretty_name": f"ShoeModel {manifest.set_name}",
        "license": manifest.provenance.get("license", "other"),
        "task_categories": tasks,
        "tags": ["shoemodel", "shoes", manifest.set_name.replace("_", "-")],
        "size_categories": [_size_category(manifest.num_records)],
        "configs": [{"config_name": "default", "data_files": [
            {"split": HF_SPLITS[s], "path": f"{SHARD_DIR}/*-{s}.parquet"} for s in HF_SPLITS if counts.get(s)]}],
        "dataset_info": info._to_yaml_dict(),
    }


def card_text(root: str | Path, manifest: Manifest) -> str:
    """README.md: YAML front matter, then what the set is, its counts, provenance, classes and sources."""
    root = Path(root)
    meta = card_metadata(root, manifest)
    about, _ = _ABOUT[manifest.set_name]
    counts = _split_counts(root, manifest)
    lines = [
        "---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
        f"# ShoeModel `{manifest.set_name}` set", "", about, "",
        "## Load", "", "```python", "from datasets import load_dataset", "",
        f'ds = load_dataset("parquet", data_dir="{root.name}")  # or load_dataset("{root.name}") for this card\'s configs',
        'ds["train"][0]["image"]  # a PIL image; masks too', "```", "",
        "## Splits", "", "| split | records |", "|---|---|",
        *[f"| {HF_SPLITS[s]} | {counts[s]} |" for s in HF_SPLITS if counts.get(s)],
        "", f"{manifest.num_records} records in {len(manifest.shards)} Parquet files; {manifest.num_failures} input "
            f"items were dropped or failed ({', '.join(f'{k}: {v}' for k, v in manifest.failures_by_reason.items()) or 'none'}).",
        "", "## Columns", "",
        f"Images and masks ({', '.join(c for c in IMAGE_COLUMNS if c in SCHEMAS[manifest.set_name].names)}) are "
        "encoded PNG/JPEG bytes that `datasets` decodes as `Image()`.",
    ]
    if manifest.set_name == "shoe_leg":
        lines += ["", "Keypoints, in this order (12 x (x, y, v), pixels): " + ", ".join(KEYPOINT_NAMES) + "."]
    else:
        lines += ["", "`area_mask` values: " + ", ".join(f"{i} = {n}" for i, n in enumerate(CLASS_NAMES))
                  + f" (also in `{ID2LABEL_NAME}`)."]
    lines += ["", "## Provenance", "", "```json", json.dumps(manifest.provenance, indent=1, sort_keys=True), "```",
              "", f"Schema version {manifest.schema_version}; each record's own `provenance` column says how it was "
              "made (models, thresholds, fingerprints).", "",
              "## Sources and licences", "", "| source | records |", "|---|---|",
              *[f"| `{src}` | {n} |" for src, n in _sources(root, manifest)], "",
              "Every image keeps the licence of its source (each record's `source_uri`); check them before you "
              "redistribute the set. The synthetic sample (`shoemodel sample`) is generated by ShoeModel and "
              "released with it under Apache-2.0.", ""]
    return "\n".join(lines)


def write_card(root: str | Path, manifest: Manifest) -> Path:
    """Write README.md (and, for the wearable-area set, id2label.json) into the set folder, atomically."""
    root = Path(root)
    if manifest.set_name == "wearable_area":
        atomic_write_text(root / ID2LABEL_NAME, json.dumps({str(i): n for i, n in enumerate(CLASS_NAMES)}, indent=1) + "\n")
    atomic_write_text(root / CARD_NAME, card_text(root, manifest))
    return root / CARD_NAME
