"""`shoemodel demo` end to end: the real command serves the page on 127.0.0.1 with tiny models of the real
classes saved in their published layouts, gradio_client drives it as a program would, headless Chromium
renders it as a person would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")
pytest.importorskip("diffusers")

pytestmark = [pytest.mark.slow, pytest.mark.server]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _save_transformers(predictor, folder: Path, **settings) -> Path:
    """A predictor's model as `shoemodel train` writes it: config.json (with the project's settings) + weights."""
    predictor.model.config.shoemodel = settings
    predictor.model.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    from shoemodel.models.lps_keypoints import FootKeypointPredictor
    from shoemodel.models.wd import WDPredictor
    from tests.helpers.tiny_models import tiny_leg_pose_sampler, write_tiny_sw_folder

    root = tmp_path_factory.mktemp("models")
    return {
        "sw": write_tiny_sw_folder(root / "sw"),
        "wd": _save_transformers(WDPredictor.from_config_random(image_size=32), root / "wd", image_size=32),
        "lps_keypoints": _save_transformers(FootKeypointPredictor.from_config_random(image_size=64),
                                            root / "lps_keypoints", image_size=64, flip_test=False),
        "lps_diffusion": tiny_leg_pose_sampler().save(root / "lps_diffusion"),
    }


def _wait(url: str, proc: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise AssertionError(f"demo exited {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            time.sleep(1)
    raise AssertionError(f"demo did not answer in {timeout} s: {log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def served(models, tmp_path_factory, product_photo):
    tmp = tmp_path_factory.mktemp("demo")
    port = _free_port()
    params = {"generate": {**{k: str(v) for k, v in models.items()}, "steps": 2, "n": 2, "cpu_threads": 1},
              "demo": {"out": "runs", "port": port, "max_n": 4}}
    (tmp / "params.yaml").write_text(yaml.safe_dump(params))
    log = tmp / "demo.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "shoemodel.cli", "demo", "--params", str(tmp / "params.yaml")],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=tmp)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait(url, proc, log)
        yield url, tmp
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)


@pytest.fixture(scope="module")
def product_photo(tmp_path_factory) -> tuple[Path, Path]:
    """A synthetic product photo and its exact 0/1/2 class mask."""
    from PIL import Image

    from shoemodel.synthetic.examples import make_product_example

    ex = make_product_example(3, 48)
    folder = tmp_path_factory.mktemp("photo")
    Image.fromarray(ex.image).save(folder / "shoe.png")
    Image.fromarray(ex.area_mask.astype(np.uint8)).save(folder / "classes.png")
    return folder / "shoe.png", folder / "classes.png"


def test_gradio_client_generates_through_the_running_demo(served, product_photo) -> None:
    from gradio_client import Client, handle_file
    from PIL import Image

    url, tmp = served
    photo, mask = product_photo
    client = Client(url, verbose=False)
    # the untrained tiny WD may find no visible area at all: the page says so in one line
    try:
        client.predict(handle_file(str(photo)), "a person wearing shoes", 1, 0, 1.0, 0.0, 0.0, 0.0, None,
                       api_name="/generate")
    except Exception as exc:  # noqa: BLE001 - gradio_client's AppError carries the page's message
        assert "visible" in str(exc), exc
    # with the photo's class mask (WD replaced), the shoe pixels come back exactly
    classes, x_w, poses, outputs, info = client.predict(handle_file(str(photo)), "a person wearing shoes", 2, 7,
                                                        0.9, 0.0, 0.0, 0.0, handle_file(str(mask)), api_name="/generate")
    assert info["n"] == 2 and info["seed"] == 7 and info["layout"]["scale"] == 0.9 and info["wd"].endswith("wd")
    assert len(poses) == 2 and len(outputs) == 2
    xw = np.asarray(Image.open(x_w).convert("RGB"))
    kept = xw.max(-1) > 0
    for item in outputs:
        img = np.asarray(Image.open(item["image"]).convert("RGB"))
        assert img.shape == xw.shape
        assert np.array_equal(img[kept], xw[kept]), "the shoe pixels WD kept come back unchanged"
    assert np.asarray(Image.open(classes)).ndim == 3
    assert list((tmp / "runs").glob("*/shoe_sheet.png"))  # each request's files, under demo.out
    with pytest.raises(Exception, match="greater than maximum|n must be"):  # the slider refuses it
        client.predict(handle_file(str(photo)), "p", 9, 0, 1.0, 0.0, 0.0, 0.0, None, api_name="/generate")


@pytest.mark.skipif(not (shutil.which("chromium") or shutil.which("chromium-browser")), reason="needs headless Chromium")
def test_the_page_renders_in_headless_chromium(served, tmp_path) -> None:
    from PIL import Image

    url, _ = served
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1000",
             "--virtual-time-budget=20000"]
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
    for label in ("Shoe photo", "Prompt", "n (images)", "Seed", "scale", "rotate (deg)", "WD classes", "X_w",
                  "Leg poses", "Outputs", "Generate"):
        assert label in dom, label
    shot = tmp_path / "demo.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", url], capture_output=True, timeout=180, check=True)
    px = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert px.shape[:2] == (1000, 1280) and px.std() > 10  # a drawn page, not a blank one
    orange = (px[..., 0] > 200) & (px[..., 1] > 80) & (px[..., 1] < 160) & (px[..., 2] < 80)
    assert orange.sum() > 2000, "the controls are drawn (sliders in the theme's accent colour)"
