"""Keypoint definitions, flips, normalisation, record building and validation."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shoemodel.schemas import classes
from shoemodel.schemas import keypoints as kp
from shoemodel.schemas.builder import build_record, content_hash_of
from shoemodel.schemas.normalize import denormalize_coords, normalize_coords
from shoemodel.schemas.records import (
    SHOE_LEG_SCHEMA,
    RecordError,
    decode_image,
    encode_png,
    plain_images,
    stored_row,
    validate_record,
)


def test_keypoint_tables_are_consistent():
    assert kp.NUM_KEYPOINTS == 12
    assert kp.WHOLEBODY_INDEX == tuple(range(11, 23))
    assert [kp.KEYPOINT_NAMES[i] for i in kp.FOOT_INDICES] == [
        "left_ankle", "left_big_toe", "left_small_toe", "left_heel",
        "right_ankle", "right_big_toe", "right_small_toe", "right_heel",
    ]
    assert [kp.KEYPOINT_NAMES[i] for i in kp.LEG_INDICES] == [
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle"]
    for a, b in kp.FLIP_PAIRS:
        assert kp.KEYPOINT_NAMES[a].replace("left", "X") == kp.KEYPOINT_NAMES[b].replace("right", "X")
    assert len(kp.SKELETON) == len(kp.SKELETON_COLORS)
    assert all(0 <= a < 12 and 0 <= b < 12 for a, b in kp.SKELETON)


def test_flip_swaps_left_and_right_and_mirrors_x():
    k = np.zeros((12, 3), np.float32)
    k[4] = (10, 50, 2)  # left ankle
    k[5] = (90, 60, 2)  # right ankle
    flipped = kp.flip_keypoints(k, width=100)
    assert tuple(flipped[5]) == (89, 50, 2)  # the old left ankle is now the right ankle, x mirrored
    assert tuple(flipped[4]) == (9, 60, 2)
    assert np.all(flipped[[0, 1, 2, 3]] == 0)  # missing points stay exactly 0
    np.testing.assert_allclose(kp.flip_keypoints(flipped, 100), k)


def test_foot_flip_permutation_matches_names():
    names = kp.FOOT_NAMES
    for i, j in enumerate(kp.FOOT_FLIP_PERMUTATION):
        assert names[i].split("_", 1)[1] == names[j].split("_", 1)[1]
        assert names[i].split("_")[0] != names[j].split("_")[0]


def test_wholebody_to_shoeleg_picks_indices_11_to_22():
    wb = np.arange(133 * 3, dtype=np.float32).reshape(133, 3)
    out = kp.wholebody_to_shoeleg(wb)
    np.testing.assert_array_equal(out[0], wb[11])
    np.testing.assert_array_equal(out[-1], wb[22])


def test_normalisation_round_trip_and_missing_stays_zero():
    pts = np.array([[0.0, 0.0], [128.0, 64.0], [255.0, 255.0], [40.0, 200.0]], np.float32)
    vis = np.array([True, True, True, False])
    norm = normalize_coords(pts, 256, vis)
    assert norm[0].tolist() == pytest.approx([0.1, 0.1])
    assert norm[2].tolist() == pytest.approx([255 / 256 * 0.9 + 0.1] * 2)
    assert norm[3].tolist() == [0.0, 0.0]
    assert np.all(norm[:3] >= 0.1) and np.all(norm[:3] <= 1.0)
    back, back_vis = denormalize_coords(norm, 256)
    np.testing.assert_allclose(back[:3], pts[:3], atol=1e-3)
    assert back_vis.tolist() == [True, True, True, False]
    assert back[3].tolist() == [0.0, 0.0]


def test_class_colours_and_two_class_map():
    assert classes.CLASS_COLORS == ((0, 0, 0), (0, 0, 255), (255, 255, 0))
    m = np.array([[0, 1, 2]], np.uint8)
    assert classes.to_two_class(m).tolist() == [[0, 0, 1]]
    assert classes.colorize(m)[0, 2].tolist() == [255, 255, 0]
    with pytest.raises(ValueError, match="class id 3"):
        classes.colorize(np.array([[3]], np.uint8))


def _parts():
    img = np.full((8, 10, 3), 100, np.uint8)
    mask = np.zeros((8, 10), np.uint8)
    mask[2:5, 3:7] = 255
    k = np.zeros((12, 3), np.float32)
    k[4] = (5, 4, 2)
    return {"id": "a", "source_uri": "/x/a.png", "split": "train", "provenance": {"m": 1}, "image": img,
            "shoe_image": img * (mask > 0)[..., None], "shoe_mask": mask, "keypoints": k}


def _record(**over):
    """A valid shoe-leg record with some fields then overwritten by hand (to test validation)."""
    return {**build_record("shoe_leg", **_parts()), **over}


def test_build_record_encodes_arrays_and_keeps_bytes():
    parts = _parts()
    rec = build_record("shoe_leg", **parts)
    assert (rec["width"], rec["height"]) == (10, 8) and rec["caption"] is None and "annotation" not in rec
    assert np.array_equal(decode_image(rec["image"]), parts["image"])
    assert np.array_equal(decode_image(rec["shoe_mask"], None), parts["shoe_mask"])
    assert rec["keypoints"] == parts["keypoints"].reshape(12, 3).tolist() and rec["provenance"] == '{"m": 1}'
    assert rec["content_hash"] == content_hash_of(rec["image"])  # the hash of the stored image bytes by default
    jpeg = _jpeg(parts["image"])
    again = build_record("shoe_leg", **{**parts, "image": jpeg, "content_hash": "f" * 64})
    assert again["image"] == jpeg and again["content_hash"] == "f" * 64 and (again["width"], again["height"]) == (10, 8)


def test_build_record_json_key_order_and_wearable_annotation():
    img = np.zeros((4, 4, 3), np.uint8)
    kw = dict(id="w", source_uri="mem://w", split="val", image=img, shoe_image=img, area_mask=np.zeros((4, 4), np.uint8),
              provenance={"z": 1, "a": 2})
    assert json.loads(build_record("wearable_area", **kw)["provenance"]) == {"z": 1, "a": 2}
    assert build_record("wearable_area", **kw)["provenance"] == '{"a": 2, "z": 1}'
    assert build_record("wearable_area", **kw, sort_keys=False)["provenance"] == '{"z": 1, "a": 2}'
    assert build_record("wearable_area", **kw)["annotation"] is None
    assert build_record("wearable_area", **kw, annotation={"round": 1})["annotation"] == '{"round": 1}'


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"keypoints": None}, "keypoints", "missing"),
        ({"keypoints": np.zeros((8, 3))}, "keypoints", "expected (12, 3) keypoints"),
        ({"area_mask": np.zeros((8, 10), np.uint8)}, "area_mask", "not in the shoe_leg schema"),
        ({"annotation": {"round": 1}}, "annotation", "not in the shoe_leg schema"),
        ({"split": "dev"}, "split", "train/val/test"),
        ({"image": b"not an image"}, "image", "cannot decode"),
    ],
)
def test_build_record_names_the_bad_field(change, field, fragment):
    with pytest.raises(RecordError) as err:
        build_record("shoe_leg", **{**_parts(), **change})
    assert err.value.field == field and fragment in str(err.value) and "/x/a.png" in str(err.value)


def _jpeg(img):
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG")
    return buf.getvalue()


def test_record_round_trip_through_parquet(tmp_path):
    rec = _record()
    validate_record(rec, "shoe_leg")
    pq.write_table(pa.Table.from_pylist([stored_row(rec, SHOE_LEG_SCHEMA)], schema=SHOE_LEG_SCHEMA), tmp_path / "t.parquet")
    stored = pq.read_table(tmp_path / "t.parquet").to_pylist()[0]
    assert stored["image"] == {"bytes": rec["image"], "path": None}  # an Image() value, as datasets stores it
    validate_record(stored, "shoe_leg")
    back = plain_images(pq.read_table(tmp_path / "t.parquet")).to_pylist()[0]
    validate_record(back, "shoe_leg")
    assert back["image"] == rec["image"] and back["shoe_mask"] == rec["shoe_mask"]
    np.testing.assert_allclose(back["keypoints"], rec["keypoints"])


@pytest.mark.parametrize(
    ("override", "field", "fragment"),
    [
        ({"width": "10"}, "width", "expected int"),
        ({"keypoints": [0.0] * 36}, "keypoints", "expected 12 x 3 numbers"),
        ({"split": "dev"}, "split", "train/val/test"),
        ({"provenance": "{not json"}, "provenance", "not valid JSON"),
        ({"image": b"not an image"}, "image", "cannot decode"),
        ({"shoe_mask": encode_png(np.ones((8, 10), np.uint8) * 7)}, "shoe_mask", "only 0 and 255"),
        ({"keypoints": np.reshape([0.0] * 12 + [50.0, 4.0, 2.0] + [0.0] * 21, (12, 3)).tolist()}, "keypoints", "outside"),
        ({"extra": 1}, "extra", "not in the shoe_leg schema"),
    ],
)
def test_bad_records_name_the_field_and_source(override, field, fragment):
    with pytest.raises(RecordError) as err:
        validate_record(_record(**override), "shoe_leg")
    assert err.value.field == field
    assert fragment in str(err.value)
    assert "/x/a.png" in str(err.value)


def test_missing_required_field_is_named():
    rec = _record()
    del rec["shoe_mask"]
    with pytest.raises(RecordError, match="field 'shoe_mask': missing"):
        validate_record(rec, "shoe_leg")
