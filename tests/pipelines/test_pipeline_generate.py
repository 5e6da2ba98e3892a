"""`generate` end to end on tiny random parts: n images whose shoe pixels equal X_w exactly after paste-back."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("diffusers")

from shoemodel.schemas.classes import BACKGROUND, VISIBLE, WEARABLE  # noqa: E402
from tests.helpers.standins import AreaStandIn, FootStandIn, LegStandIn  # noqa: E402
from tests.helpers.tiny_models import TINY_SW_SIZE as SIZE  # noqa: E402


def _pipeline(sw_dir, wd=None):
    from shoemodel.models.sw.generator import SWGenerator
    from shoemodel.pipelines.generate import ShoeModelPipeline

    return ShoeModelPipeline(SWGenerator.from_pretrained(sw_dir), wd, FootStandIn(), LegStandIn())


def test_generate_pastes_x_w_exactly(sw_dir, product):
    from shoemodel.pipelines.generate import GenerateOptions

    pipe = _pipeline(sw_dir)
    res = pipe(product.image, "a photo of a person wearing shoes", classes=product.area_mask,
               options=GenerateOptions(n=3, steps=2, seed=1))
    assert len(res.images) == len(res.raw) == len(res.poses) == 3
    assert res.visible.any() and np.array_equal(res.visible, res.classes == VISIBLE)
    for img, raw in zip(res.images, res.raw, strict=True):
        assert img.shape == product.image.shape and img.dtype == np.uint8  # the photo's own size
        assert np.array_equal(img[res.visible], res.x_w[res.visible])
        assert np.array_equal(img[~res.visible], raw[~res.visible])
    assert not np.array_equal(res.raw[0], res.raw[1]), "each image has its own seed and pose"
    # wearable area and background are black in X_w
    assert not res.x_w[~res.visible].any()


def test_generate_with_random_wd_and_custom_layout(sw_dir, product):
    from shoemodel.models.wd import WDPredictor
    from shoemodel.pipelines.generate import GenerateOptions
    from shoemodel.pipelines.layout import ShoeLayout

    wd = WDPredictor.from_config_random(image_size=32)
    pipe = _pipeline(sw_dir, wd)
    fg = product.area_mask > 0
    base = pipe.conditions(product.image, fg, product.area_mask)
    small = pipe.conditions(product.image, fg, product.area_mask,
                            GenerateOptions(layout=ShoeLayout(scale=0.5, rotate=30, tx=0.2, ty=0.1)))
    assert 0 < small[3].sum() < 0.5 * base[3].sum()
    ys, xs = np.nonzero(small[3])
    assert xs.mean() > SIZE / 2, "translated right"
    # without a class mask an X_m-trained WD reads the shoe on black and chooses visible vs wearable inside
    # the foreground (which alone decides shoe vs background: no holes), background outside
    x_m = np.where(fg[..., None], product.image, 0).astype(np.uint8)
    from_wd = pipe.conditions(product.image, fg)
    inside = wd.predict_scores([x_m])[0][1:].argmax(0) + 1
    given = pipe.conditions(product.image, fg, np.where(fg, inside, BACKGROUND))
    assert np.array_equal(from_wd[1], given[1]) and np.array_equal(from_wd[2], given[2])


def test_generate_pastes_the_area_wd_calls_visible_and_refuses_an_all_wearable_shoe(sw_dir, product):
    from shoemodel.pipelines.generate import GenerateOptions

    fg = product.area_mask > 0
    res = _pipeline(sw_dir, AreaStandIn(VISIBLE))(product.image, "shoes", foreground=fg,
                                                  options=GenerateOptions(n=1, steps=1))
    assert res.visible.any() and np.array_equal(res.visible, res.classes == VISIBLE)
    assert np.array_equal(res.images[0][res.visible], res.x_w[res.visible])
    assert not np.array_equal(res.images[0], res.raw[0]), "paste-back changed the generated image"
    with pytest.raises(ValueError, match="no visible shoe area"):
        _pipeline(sw_dir, AreaStandIn(WEARABLE))(product.image, "shoes", foreground=fg,
                                                 options=GenerateOptions(n=1, steps=1))


def test_background_removal_finds_the_product_shoe(product):
    from shoemodel.pipelines.foreground import mask_box, remove_studio_background

    fg = remove_studio_background(product.image)
    truth = product.area_mask > 0
    iou = (fg & truth).sum() / (fg | truth).sum()
    assert iou > 0.8, iou
    assert mask_box(np.zeros((4, 4), bool)) is None


def test_layout_identity_keeps_pixels(product):
    from shoemodel.pipelines.layout import ShoeLayout, place

    rgb, cls = place(product.image, product.area_mask, (48, 48), ShoeLayout())
    assert np.array_equal(cls, product.area_mask)
    assert np.abs(rgb.astype(int) - product.image.astype(int)).max() <= 1


def test_generate_cli_end_to_end(tmp_path, sw_dir, product, monkeypatch):
    from PIL import Image
    from typer.testing import CliRunner

    import shoemodel.pipelines.run_generate as rg
    from shoemodel.cli import app

    shoe = tmp_path / "shoe.png"
    Image.fromarray(product.image).save(shoe)
    monkeypatch.setattr(rg, "load_lps", lambda foot, legs: (FootStandIn(), LegStandIn()))
    out = tmp_path / "out"
    (tmp_path / "params.yaml").write_text("generate: {steps: 2}\n")
    result = CliRunner().invoke(app, ["generate", "--shoe", str(shoe), "--prompt", "a person wearing shoes", "-n", "2",
                                      "--set", f"generate.sw={sw_dir}", "--set", "generate.wd=null", "--out", str(out),
                                      "--set", "layout.scale=0.8", "--params", str(tmp_path / "params.yaml")])
    assert result.exit_code == 0, result.output
    rec = json.loads((out / "shoe.json").read_text())
    x_w = np.asarray(Image.open(out / rec["files"]["x_w"]))
    vis = x_w.max(-1) > 0
    assert len(rec["files"]["images"]) == 2 and (out / rec["files"]["sheet"]).exists()
    for name in rec["files"]["images"]:
        img = np.asarray(Image.open(out / name))
        assert np.array_equal(img[vis], x_w[vis])


def test_generate_with_the_real_wd_and_lps_classes_untrained(sw_dir, product):
    """The real WD / LpS phase-1 / phase-2 classes (random weights) plug into the pipeline unchanged."""
    from shoemodel.models.lps_keypoints import FootKeypointPredictor
    from shoemodel.models.sw.generator import SWGenerator
    from shoemodel.pipelines.generate import GenerateOptions, ShoeModelPipeline
    from tests.helpers.tiny_models import tiny_leg_pose_sampler

    pipe = ShoeModelPipeline(SWGenerator.from_pretrained(sw_dir), None, FootKeypointPredictor.from_config_random(),
                             tiny_leg_pose_sampler())
    res = pipe(product.image, "a photo of a person wearing shoes", classes=product.area_mask,
               options=GenerateOptions(n=2, steps=2))
    assert res.foot8.shape == (8, 3) and res.keypoints.shape == (2, 12, 3)
    for img in res.images:
        assert np.array_equal(img[res.visible], res.x_w[res.visible])


def test_generate_cli_names_a_missing_checkpoint(tmp_path, product):
    from PIL import Image
    from typer.testing import CliRunner

    from shoemodel.cli import app

    shoe = tmp_path / "shoe.png"
    Image.fromarray(product.image).save(shoe)
    (tmp_path / "params.yaml").write_text("generate: {sw: nope, wd: null}\n")  # sw read against the file's folder
    result = CliRunner().invoke(app, ["generate", "--shoe", str(shoe), "--prompt", "p",
                                      "--params", str(tmp_path / "params.yaml")])
    assert result.exit_code == 2
    assert "trained SW folder not found" in result.output


def test_sam_box_prompt_on_a_tiny_random_sam(product):
    """The SAM path runs with the fallback's box (tiny random SAM: the mask's shape is not checked, only its form)."""
    pytest.importorskip("segment_anything")
    import torch
    from segment_anything import SamPredictor

    from shoemodel.pipelines.foreground import mask_box, predict_box, remove_studio_background
    from tests.helpers.tiny_models import tiny_sam

    torch.manual_seed(0)
    box = mask_box(remove_studio_background(product.image))
    m = predict_box(SamPredictor(tiny_sam()), product.image, box)
    assert m.shape == product.image.shape[:2] and m.dtype == bool


def test_dark_shoe_parts_on_black_are_not_holes(sw_dir, product):
    """An X_m-trained WD calls the dark parts of a shoe on black background; generate keeps them shoe."""
    from shoemodel.pipelines.generate import ShoeModelPipeline

    class DarkIsBackground:
        reads = "shoe_on_black"

        def predict_scores(self, images):
            dark = images[0].max(-1) < 60
            p = np.zeros((3, *dark.shape), np.float32)
            p[0], p[1], p[2] = np.where(dark, 0.6, 0.1), np.where(dark, 0.3, 0.8), np.where(dark, 0.1, 0.1)
            return [p]

    img = product.image.copy()
    fg = product.area_mask > 0
    img[fg & (np.arange(img.shape[1])[None, :] < img.shape[1] // 2)] //= 8  # the shoe's left half is black
    classes, conf = ShoeModelPipeline(None, DarkIsBackground(), None, None, render_pose=lambda *a: None).shoe_classes(img, fg)
    assert not ((classes == BACKGROUND) & fg).any() and ((classes == VISIBLE) == fg).all()
    assert conf["wd"]["holes_filled"] > 0
