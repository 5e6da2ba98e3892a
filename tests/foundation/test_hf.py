"""Sets read in Hugging Face `datasets` as images, keypoints and three splits, carry a dataset card, and push
to the Hub as they are (what would be uploaded is checked offline)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from shoemodel.schemas.records import decode_image, keypoints_array
from shoemodel.store.reader import iter_records


@pytest.fixture(autouse=True)
def _hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


@pytest.mark.parametrize("set_name, images", [("shoe_leg", ["image", "shoe_image", "shoe_mask"]),
                                              ("wearable_area", ["image", "shoe_image", "area_mask"])])
@pytest.mark.parametrize("how", ["card", "parquet", "features"])
def test_load_dataset_on_a_set_gives_images_and_three_splits(small_sets, set_name: str, images: list[str],
                                                              how: str) -> None:
    from datasets import Image as HFImage
    from datasets import List, load_dataset

    from shoemodel.store.hf import set_features

    root = small_sets[set_name]
    if how == "card":  # the set folder as a dataset: README.md's configs and features
        ds = load_dataset(str(root))
    elif how == "parquet":  # the Parquet files alone: splits from their names, features from their schemas
        ds = load_dataset("parquet", data_dir=str(root))
    else:  # the Parquet files with the features given
        ds = load_dataset("parquet", data_dir=str(root), features=set_features(set_name))
    assert sorted(ds) == ["test", "train", "validation"]
    records = {r["id"]: r for r in iter_records(root)}
    assert sum(len(d) for d in ds.values()) == len(records)
    for hf_split, ours in (("train", "train"), ("validation", "val"), ("test", "test")):
        assert set(ds[hf_split]["split"]) == {ours}
    for col in images:
        assert isinstance(ds["train"].features[col], HFImage), col
    row = ds["validation"][0]
    rec = records[row["id"]]
    for col in images:
        assert isinstance(row[col], Image.Image)
        np.testing.assert_array_equal(np.asarray(row[col]), decode_image(rec[col], None))
    if set_name == "shoe_leg":
        kp = ds["train"].features["keypoints"]
        assert isinstance(kp, List) and kp.length == 12 and kp.feature.length == 3
        np.testing.assert_allclose(np.asarray(row["keypoints"]), keypoints_array(rec))


def test_plain_parquet_load_gives_three_splits_and_keypoint_rows(small_sets) -> None:
    from datasets import List, load_dataset

    from shoemodel.store import to_hf_dataset

    ds = load_dataset("parquet", data_dir=str(small_sets["shoe_leg"]))
    assert sorted(ds) == ["test", "train", "validation"]
    kp = ds["train"].features["keypoints"]
    assert isinstance(kp, List) and kp.length == 12 and kp.feature.length == 3
    val = to_hf_dataset(small_sets["wearable_area"], split="val")
    assert set(val["split"]) == {"val"} and isinstance(val[0]["area_mask"], Image.Image)


def test_shards_store_images_as_datasets_does_and_carry_its_features(small_sets) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Features
    from datasets import Image as HFImage

    from shoemodel.store import shard_paths

    for set_name, root in small_sets.items():
        schema = pq.read_schema(shard_paths(root)[0])
        for col in ("image", "shoe_image", "shoe_mask" if set_name == "shoe_leg" else "area_mask"):
            assert schema.field(col).type == pa.struct([("bytes", pa.binary()), ("path", pa.string())])
            assert isinstance(Features.from_arrow_schema(schema)[col], HFImage), (set_name, col)
        row = pq.read_table(shard_paths(root)[0]).slice(0, 1).to_pylist()[0]
        assert row["image"]["path"] is None and isinstance(row["image"]["bytes"], bytes)
        assert decode_image(row["image"]).shape == (row["height"], row["width"], 3)  # a stored value decodes as is


def test_a_set_written_before_schema_1_2_with_plain_binary_images_still_reads(small_sets, tmp_path: Path) -> None:
    """Old sets (images as plain binary, no features metadata) read the same everywhere: records, tables, datasets."""
    import pyarrow.parquet as pq

    from shoemodel.schemas.records import plain_images
    from shoemodel.store import shard_paths, to_hf_dataset
    from shoemodel.training.data import load_split

    root = tmp_path / "old"
    shutil.copytree(small_sets["wearable_area"], root)
    for path in shard_paths(root):
        table = plain_images(pq.read_table(path))
        pq.write_table(table.replace_schema_metadata({k: v for k, v in table.schema.metadata.items()
                                                      if k != b"huggingface"}), path)
        assert pq.read_schema(path).field("area_mask").type == "binary"
    new = {r["id"]: r for r in iter_records(small_sets["wearable_area"])}
    old = {r["id"]: r for r in iter_records(root)}
    assert old == new and all(isinstance(r["area_mask"], bytes) for r in old.values())
    table = load_split(root, ["area_mask"], "train")
    assert table.schema.field("area_mask").type == "binary"
    assert table.column("area_mask").to_pylist() == load_split(small_sets["wearable_area"], ["area_mask"], "train"
                                                               ).column("area_mask").to_pylist()
    val = to_hf_dataset(root, split="val")
    assert isinstance(val[0]["area_mask"], Image.Image)
    np.testing.assert_array_equal(np.asarray(val[0]["area_mask"]), decode_image(old[val[0]["id"]]["area_mask"], None))


def test_every_set_has_a_card_with_features_splits_and_sources(small_sets) -> None:
    for root in small_sets.values():
        text = (root / "README.md").read_text()
        _, front, body = text.split("---\n", 2)
        meta = yaml.safe_load(front)
        manifest = json.loads((root / "manifest.json").read_text())
        splits = {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]}
        assert sum(splits.values()) == manifest["num_records"] and set(splits) == {"train", "validation", "test"}
        dtypes = {f["name"]: f.get("dtype") for f in meta["dataset_info"]["features"]}
        assert dtypes["image"] == "image" and dtypes["shoe_image"] == "image"
        paths = {d["split"]: d["path"] for d in meta["configs"][0]["data_files"]}
        assert paths["validation"] == "shards/*-val.parquet"
        assert meta["license"] and "Sources and licences" in body and "source_uri" in body
        assert manifest["provenance"]["builder"] in body
    assert json.loads((small_sets["wearable_area"] / "id2label.json").read_text()) == {
        "0": "background", "1": "visible", "2": "wearable"}


class _OfflineHub:
    """Stands in for the Hub's HTTP API only: records the repo and the commit a push would make."""

    def __init__(self) -> None:
        self.repos: list[tuple[str, str]] = []
        self.commits: list[tuple[str, list]] = []

    def create_repo(self, repo_id: str, repo_type: str | None = None, **_: object) -> str:
        self.repos.append((repo_id, repo_type))
        return repo_id

    def create_commit(self, repo_id: str, operations: list, **kw: object) -> dict:
        assert kw.get("repo_type") == "dataset"
        self.commits.append((repo_id, operations))
        return {"repo_id": repo_id, "n": len(operations)}


