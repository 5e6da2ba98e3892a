"""Resume never serves stale data: a changed mask, image or line redoes its shard; appended lines add shards; damage is redone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from shoemodel.curation import parts
from shoemodel.schemas.records import decode_image
from shoemodel.sets.config import SetsConfig
from shoemodel.sets.from_labels import build_set_from_labels
from shoemodel.store import iter_records, writer
from tests.reliability.corpus import labelled_corpus, photo


def _build(folder: Path, out: Path, calls: list | None = None):
    m = build_set_from_labels(folder, out, "wearable_area", SetsConfig(records_per_shard=2), progress=False)
    return m, writer.write_counts[str(out)]


def test_edited_mask_redoes_exactly_its_shard(tmp_path: Path) -> None:
    folder, _ = labelled_corpus(tmp_path)
    out = tmp_path / "set"
    first, made = _build(folder, out)
    assert made == len(list((out / "shards").glob("shard-*.json")))  # every chunk, also those with failures only
    again, made = _build(folder, out)
    assert made == 0 and again.to_json() == first.to_json()  # no-op
    mask = np.asarray(Image.open(folder / "masks" / "upright.png")).copy()
    mask[:4] = 2
    Image.fromarray(mask).save(folder / "masks" / "upright.png")  # same name, new content
    edited, made = _build(folder, out)
    assert made == 1
    rec = next(r for r in iter_records(out) if r["id"] == "rotated-upright-mask")
    assert (decode_image(rec["area_mask"], "L")[:4] == 2).all()
    changed = [a.index for a, b in zip(first.shards, edited.shards) if a.sha256 != b.sha256]
    assert len(changed) == 1


def test_appended_lines_add_shards_without_a_rebuild(tmp_path: Path) -> None:
    folder, _ = labelled_corpus(tmp_path)
    out = tmp_path / "set"
    first, _ = _build(folder, out)
    text = (folder / "labels.jsonl").read_text()
    new = []
    for i in range(4):
        photo(100 + i, (48, 32)).save(folder / "images" / f"new{i}.png")
        new.append(json.dumps({"id": f"new-{i}", "image": f"images/new{i}.png", "area_mask": "masks/good.png", "split": "train"}))
    (folder / "labels.jsonl").write_text(text + "\n".join(new) + "\n")
    grown, made = _build(folder, out)
    assert grown.num_records == first.num_records + 4
    assert made <= 3  # the last (partial) shard and the new ones; 14 -> 18 lines at 2 per shard
    assert [s.sha256 for s in grown.shards[: len(first.shards) - 1]] == [s.sha256 for s in first.shards[:-1]]


def test_a_touched_file_is_rehashed_not_rebuilt(tmp_path: Path) -> None:
    folder, _ = labelled_corpus(tmp_path)
    out = tmp_path / "set"
    _build(folder, out)
    (folder / "images" / "good.png").touch()
    _, made = _build(folder, out)
    assert made == 0


def test_a_truncated_shard_is_redone_on_resume(tmp_path: Path) -> None:
    folder, _ = labelled_corpus(tmp_path)
    out = tmp_path / "set"
    first, _ = _build(folder, out)
    shard = out / first.shards[1].file
    shard.write_bytes(shard.read_bytes()[:-10])
    again, made = _build(folder, out)
    assert made == 1 and [s.sha256 for s in again.shards] == [s.sha256 for s in first.shards]


def test_part_numbers_beyond_five_digits_are_read_back(tmp_path: Path) -> None:
    import pyarrow as pa

    schema = pa.schema(parts.BASE_FIELDS)
    for i in (3, 10000, 99999, 100000, 1234567):
        parts.write_part(tmp_path, i, [parts.row(f"u{i}", None, parts.KEPT)], schema, f"fp{i}")
    assert parts.part_indices(tmp_path) == [3, 10000, 99999, 100000, 1234567]
    assert [parts.read_part(tmp_path, i)[0]["source_uri"] for i in (100000, 1234567)] == ["u100000", "u1234567"]
    assert parts.part_fingerprint(tmp_path, 1234567) == "fp1234567"
