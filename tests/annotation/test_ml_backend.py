"""The ML backend: its protocol answered over HTTP, and Label Studio (real server) showing its WD predictions."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import numpy as np
import pytest

from shoemodel.annotation.brush import results_to_mask
from shoemodel.annotation.config import AnnotationConfig, MLBackendConfig
from shoemodel.annotation.ml_backend import make_server, prompt_of
from shoemodel.schemas.classes import VISIBLE, WEARABLE
from tests.helpers.sets import write_pool
from tests.helpers.tiny_wd import save_tiny_wd

pytest.importorskip("transformers")


def _serve(cfg):
    server = make_server(cfg)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _http(url, body=None):
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_prompts_from_label_studio_context_are_pixels():
    ctx = {"result": [{"type": "keypointlabels", "original_width": 200, "original_height": 100,
                       "value": {"x": 50, "y": 20, "keypointlabels": ["Wearable"]}}]}
    label, points, positive, box = prompt_of(ctx)
    assert label == WEARABLE and box is None and points.tolist() == [[100.0, 20.0]] and positive.tolist() == [1]
    ctx = {"result": [{"type": "rectanglelabels", "original_width": 200, "original_height": 100,
                       "value": {"x": 10, "y": 10, "width": 50, "height": 50, "rectanglelabels": ["Visible"]}}]}
    label, points, positive, box = prompt_of(ctx)
    assert label == VISIBLE and points is None and positive is None and box.tolist() == [20.0, 10.0, 120.0, 60.0]
    ctx = {"result": [{"type": "keypointlabels", "original_width": 200, "original_height": 100, "is_positive": flag,
                       "value": {"x": 10 * i, "y": 10, "keypointlabels": ["Visible"]}} for i, flag in ((1, True), (2, False))]}
    _, points, positive, _ = prompt_of(ctx)  # Alt-click: a negative point
    assert points.tolist() == [[20.0, 10.0], [40.0, 10.0]] and positive.tolist() == [1, 0]
    assert prompt_of(None) is None and prompt_of({"result": []}) is None


def test_binds_to_localhost_only(tmp_path):
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        make_server(MLBackendConfig(checkpoint=str(save_tiny_wd(tmp_path / "wd")), host="0.0.0.0", port=0))


def test_protocol_over_http_and_a_sam_prompt(tmp_path):
    """/health, /setup, /predict (WD; SAM when prompted), /webhook, and a retrained checkpoint reloaded at /setup."""
    import torch

    from tests.helpers.tiny_models import tiny_sam

    torch.manual_seed(0)
    torch.save(tiny_sam().state_dict(), tmp_path / "sam_tiny.pth")
    pool = write_pool(tmp_path / "pool", 3)
    wd_dir = save_tiny_wd(tmp_path / "wd")
    cfg = MLBackendConfig(checkpoint=str(wd_dir), pool=str(pool), port=0, sam_checkpoint=str(tmp_path / "sam_tiny.pth"))
    server, url = _serve(cfg)
    try:
        health = _http(url + "/health")
        assert health["status"] == "UP" and health["model_version"].startswith("wd-step7-")
        assert _http(url + "/setup", {"project": "1.0", "hostname": "http://x", "access_token": "t"}) == \
            {"model_version": health["model_version"]}
        task = {"id": 11, "data": {"record_id": "shoe/0001", "image": "/unused"}}
        res = _http(url + "/predict", {"tasks": [task], "params": {"context": None}})["results"]
        assert len(res) == 1 and res[0]["model_version"] == health["model_version"] and 0 <= res[0]["score"] <= 1
        mask = results_to_mask(res[0]["result"], 40, 32)
        expect = server.backend_model.predict_tasks([task])[0]
        np.testing.assert_array_equal(mask, results_to_mask(expect["result"], 40, 32))

        ctx = {"result": [{"type": "keypointlabels", "original_width": 40, "original_height": 32,
                           "value": {"x": 50, "y": 50, "keypointlabels": ["Wearable"]}}]}
        sam = _http(url + "/predict", {"tasks": [task], "params": {"context": ctx}})["results"][0]
        assert sam["model_version"].startswith("sam:")
        assert set(np.unique(results_to_mask(sam["result"], 40, 32))) <= {0, WEARABLE}

        assert _http(url + "/webhook", {"action": "ANNOTATION_CREATED"}) == {"status": "ok"}
        assert server.backend_model.events["ANNOTATION_CREATED"] == 1

        save_tiny_wd(wd_dir, seed=1, step=9)  # `dvc repro train_wd` after a round
        assert _http(url + "/setup", {"project": "1.0"})["model_version"].startswith("wd-step9-")
        with pytest.raises(urllib.error.HTTPError) as err:
            _http(url + "/predict", {"tasks": [{"id": 1, "data": {}}]})
        assert err.value.code == 500 and "record_id" in json.loads(err.value.read())["error"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.server
def test_label_studio_shows_the_backends_predictions(tmp_path, label_studio):
    from shoemodel.annotation.client import connect, iter_tasks
    from shoemodel.annotation.ml_backend import connect_backend, retrieve_predictions
    from shoemodel.annotation.rounds import run_round

    url, token, files_root, _ = label_studio
    title = "mlbackend"
    pool = write_pool(tmp_path / "pool", 6)
    cfg = AnnotationConfig(pool=str(pool), workdir=str(files_root / title), output=str(tmp_path / "out"),
                           project_title=title, document_root=str(files_root / title),
                           image_url_prefix="/data/local-files/?d=" + title + "/", round_size=3, seed=1)
    rnd, _ = run_round(cfg, url, token)  # tasks with the shoe-mask pre-annotation
    wd_dir = save_tiny_wd(tmp_path / "wd")
    server, backend_url = _serve(MLBackendConfig(checkpoint=str(wd_dir), pool=str(pool), port=0))
    try:
        client = connect(url, token)
        pid = json.loads((files_root / title / "rounds.json").read_text())["project_id"]
        backend = connect_backend(client, pid, backend_url, "shoemodel WD")
        assert connect_backend(client, pid, backend_url, "shoemodel WD").id == backend.id  # idempotent
        version = server.backend_model.model_version
        tasks = {t["data"]["record_id"]: t for t in iter_tasks(client, pid)}
        first = tasks[rnd.ids[0]]
        retrieve_predictions(client, pid, [first["id"]])

        preds = [p for p in client.predictions.list(task=first["id"]) if p.model_version == version]
        assert len(preds) == 1, [p.model_version for p in client.predictions.list(task=first["id"])]
        direct = server.backend_model.predict_tasks([first])[0]
        np.testing.assert_array_equal(results_to_mask(preds[0].result, 40, 32), results_to_mask(direct["result"], 40, 32))
        others = [t for rid, t in tasks.items() if rid != rnd.ids[0]]
        assert all(version not in {p.model_version for p in client.predictions.list(task=t["id"])} for t in others)

        # Label Studio's webhook reaches the backend when an annotation is submitted
        client.annotations.create(id=first["id"], result=preds[0].result, lead_time=1.0)
        deadline = time.monotonic() + 20
        while server.backend_model.events["ANNOTATION_CREATED"] < 1 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert server.backend_model.events["ANNOTATION_CREATED"] >= 1, dict(server.backend_model.events)
    finally:
        server.shutdown()
        server.server_close()


def test_a_photo_trained_wd_predicts_on_the_task_photo(tmp_path):
    """The backend feeds the checkpoint's own input: a WD trained on photos (`train.wd.input: photo`) gets the
    record's photo framed by its shoe pixels, not X_m."""
    from shoemodel.models.wd.predictor import WDPredictor
    from shoemodel.schemas.records import decode_image
    from shoemodel.store import iter_records

    pool = write_pool(tmp_path / "pool", 2)
    wd_dir = save_tiny_wd(tmp_path / "wd", reads="photo")
    server = make_server(MLBackendConfig(checkpoint=str(wd_dir), pool=str(pool), port=0))
    try:
        rec = next(r for r in iter_records(pool) if r["id"] == "shoe/0001")
        got = server.backend_model.predict_tasks([{"id": 5, "data": {"record_id": "shoe/0001"}}])[0]
        wd = WDPredictor.from_checkpoint(wd_dir, device="cpu")
        assert wd.reads == "photo"
        photo, shoe = decode_image(rec["image"], "RGB"), decode_image(rec["shoe_image"], "RGB")
        from shoemodel.annotation.predictor import uncertainty

        def score(image, content=None):  # the backend's score: 1 - mean uncertainty over the predicted shoe
            p = np.moveaxis(wd.predict_scores([image], [content])[0], 0, -1)
            return p.argmax(-1), 1.0 - uncertainty(p, p.argmax(-1) > 0)

        want_mask, want_score = score(photo, shoe.max(-1) > 0)
        np.testing.assert_array_equal(results_to_mask(got["result"], 40, 32), want_mask)
        assert got["score"] == pytest.approx(want_score, abs=1e-6)
        assert abs(score(shoe)[1] - want_score) > 1e-4  # X_m would have given another answer
    finally:
        server.server_close()