def test_push_to_hub_uploads_a_repo_that_loads_with_three_splits(small_sets, tmp_path: Path) -> None:
    from datasets import Image as HFImage
    from datasets import load_dataset

    from shoemodel.store.hub import push_set

    hub = _OfflineHub()
    root = small_sets["wearable_area"]
    push_set(root, "someone/shoemodel-wearable-area", api=hub)
    assert hub.repos == [("someone/shoemodel-wearable-area", "dataset")]
    (_, ops), = hub.commits
    paths = [op.path_in_repo for op in ops]
    assert paths[0] == "README.md" and "manifest.json" in paths
    assert not [p for p in paths if p.endswith(".json") and p.startswith("shards/")]  # sidecars stay home
    # what the repo would hold, laid out as uploaded, reads through the card's configs
    repo = tmp_path / "repo"
    for op in ops:
        (repo / op.path_in_repo).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(op.path_or_fileobj, repo / op.path_in_repo)
    ds = load_dataset(str(repo))
    assert sorted(ds) == ["test", "train", "validation"]
    assert isinstance(ds["test"].features["area_mask"], HFImage)
    assert sum(len(d) for d in ds.values()) == json.loads((root / "manifest.json").read_text())["num_records"]


def test_resuming_onto_a_set_of_an_older_schema_rewrites_every_shard(tmp_path: Path) -> None:
    """A set written before schema 1.2 is never extended in the new layout: its shards are all redone."""
    import pyarrow.parquet as pq

    from shoemodel.store import shard_paths, write_set
    from shoemodel.store.writer import write_counts
    from tests.helpers.sets import synthetic_wearable_record

    root = tmp_path / "set"
    make = lambda i: synthetic_wearable_record(i, 32, "train")  # noqa: E731
    write_set(root, "wearable_area", range(6), make, records_per_shard=3, progress=False)
    write_set(root, "wearable_area", range(6), make, records_per_shard=3, progress=False)
    assert write_counts[str(root)] == 0  # same input, same schema: kept
    for sidecar in (root / "shards").glob("shard-*.json"):  # as an older version wrote them
        data = json.loads(sidecar.read_text())
        del data["schema_version"]
        sidecar.write_text(json.dumps(data))
    write_set(root, "wearable_area", range(6), make, records_per_shard=3, progress=False)
    assert write_counts[str(root)] == 2
    assert all(json.loads(p.read_text())["schema_version"] == "1.2" for p in (root / "shards").glob("shard-*.json"))
    assert all(pq.read_schema(p).field("image").type.num_fields == 2 for p in shard_paths(root))
