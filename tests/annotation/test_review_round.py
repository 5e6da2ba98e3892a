"""A shoe-leg review round against a real Label Studio server, through the project's own DVC stage.

Real photos are curated with `shoemodel curate run` in a scratch project; `curate review` sends the three
least-sure records; a person (through the API) moves one keypoint, repaints one shoe and rejects one record;
`curate review import` writes annotation/review/corrections.jsonl; `dvc repro` (the project's curate_build stage,
no server) puts the fixes into the set; two more `curate run`s, one with other segment settings, keep them.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import urllib.request

import numpy as np
import pytest
import yaml

from shoemodel.schemas.records import decode_image, keypoints_array
from shoemodel.store import iter_failures, iter_records

pytestmark = [pytest.mark.server, pytest.mark.fixtures, pytest.mark.slow]


def _run(cmd, cwd, env=None):
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


def _records(root):
    return {r["id"]: r for r in iter_records(root)}


def _project(repo_root, proj, fixtures_dir):
    """A scratch DVC project: the repo's curate_build stage and params (curating the fixture photos), the code, and
    the shipped (empty) corrections table."""
    photos = fixtures_dir / "images"
    params = yaml.safe_load((repo_root / "params.yaml").read_text())
    cur = params["curation"]
    cur["ingest"].update(sources=[str(photos / "mmpose" / "coco"), str(photos / "ultralytics_samples")],
                         optional_sources=[], part_size=2)
    cur["detect"]["weights"] = str(fixtures_dir / "weights" / "yolox_nano" / "yolox_nano.onnx")
    cur["build"]["records_per_shard"] = 2
    cur["progress"] = False
    proj.mkdir()
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    (proj / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"curate_build": stages["curate_build"]}}, sort_keys=False))
    (proj / "annotation" / "review").mkdir(parents=True)
    shutil.copy(repo_root / "annotation/review/corrections.jsonl", proj / "annotation/review/corrections.jsonl")
    assert (proj / "annotation/review/corrections.jsonl").read_text() == ""  # the project ships an empty table
    shutil.copytree(repo_root / "shoemodel", proj / "shoemodel", ignore=shutil.ignore_patterns("__pycache__"))
    _run(["git", "init", "-q"], proj)
    _run(["dvc", "init", "-q"], proj)
    _run(["dvc", "config", "core.analytics", "false"], proj)


def _status(proj) -> set[str]:
    return set(json.loads(_run(["dvc", "status", "--json"], proj) or "{}"))


def test_review_round_fixes_reach_the_set_through_dvc_and_survive_recuration(repo_root, tmp_path, label_studio,
                                                                             fixtures_dir):
    pytest.importorskip("mediapipe", reason="mediapipe==0.10.21 not installed")
    if shutil.which("dvc") is None or shutil.which("shoemodel") is None:
        pytest.skip("dvc or the shoemodel command is not on PATH")
    if not (fixtures_dir / "weights" / "yolox_nano" / "yolox_nano.onnx").exists():
        pytest.skip("YOLOX-Nano weights not in fixtures")
    from shoemodel.annotation.client import connect, iter_tasks
    from shoemodel.curation.review_tasks import LEFT, RIGHT, brush_result, decision_result, decode_brush

    url, token, files_root, _ = label_studio
    proj = tmp_path / "proj"
    _project(repo_root, proj, fixtures_dir)
    env = {**os.environ, "LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": token}
    _run(["shoemodel", "curate", "run", "--quiet"], proj, env)
    _run(["dvc", "repro", "curate_build"], proj)
    assert _status(proj) == set()
    out = proj / "data/curation/shoe_leg"
    before = _records(out)
    assert len(before) >= 4

    review = ["--set", f"curation.review.document_root={files_root / 'shoereview'}",
              "--set", "curation.review.image_url_prefix=/data/local-files/?d=shoereview/",
              "--set", "curation.review.project_title=shoe-leg review"]
    said = _run(["shoemodel", "curate", "review", "--n", "3", *review], proj, env)
    assert "review round 1: 3 tasks created (3 kept, 0 dropped persons)" in said, said
    served = sorted((files_root / "shoereview" / "images").rglob("*.png"))
    assert served
    served[0].unlink()  # re-running while the round is open sends nothing and repairs the served photos
    said = _run(["shoemodel", "curate", "review", "--n", "3", *review], proj, env)
    assert "review round 1 is open: 3 tasks pending, 1 photos re-written" in said, said

    client = connect(url, token)
    project = next(p for p in client.projects.list(title="shoe-leg review") if p.title == "shoe-leg review")
    tasks = sorted(iter_tasks(client, project.id), key=lambda t: t["data"]["priority"])
    assert len(tasks) == 3 and {t["data"]["set_id"] for t in tasks} <= set(before)
    req = urllib.request.Request(url + tasks[0]["data"]["image"], headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:  # Label Studio serves the photo at its own size
        png = r.read()
    d0 = tasks[0]["data"]
    assert decode_image(png, "RGB").shape[:2] == (d0["height"], d0["width"])

    moved_task, painted_task, rejected_task = tasks
    # 1. move one keypoint (the first present one) and submit the rest as predicted
    res = copy.deepcopy(moved_task["predictions"][0]["result"])
    point = next(r for r in res if r["type"] == "keypointlabels")
    name = point["value"]["keypointlabels"][0]
    point["value"]["x"], point["value"]["y"] = 41.5, 63.25
    client.annotations.create(id=moved_task["id"], result=res, lead_time=4.0)
    # 2. repaint the shoes: a box around the predicted left shoe (or the whole lower fifth), the right as predicted
    d = painted_task["data"]
    res = copy.deepcopy(painted_task["predictions"][0]["result"])
    brushes = {r["value"]["brushlabels"][0]: r for r in res if r["type"] == "brushlabels"}
    painted = np.zeros((d["height"], d["width"]), bool)
    if LEFT in brushes:
        ys, xs = np.nonzero(decode_brush(brushes[LEFT], d["width"], d["height"], "left"))
        painted[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = True
    else:
        painted[int(d["height"] * 0.8):, : d["width"] // 3] = True
    res = [r for r in res if not (r["type"] == "brushlabels" and r["value"]["brushlabels"] == [LEFT])]
    res.append(brush_result(painted, LEFT))
    expected_mask = painted.copy()
    if RIGHT in brushes:
        expected_mask |= decode_brush(brushes[RIGHT], d["width"], d["height"], "right")
    client.annotations.create(id=painted_task["id"], result=res, lead_time=9.0)
    # 3. reject one record
    res = [r for r in rejected_task["predictions"][0]["result"] if r["type"] != "choices"] + [decision_result("reject")]
    client.annotations.create(id=rejected_task["id"], result=res, lead_time=1.0)

    said = _run(["shoemodel", "curate", "review", "import", *review], proj, env)
    assert "3 corrections (2 kept, 1 rejected read now); 0 tasks pending" in said, said
    assert _status(proj) == {"curate_build"}  # the new table is a dependency of the build stage, nothing else moved
    _run(["dvc", "repro"], proj)
    assert _status(proj) == set()

    def check(same_others: bool) -> None:
        after = _records(out)
        rec = after[moved_task["data"]["set_id"]]
        k = keypoints_array(rec)
        old = np.asarray(moved_task["data"]["keypoints"], np.float32).reshape(12, 3)
        from shoemodel.schemas.keypoints import KEYPOINT_NAMES

        i = KEYPOINT_NAMES.index(name)
        w, h = moved_task["data"]["width"], moved_task["data"]["height"]
        np.testing.assert_array_equal(k[i], np.float32([41.5 * w / 100, 63.25 * h / 100, 1.0]))  # the moved point
        others = [j for j in range(12) if j != i]
        np.testing.assert_array_equal(k[others], old[others])  # the rest exactly as curation had them
        rec = after[painted_task["data"]["set_id"]]
        np.testing.assert_array_equal(decode_image(rec["shoe_mask"], "L") > 127, expected_mask)  # the painted pixels
        assert json.loads(rec["provenance"])["review"]["task_id"] == painted_task["id"]
        assert rejected_task["data"]["set_id"] not in after
        if same_others:
            assert set(after) == set(before) - {rejected_task["data"]["set_id"]}
            drops = [f for f in iter_failures(out) if f.kind == "dropped"]
            assert [f.reason for f in drops] == ["rejected in review"]
            assert drops[0].item.startswith(rejected_task["data"]["source_uri"])

    check(same_others=True)
    # the next `curate run`s (the same settings, then other segment settings) keep every fix
    _run(["shoemodel", "curate", "run", "--quiet"], proj, env)
    check(same_others=True)
    _run(["shoemodel", "curate", "run", "--quiet", "--set", "curation.segment.box_padding=0.55"], proj, env)
    check(same_others=False)
