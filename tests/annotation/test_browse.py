"""FiftyOne on its real database (a mongod started by the tests): load, reload in a new process, App."""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys

import ann_servers as servers
import numpy as np
import pytest

from shoemodel.schemas.keypoints import KEYPOINT_NAMES, SKELETON
from shoemodel.store import Dropped, write_set
from tests.helpers.sets import product_record, worn_record, write_pool

pytestmark = pytest.mark.server

RELOAD = r"""
import json, sys
import numpy as np
from shoemodel.compat.fiftyone import import_fiftyone

fo = import_fiftyone()
from PIL import Image
ds = fo.load_dataset(sys.argv[1])
s = ds.match_tags("dropped", bool=False).first()
out = {"n": len(ds), "skeleton": [ds.skeletons["keypoints"].labels, ds.skeletons["keypoints"].edges],
       "mask_targets": {k: {str(i): v for i, v in t.items()} for k, t in ds.mask_targets.items()},
       "views": ds.list_saved_views(), "persistent": ds.persistent, "record_id": s["record_id"]}
if s.has_field("keypoints") and s["keypoints"] is not None:
    kp = s["keypoints"].keypoints[0]
    out["points"] = [[None if p != p else p for p in xy] for xy in kp.points]
if s.has_field("area_mask") and s["area_mask"] is not None:
    out["mask"] = np.asarray(Image.open(s["area_mask"].mask_path)).tolist()
    out["colors"] = ds.app_config.color_scheme.fields[0]["maskTargetsColors"]
    out["annotation_round"] = s["annotation_round"] if s.has_field("annotation_round") else None
print(json.dumps(out))
"""


def _reload(name: str) -> dict:
    r = subprocess.run([sys.executable, "-c", RELOAD, name], capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # ~8 s: a second Python process reads the dataset back
def test_shoe_leg_set_keypoints_skeleton_and_masks_survive_a_new_process(tmp_path, mongo_uri):
    from shoemodel.annotation.browse import load_set

    def make(i):
        if i == 2:
            raise Dropped("no person")
        return worn_record(i)

    root = tmp_path / "shoe_leg"
    write_set(root, "shoe_leg", range(3), make, records_per_shard=2, progress=False)
    ds = load_set(root, name="t-shoe-leg", media_dir=tmp_path / "media")
    assert len(ds) == 3 and len(ds.match_tags("dropped")) == 1
    got = _reload("t-shoe-leg")
    assert got["persistent"] and got["n"] == 3
    assert got["skeleton"] == [list(KEYPOINT_NAMES), [list(e) for e in SKELETON]]
    assert got["mask_targets"]["shoe_mask"] == {"255": "shoe"}
    rec = worn_record(0)
    k = np.asarray(rec["keypoints"]).reshape(12, 3)
    assert got["points"][0] == pytest.approx([k[0, 0] / 48, k[0, 1] / 64])
    assert got["points"][11] == [None, None]  # missing point stays missing
    assert "dropped-dropped-no-person" in got["views"]
    assert ds.load_saved_view("dropped-dropped-no-person").count() == 1
    assert math.isclose(ds.first()["keypoints"].keypoints[0].points[4][0], k[4, 0] / 48)


def test_wearable_set_masks_predictions_and_reuse(tmp_path, mongo_uri):
    from shoemodel.annotation.browse import load_set

    def annotated(i):
        if i == 3:
            raise Dropped("skipped")
        return product_record(i, annotation={"round": 2, "annotators": ["a@example.com"], "agreement_miou": None,
                                             "lead_time_s": [3.0]})

    root = tmp_path / "wearable"
    write_set(root, "wearable_area", range(4), annotated, records_per_shard=2, progress=False)
    ds = load_set(root, name="t-wearable", media_dir=tmp_path / "media",
                  predictor=lambda img: np.ones(img.shape[:2], np.uint8))
    assert ds.bounds("wd_miou")[1] < 1.0 and ds.has_field("wd_pixel_accuracy")
    got = _reload("t-wearable")
    rec = product_record(0)
    from shoemodel.schemas.records import decode_image

    first = next(r for r in [product_record(i) for i in range(3)] if r["id"] == got["record_id"])
    np.testing.assert_array_equal(np.asarray(got["mask"], np.uint8), decode_image(first["area_mask"], "L"))
    assert got["mask_targets"]["area_mask"] == {"0": "background", "1": "visible", "2": "wearable"}
    assert got["colors"] == [{"intTarget": 1, "color": "#0000ff"}, {"intTarget": 2, "color": "#ffff00"}]
    assert got["n"] == 4 and "dropped-dropped-skipped" in got["views"] and got["annotation_round"] == 2
    assert rec["id"] == "shoe/0000"
    # unchanged manifest, no predictor: the same dataset is reused, not rebuilt
    again = load_set(root, name="t-wearable", media_dir=tmp_path / "media")
    assert again.has_field("wd_miou") and len(again) == 4


@pytest.mark.slow  # ~16 s: the FiftyOne App server, then SIGTERM
def test_browse_command_serves_the_app(tmp_path, mongo_uri):
    root = write_pool(tmp_path / "wearable", 2)
    port = servers.free_port()
    log = tmp_path / "app.log"
    env = {**os.environ, "SHOEMODEL_LOG_FILE": str(tmp_path / "third_party.log")}
    env.pop("SHOEMODEL_VERBOSE", None)
    proc = subprocess.Popen([sys.executable, "-m", "shoemodel.cli", "browse", str(root), "--name", "t-app",
                             "--media-dir", str(tmp_path / "media"), "--port", str(port), "--address", "127.0.0.1"],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True, env=env)
    try:
        seconds = servers.wait_http(f"http://127.0.0.1:{port}/", 120, proc, log)
        print(f"FiftyOne App answered after {seconds:.1f} s")
        proc.send_signal(signal.SIGTERM)  # the command alone, not its group: it stops the App server itself
        assert proc.wait(60) == 128 + signal.SIGTERM
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, "the App server still holds its port"
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        assert all(line.startswith(("dataset t-app:", "App: ")) for line in lines), lines  # FiftyOne's notices: the log
    finally:
        servers.stop_group(proc)


def test_set_without_failures_loads_and_an_interrupted_load_is_rebuilt(tmp_path, mongo_uri):
    import fiftyone as fo

    from shoemodel.annotation.browse import load_set

    root = tmp_path / "clean"
    write_set(root, "wearable_area", range(2), product_record, records_per_shard=2, progress=False)
    ds = load_set(root, name="t-clean", media_dir=tmp_path / "media")
    assert len(ds) == 2 and "dropped" not in ds.distinct("tags")
    ds.info.pop("manifest_sha256")  # as if the load had been interrupted before it finished
    ds.save()
    ds.delete_samples(ds.take(1))
    again = load_set(root, name="t-clean", media_dir=tmp_path / "media")
    assert len(again) == 2 and fo.load_dataset("t-clean").info["manifest_sha256"]
