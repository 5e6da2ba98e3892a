"""FiftyOne as a user sees it: the App served for real (mongod + the FiftyOne server on 127.0.0.1), a
screenshot in headless Chromium, and the mask pixels checked against the schema's class colours."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import ann_servers as servers
import numpy as np
import pytest
from PIL import Image

from shoemodel.schemas.builder import build_record
from shoemodel.schemas.classes import CLASS_COLORS, VISIBLE, WEARABLE
from shoemodel.store import Dropped, write_set
from tests.helpers.sets import product_record, worn_record

pytestmark = pytest.mark.server

W, H = 320, 240


def _two_class_record(i: int) -> dict:
    """A white photo with the visible area on the left half and the wearable area on the right."""
    img = np.full((H, W, 3), 255, np.uint8)
    mask = np.zeros((H, W), np.uint8)
    mask[20:220, 20:150] = VISIBLE
    mask[20:220, 170:300] = WEARABLE
    return build_record("wearable_area", id=f"white/{i}", source_uri=f"synthetic://white/{i}", split="train",
                        image=img, shoe_image=img, area_mask=mask, provenance={"maker": "test"})


def test_labels_open_shown_with_metadata_visibility_and_wd_scores(tmp_path, mongo_uri):
    from shoemodel.annotation.browse import LABEL_FIELDS, load_set

    def make(i):
        if i == 2:
            raise Dropped("no person")
        return worn_record(i)

    write_set(tmp_path / "leg", "shoe_leg", range(3), make, records_per_shard=2, progress=False)
    ds = load_set(tmp_path / "leg", name="t-app-leg", media_dir=tmp_path / "media")
    s = ds.match_tags("dropped", bool=False).first()
    assert (s.metadata.width, s.metadata.height) == (48, 64) and s.metadata.size_bytes > 0
    kp = s["keypoints"].keypoints[0]
    assert kp.confidence is None and kp["visibility"][:11] == [1.0] * 11 and kp["visibility"][11] == 0.0
    assert set(ds.app_config.active_fields.paths) == {"keypoints", "shoe_mask"}
    assert ds.app_config.color_scheme.color_by == "value"

    write_set(tmp_path / "wa", "wearable_area", range(4), product_record, records_per_shard=2, progress=False)
    ds = load_set(tmp_path / "wa", name="t-app-wa", media_dir=tmp_path / "media",
                  predictor=lambda img: np.ones(img.shape[:2], np.uint8))  # says "visible" everywhere
    assert set(ds.app_config.active_fields.paths) == {"area_mask", "wd_prediction"} <= set(LABEL_FIELDS)
    worst = ds.load_saved_view("worst-wd")
    scores = worst.values("wd_miou")
    assert len(worst) == 4 and scores == sorted(scores)
    assert ds.values("wd_wearable_iou") == [0.0] * 4  # no wearable pixel predicted
    pred = np.asarray(Image.open(ds.first()["wd_prediction"].mask_path))
    assert pred.shape == (32, 40) and set(np.unique(pred)) == {1}


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(_chromium() is None, reason="needs headless Chromium (Debian package chromium)")
def test_app_screenshot_paints_each_class_in_its_colour(tmp_path, mongo_uri):
    """The sample view of the App, in a real browser: visible area blue, wearable area yellow (at the scheme's opacity)."""
    from shoemodel.annotation.browse import load_set

    write_set(tmp_path / "set", "wearable_area", range(1), _two_class_record, progress=False)
    ds = load_set(tmp_path / "set", name="t-app-shot", media_dir=tmp_path / "media")
    alpha = ds.app_config.color_scheme.opacity
    port = servers.free_port()
    log = tmp_path / "app.log"
    serve = ("import fiftyone as fo; s = fo.launch_app(fo.load_dataset('t-app-shot'), address='127.0.0.1', "
             f"port={port}, remote=True, auto=False); s.wait(-1)")
    app = subprocess.Popen([sys.executable, "-c", serve], stdout=log.open("wb"), stderr=subprocess.STDOUT,
                           start_new_session=True, env=dict(os.environ))
    shot = tmp_path / "app.png"

    def near(px: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
        blended = np.round((1 - alpha) * 255 + alpha * np.asarray(color))  # the class colour over the white photo
        return np.abs(px - blended).max(-1) <= 12

    try:
        servers.wait_http(f"http://127.0.0.1:{port}/", 180, app, log)
        url = f"http://127.0.0.1:{port}/datasets/t-app-shot?id={ds.first().id}"  # the sample's own view
        # On a loaded machine the page may not have drawn the sample yet when the shot is taken: a blank page is
        # retaken (up to 3 times, longer each time); a page that drew anything is judged as it is.
        for budget in (90_000, 180_000, 360_000):
            shot.unlink(missing_ok=True)
            subprocess.run([_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            "--window-size=1280,900", f"--virtual-time-budget={budget}", f"--screenshot={shot}", url],
                           capture_output=True, timeout=480, check=True)
            px = np.asarray(Image.open(shot).convert("RGB")).astype(int)
            if near(px, CLASS_COLORS[VISIBLE]).any() or near(px, CLASS_COLORS[WEARABLE]).any():
                break
            time.sleep(5)
    finally:
        servers.stop_group(app)

    visible, wearable = near(px, CLASS_COLORS[VISIBLE]), near(px, CLASS_COLORS[WEARABLE])
    # the photo is shown about 900 px wide: each class covers ~130/320 x 200/240 of it
    assert visible.sum() > 50_000 and wearable.sum() > 50_000, (visible.sum(), wearable.sum())
    cols_v, cols_w = np.nonzero(visible)[1], np.nonzero(wearable)[1]
    assert np.median(cols_v) < np.median(cols_w), "visible is the left block, wearable the right"
    assert abs(int(visible.sum()) - int(wearable.sum())) < 0.1 * visible.sum()  # equal areas, equal pixels
