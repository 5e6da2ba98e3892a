"""Review tasks in Label Studio's format without a server: a task's prediction read back as an annotation gives
curation's record exactly; moved points, repainted brushes and bad annotations; the ML backend's SAM answer."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from shoemodel.curation.corrections import KEEP, REJECT
from shoemodel.curation.review_tasks import (
    DECISION,
    KEYPOINTS,
    LEFT,
    PROMPT_POINT,
    RIGHT,
    SHOES,
    ReviewTaskError,
    brush_result,
    build_task,
    decision_result,
    label_config,
    parse_result,
    split_sides,
    task_correction,
)
from shoemodel.schemas.keypoints import KEYPOINT_NAMES

pytest.importorskip("label_studio_sdk")
W, H = 50, 40


def _person() -> dict:
    k = np.zeros((12, 3), np.float32)
    k[:, 0] = np.linspace(3.3, 45.7, 12)
    k[:, 1] = np.linspace(2.1, 37.9, 12)
    k[:, 2] = 0.7
    k[7] = 0  # a missing point stays missing
    k[[4, 6, 8], 0] = (10.2, 12.5, 8.0)  # left foot on the left of the image
    k[[5, 9, 11], 0] = (38.0, 41.5, 36.0)
    return {"content_hash": "f" * 64, "person": 1, "source_uri": "/photos/a.jpg", "set_id": "f" * 24 + "-p1",
            "kind": "kept", "priority": 0.2, "keypoints": k.reshape(-1).tolist(), "person_box": [0, 0, W, H, 0.9]}


def _mask() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[30:36, 5:15] = True
    m[31:37, 33:45] = True
    return m


def test_config_names_every_tool():
    xml = label_config()
    for name in (*KEYPOINT_NAMES, LEFT, RIGHT, KEYPOINTS, SHOES, DECISION, PROMPT_POINT, "keep", "reject"):
        assert f'"{name}"' in xml


def test_prediction_submitted_unchanged_is_curations_record_exactly():
    person, mask = _person(), _mask()
    task = build_task(person, "/data/local-files/?d=review/x.png", 3, W, H, mask)
    assert task["data"]["round"] == 3 and task["data"]["person"] == 1
    result = task["predictions"][0]["result"]
    assert sum(r["type"] == "keypointlabels" for r in result) == 11  # the missing point is not drawn
    sides = split_sides(mask, np.asarray(person["keypoints"]).reshape(12, 3))
    assert sides[LEFT][30:36, 5:15].all() and not sides[LEFT][:, 30:].any() and sides[RIGHT][31:37, 33:45].all()
    decision, k, masks = parse_result(result, task["data"], "task 1")
    assert decision == KEEP
    assert k == [float(v) for v in np.asarray(person["keypoints"], np.float32)]  # bit-exact, scores included
    np.testing.assert_array_equal(masks[LEFT] | masks[RIGHT], mask)


def test_moved_point_repainted_brush_and_reject():
    person, mask = _person(), _mask()
    task = build_task(person, "u", 1, W, H, mask)
    result = copy.deepcopy(task["predictions"][0]["result"])
    ankle = next(r for r in result if r.get("value", {}).get("keypointlabels") == ["left_ankle"])
    ankle["value"]["x"], ankle["value"]["y"] = 30.0, 80.0  # percent
    result = [r for r in result if r.get("value", {}).get("keypointlabels") != ["right_hip"]]  # deleted
    painted = np.zeros((H, W), bool)
    painted[20:39, 2:20] = True
    result = [r for r in result if r["type"] != "brushlabels"] + [brush_result(painted, LEFT)]
    decision, k, masks = parse_result(result, task["data"], "task 2")
    k = np.asarray(k, np.float32).reshape(12, 3)
    np.testing.assert_allclose(k[4], [15.0, 32.0, 1.0], atol=1e-5)  # moved: the new place, score 1
    assert k[1].tolist() == [0, 0, 0]  # deleted: missing
    np.testing.assert_array_equal(k[6], np.asarray(person["keypoints"], np.float32).reshape(12, 3)[6])  # untouched
    assert set(masks) == {LEFT} and np.array_equal(masks[LEFT], painted)

    reject = [r for r in result if r["type"] != "choices"] + [decision_result(REJECT)]
    c = task_correction({"id": 9, "data": task["data"], "annotations": [
        {"id": 1, "result": result, "updated_at": "2026-12-01T10:00:00", "created_username": "a@x.org, 1"},
        {"id": 2, "result": reject, "updated_at": "2026-12-02T10:00:00", "created_username": "b@x.org, 2"},
        {"id": 3, "result": [], "was_cancelled": True, "updated_at": "2026-12-03T10:00:00"}]})
    assert c.decision == REJECT and c.review["annotation_id"] == 2 and c.review["annotator"] == "b@x.org"
    assert c.key == ("f" * 64, 1) and c.keypoints is None
    assert task_correction({"id": 9, "data": task["data"], "annotations": []}) is None


@pytest.mark.parametrize("edit, message", [
    (lambda res: [r for r in res if r["type"] != "choices"], "no keep / reject choice"),
    (lambda res: [r for r in res if r["type"] != "brushlabels"], "kept without a shoe mask"),
    (lambda res: res + [r for r in res if r["type"] == "keypointlabels"][:1], "two points labelled"),
    (lambda res: [{**r, "original_width": 99} if r["type"] == "brushlabels" else r for r in res], "brush drawn at 99x40"),
    (lambda res: [{**r, "value": {**r["value"], "brushlabels": ["sock"]}} if r["type"] == "brushlabels" else r
                  for r in res], "brush label ['sock']"),
])
def test_unusable_annotations_name_the_task(edit, message):
    task = build_task(_person(), "u", 1, W, H, _mask())
    with pytest.raises(ReviewTaskError) as err:
        parse_result(edit(copy.deepcopy(task["predictions"][0]["result"])), task["data"], "task 5 (fff person 1)")
    assert "task 5" in str(err.value) and message in str(err.value)


def test_ml_backend_answers_a_review_prompt_with_that_shoes_brush(tmp_path):
    pytest.importorskip("transformers")
    import torch

    from shoemodel.annotation.config import MLBackendConfig
    from shoemodel.annotation.ml_backend import BackendModel
    from shoemodel.schemas.records import encode_png
    from tests.helpers.tiny_models import tiny_sam
    from tests.helpers.tiny_wd import save_tiny_wd

    torch.manual_seed(0)
    torch.save(tiny_sam().state_dict(), tmp_path / "sam.pth")
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode_png(np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)))
    model = BackendModel(MLBackendConfig(checkpoint=str(save_tiny_wd(tmp_path / "wd")), pool="", port=0,
                                         sam_checkpoint=str(tmp_path / "sam.pth")))
    task = build_task(_person(), photo.as_uri(), 1, W, H, _mask())
    task["id"] = 4
    assert model.predict_tasks([task], None) == [{"result": [], "model_version": model.model_version}]
    ctx = {"result": [{"type": "keypointlabels", "from_name": PROMPT_POINT, "to_name": "image", "original_width": W,
                       "original_height": H, "value": {"x": 50, "y": 50, "keypointlabels": [RIGHT]}}]}
    got = model.predict_tasks([task], ctx)[0]
    assert got["model_version"].startswith("sam:")
    for r in got["result"]:  # SAM's mask (random tiny weights: maybe empty) as the right shoe's brush
        assert r["from_name"] == SHOES and r["value"]["brushlabels"] == [RIGHT]
        assert (r["original_width"], r["original_height"]) == (W, H)
