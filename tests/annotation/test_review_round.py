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
    served = sorted(p for p in (files_root / "shoereview" / "images").rglob("*") if p.is_file())
    assert {p.suffix for p in served} == {".jpg"}  # the JPEG photos are served as they are, not as PNG
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
        photo = r.read()
    d0 = tasks[0]["data"]
    assert decode_image(photo, "RGB").shape[:2] == (d0["height"], d0["width"])

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


@pytest.mark.server
def test_sam_answers_a_shoe_prompt_in_the_review_project(tmp_path, label_studio, monkeypatch):
    """`curate review connect` adds the ML backend to the review project as interactive; a SAM prompt from the
    review's prompt tool, sent through Label Studio, comes back as that shoe's brush on the task's photo."""
    pytest.importorskip("transformers")
    import threading

    import torch
    from typer.testing import CliRunner

    from shoemodel.annotation.client import connect, iter_tasks
    from shoemodel.annotation.config import MLBackendConfig
    from shoemodel.annotation.ml_backend import make_server
    from shoemodel.cli import app
    from shoemodel.curation.review import review_project, send_round
    from shoemodel.curation.review_tasks import PROMPT_POINT, RIGHT, SHOES, decode_brush
    from tests.curation.review_helpers import SIZE, curated_config
    from tests.helpers.tiny_models import tiny_sam
    from tests.helpers.tiny_wd import save_tiny_wd

    url, token, files_root, _ = label_studio
    cfg = curated_config(tmp_path, n=2)
    cfg.review.document_root, cfg.review.image_url_prefix = str(files_root / "samreview"), "/data/local-files/?d=samreview/"
    cfg.review.project_title = "sam review"
    rep = send_round(cfg, url, token, n=1)
    assert rep.created == 1
    torch.manual_seed(0)
    torch.save(tiny_sam().state_dict(), tmp_path / "sam.pth")
    server = make_server(MLBackendConfig(checkpoint=str(save_tiny_wd(tmp_path / "wd")), pool="", port=0,
                                         sam_checkpoint=str(tmp_path / "sam.pth")))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        backend = f"http://127.0.0.1:{server.server_address[1]}"
        monkeypatch.setenv("LABEL_STUDIO_URL", url)
        monkeypatch.setenv("LABEL_STUDIO_API_KEY", token)
        res = CliRunner().invoke(app, ["curate", "review", "connect", "--backend", backend,
                                       "--set", "curation.review.project_title=sam review"])
        assert res.exit_code == 0 and "interactive pre-annotation" in res.output, res.output
        client = connect(url, token)
        project = review_project(client, "sam review")
        ml = [b for b in client.ml.list(project=project.id) if str(b.url).rstrip("/") == backend]
        assert len(ml) == 1 and ml[0].is_interactive
        task = next(iter_tasks(client, project.id))
        assert model_task_photo_is_local(server, task)
        ctx = {"result": [{"type": "keypointlabels", "from_name": PROMPT_POINT, "to_name": "image", "origin": "manual",
                           "original_width": SIZE, "original_height": SIZE, "is_positive": True,
                           "value": {"x": 40, "y": 85, "width": 1, "keypointlabels": [RIGHT]}}]}
        req = urllib.request.Request(f"{url}/api/ml/{ml[0].id}/interactive-annotating", method="POST",
                                     data=json.dumps({"task": task["id"], "context": ctx}).encode(),
                                     headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            body = json.loads(r.read())
        assert "errors" not in body, body
        got = body["data"]
        assert got["model_version"].startswith("sam:")
        direct = server.backend_model.predict_tasks([task], ctx)[0]
        assert len(got["result"]) == len(direct["result"])
        for a, b in zip(got["result"], direct["result"]):
            assert a["from_name"] == SHOES and a["value"]["brushlabels"] == [RIGHT]
            np.testing.assert_array_equal(decode_brush(a, SIZE, SIZE, "ls"), decode_brush(b, SIZE, SIZE, "direct"))
    finally:
        server.shutdown()
        server.server_close()


def model_task_photo_is_local(server, task) -> bool:
    """The backend reads a review task's photo from the served file itself (no request back to Label Studio)."""
    photo = server.backend_model.task_photo(task)
    return photo.shape[:2] == (task["data"]["height"], task["data"]["width"])
