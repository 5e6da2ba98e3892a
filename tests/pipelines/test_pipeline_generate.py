"""`generate` end to end on tiny random parts: n images whose shoe pixels equal X_w exactly after paste-back."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("diffusers")

from sw_standins import SIZE, FootStandIn, LegStandIn  # noqa: E402

from shoemodel.schemas.classes import VISIBLE  # noqa: E402


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
        assert img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
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
    try:
        res = pipe(product.image, "shoes", foreground=fg, options=GenerateOptions(n=1, steps=1))
    except ValueError as exc:  # an untrained WD may call nothing visible
        assert "no visible shoe area" in str(exc)
    else:
        assert np.array_equal(res.images[0][res.visible], res.x_w[res.visible])


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
    result = CliRunner().invoke(app, ["generate", "--shoe", str(shoe), "--prompt", "a person wearing shoes", "-n", "2",
                                      "--sw", str(sw_dir), "--no-wd", "--steps", "2", "--out", str(out),
                                      "--scale", "0.8", "--params", str(tmp_path / "no-params.yaml")])
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
    from shoemodel.models.lps_diffusion import LegPoseSampler
    from shoemodel.models.lps_keypoints import FootKeypointPredictor
    from shoemodel.models.sw.generator import SWGenerator
    from shoemodel.pipelines.generate import GenerateOptions, ShoeModelPipeline

    pipe = ShoeModelPipeline(SWGenerator.from_pretrained(sw_dir), None, FootKeypointPredictor.from_config_random(),
                             LegPoseSampler.from_config_random())
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
    result = CliRunner().invoke(app, ["generate", "--shoe", str(shoe), "--prompt", "p", "--sw", str(tmp_path / "nope"),
                                      "--no-wd", "--params", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert "trained SW folder not found" in result.output


def test_sam_box_prompt_on_a_tiny_random_sam(product):
    """The SAM path runs with the fallback's box (tiny random SAM: the mask's shape is not checked, only its form)."""
    pytest.importorskip("segment_anything")
    from functools import partial

    import torch
    from segment_anything import SamPredictor
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    from shoemodel.pipelines.foreground import mask_box, predict_box, remove_studio_background

    torch.manual_seed(0)
    enc = ImageEncoderViT(depth=2, embed_dim=64, img_size=256, patch_size=16, num_heads=2, out_chans=32, window_size=4,
                          global_attn_indexes=(1,), norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True)
    sam = Sam(enc, PromptEncoder(embed_dim=32, image_embedding_size=(16, 16), input_image_size=(256, 256),
                                 mask_in_chans=8),
              MaskDecoder(num_multimask_outputs=3, transformer=TwoWayTransformer(depth=1, embedding_dim=32, mlp_dim=64,
                                                                                 num_heads=2),
                          transformer_dim=32, iou_head_depth=1, iou_head_hidden_dim=32)).eval()
    box = mask_box(remove_studio_background(product.image))
    m = predict_box(SamPredictor(sam), product.image, box)
    assert m.shape == product.image.shape[:2] and m.dtype == bool
