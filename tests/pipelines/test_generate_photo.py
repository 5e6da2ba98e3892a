"""`generate` keeps the user's own pixels: output at the photo's size, the shoe's visible pixels copied exactly
from the upright photo (real product photos, EXIF-rotated and transparent ones), and per-stage confidence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("diffusers")

from tests.helpers.standins import FootStandIn, LegStandIn  # noqa: E402


@pytest.fixture(scope="module")
def pipe(sw_dir):
    from shoemodel.models.sw.generator import SWGenerator
    from shoemodel.pipelines.generate import ShoeModelPipeline

    return ShoeModelPipeline(SWGenerator.from_pretrained(sw_dir), None, FootStandIn(), LegStandIn())


@pytest.fixture(scope="module")
def products(fixtures_dir):
    folder = fixtures_dir / "images" / "shoe_products"
    photos = sorted(folder.glob("*.jpg"))
    if not photos:
        pytest.skip(f"no product photos in {folder}")
    return photos


def _cfg(tmp_path, sw_dir, **kw):
    from shoemodel.pipelines.config import GenerateConfig

    kw = {"wd": None, "n": 1, "steps": 1, **kw}
    return GenerateConfig(sw=str(sw_dir), out=str(tmp_path), **kw)


def _outputs(out, rec):
    return [np.asarray(Image.open(out / name)) for name in rec["files"]["images"]]


def test_real_product_photos_keep_their_own_pixels(tmp_path, sw_dir, pipe, products):
    """Every fixture photo: output at the photo's resolution, visible pixels == the JPEG's decoded pixels (max diff 0)."""
    from shoemodel.pipelines.run_generate import run_generate

    for photo in products:
        src = np.asarray(Image.open(photo).convert("RGB"))
        out = tmp_path / photo.stem
        rec = run_generate(photo, "a person wearing shoes", out, _cfg(out, sw_dir), pipeline=pipe)
        vis = np.asarray(Image.open(out / rec["files"]["x_w"])).max(-1) > 0
        assert rec["output_size"] == [src.shape[1], src.shape[0]] and rec["shoe_pixels_exact"]
        assert vis.mean() > 0.1, (photo.name, vis.mean())
        for img in _outputs(out, rec):
            assert img.shape == src.shape
            assert np.abs(img[vis].astype(int) - src[vis].astype(int)).max() == 0, photo.name
        assert rec["confidence"]["foot"]["peaks"] and "ankles_on_one_point" in rec["confidence"]["foot"]


def test_exif_rotated_photo_is_used_upright(tmp_path, sw_dir, pipe, products):
    from shoemodel.pipelines.run_generate import run_generate

    upright = Image.open(products[0]).convert("RGB").crop((0, 0, 136, 100))  # non-square, so a rotation shows
    stored = upright.transpose(Image.ROTATE_90)  # what a camera writes with orientation 6 (rotate 270 to view)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.png"
    stored.save(path, exif=exif)
    rec = run_generate(path, "shoes", tmp_path / "o", _cfg(tmp_path / "o", sw_dir), pipeline=pipe)
    assert rec["photo"]["exif_transposed"] and rec["output_size"] == [136, 100]
    want = np.asarray(upright)
    vis = np.asarray(Image.open(tmp_path / "o" / rec["files"]["x_w"])).max(-1) > 0
    for img in _outputs(tmp_path / "o", rec):
        assert np.array_equal(img[vis], want[vis])


def test_transparent_png_uses_alpha_as_the_foreground(tmp_path, sw_dir, pipe, product):
    from shoemodel.pipelines.run_generate import run_generate

    rng = np.random.default_rng(0)
    shoe = product.area_mask > 0
    rgba = np.zeros((*shoe.shape, 4), np.uint8)
    rgba[..., :3] = np.where(shoe[..., None], product.image, rng.integers(0, 256, (*shoe.shape, 3)))  # junk under alpha 0
    rgba[..., 3] = np.where(shoe, 255, 0)
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(path)
    rec = run_generate(path, "shoes", tmp_path / "o", _cfg(tmp_path / "o", sw_dir), pipeline=pipe)
    assert rec["foreground"] == "alpha channel" and rec["photo"]["alpha"]
    vis = np.asarray(Image.open(tmp_path / "o" / rec["files"]["x_w"])).max(-1) > 0
    assert np.array_equal(vis, shoe), "the visible area is exactly the opaque area"
    for img in _outputs(tmp_path / "o", rec):
        assert np.array_equal(img[vis], product.image[vis])


def test_size_resamples_from_the_photo_and_says_so(tmp_path, sw_dir, pipe, products):
    from shoemodel.pipelines.run_generate import run_generate

    rec = run_generate(products[0], "shoes", tmp_path, _cfg(tmp_path, sw_dir, size=200), pipeline=pipe)
    src = Image.open(products[0]).convert("RGB")
    assert rec["output_size"] == [200, 200] and not rec["shoe_pixels_exact"]
    assert any("generate.size=200" in n for n in rec["notes"])
    big = np.asarray(src.resize((200, 200), Image.LANCZOS))
    vis = np.asarray(Image.open(tmp_path / rec["files"]["x_w"])).max(-1) > 0
    img = _outputs(tmp_path, rec)[0]
    assert img.shape == (200, 200, 3) and np.array_equal(img[vis], big[vis]), "pasted from the photo, not from SW's X_w"


def test_huge_photo_is_read_reduced_and_the_output_capped(tmp_path, sw_dir, pipe, product):
    from shoemodel.pipelines.run_generate import prepare_inputs, run_generate

    big = Image.fromarray(product.image).resize((1800, 1800), Image.NEAREST)
    path = tmp_path / "big.jpg"
    big.save(path, quality=95)
    cfg = _cfg(tmp_path / "o", sw_dir, max_side=300, work_side=128)
    inputs = prepare_inputs(path, cfg)
    assert inputs.photo.capped and max(inputs.photo.size) == 300 and max(inputs.work.shape) == 128
    rec = run_generate(path, "shoes", tmp_path / "o", cfg, pipeline=pipe)
    assert rec["output_size"] == [300, 300] and any("larger than generate.max_side=300" in n for n in rec["notes"])


class PhotoWD:
    """WD stand-in trained "on photos": reads the photo as given; visible (p=0.7) where the photo is not white."""

    reads = "photo"

    def __init__(self):
        self.seen = []

    def predict_scores(self, images, content=None):
        self.seen.append(images[0])
        shoe = images[0].min(-1) < 200
        p = np.zeros((3, *shoe.shape), np.float32)
        p[0] = np.where(shoe, 0.1, 1.0)
        p[1] = np.where(shoe, 0.7, 0.0)
        p[2] = np.where(shoe, 0.2, 0.0)
        return [p]


def test_wd_reads_the_photo_and_its_confidence_goes_to_json_and_sheet(tmp_path, sw_dir, products):
    from shoemodel.models.lps_keypoints import FootKeypointPredictor
    from shoemodel.models.sw.generator import SWGenerator
    from shoemodel.pipelines.generate import ShoeModelPipeline
    from shoemodel.pipelines.run_generate import run_generate

    wd = PhotoWD()
    pipe = ShoeModelPipeline(SWGenerator.from_pretrained(sw_dir), wd, FootKeypointPredictor.from_config_random(),
                             LegStandIn())
    run_generate(products[0], "shoes", tmp_path, _cfg(tmp_path, sw_dir, wd="models/wd"), pipeline=pipe)
    assert np.array_equal(wd.seen[0], np.asarray(Image.open(products[0]).convert("RGB"))), "WD read the photo as given"
    rec = json.loads((tmp_path / f"{products[0].stem}.json").read_text())
    wd_conf = rec["confidence"]["wd"]
    assert wd_conf["mean_margin"] == pytest.approx(0.5, abs=1e-3) and wd_conf["thin_margin_fraction"] == 0.0
    assert rec["confidence"]["classes_from"] == "WD on the photo as given"
    assert len(rec["confidence"]["foot"]["peaks"]) == 8
    assert any(line.startswith("WD margin 0.50") for line in rec["summary"])
    assert any("SAMPLE MODEL" in line for line in rec["summary"]), "the tiny SW base is flagged"
    assert (tmp_path / rec["files"]["sheet"]).exists()


def test_cli_prints_the_output_size_and_flags_sample_models(tmp_path, sw_dir, products, monkeypatch):
    from typer.testing import CliRunner

    import shoemodel.pipelines.run_generate as rg
    from shoemodel.cli import app

    monkeypatch.setattr(rg, "load_lps", lambda foot, legs: (FootStandIn(), LegStandIn()))
    (tmp_path / "params.yaml").write_text("generate: {steps: 1}\n")
    result = CliRunner().invoke(app, ["generate", "--shoe", str(products[0]), "--prompt", "shoes", "-n", "1",
                                      "--size", "120", "--out", str(tmp_path / "o"), "--params", str(tmp_path / "params.yaml"),
                                      "--set", f"generate.sw={sw_dir}", "--set", "generate.wd=null"])
    assert result.exit_code == 0, result.output
    assert "output 120x120 px (SW ran at" in result.output
    assert "SAMPLE MODEL" in result.output and "WARNING: SW is a tiny/random sample model" in result.output
    assert Image.open(tmp_path / "o" / f"{products[0].stem}_00.png").size == (120, 120)
