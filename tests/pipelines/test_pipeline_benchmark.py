"""The Table 3 harness on tiny parts: runnable rows get numbers, absent weights are named, paste-back is exact."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("diffusers")
pytest.importorskip("torchmetrics")

from tests.helpers.standins import FootStandIn, LegStandIn  # noqa: E402


@pytest.fixture(scope="module")
def shoes_labels(tmp_path_factory):
    from shoemodel.synthetic.examples import make_product_example

    root = tmp_path_factory.mktemp("shoes")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    lines = []
    for seed in range(2):
        ex = make_product_example(seed, 48)
        Image.fromarray(ex.image).save(root / "images" / f"p{seed}.png")
        Image.fromarray(ex.area_mask).save(root / "masks" / f"p{seed}.png")
        lines.append(json.dumps({"id": f"p{seed}", "image": f"images/p{seed}.png", "area_mask": f"masks/p{seed}.png",
                                 "split": "test"}))
    (root / "labels.jsonl").write_text("\n".join(lines) + "\n")
    return root / "labels.jsonl"


def _leaves_are_numbers(d) -> bool:
    return all(_leaves_are_numbers(v) if isinstance(v, dict) else isinstance(v, (int, float)) for v in d.values())


def test_benchmark_writes_table3(tmp_path, sw_dir, shoes_labels):
    from shoemodel.models.sw.generator import SWGenerator
    from shoemodel.pipelines.benchmark import run_benchmark
    from shoemodel.pipelines.config import BenchmarkConfig
    from shoemodel.pipelines.generate import ShoeModelPipeline
    from tests.helpers.sets import write_synthetic_shoe_leg_set

    real = write_synthetic_shoe_leg_set(tmp_path / "real", n=4, size=48, n_val=4)
    sw = SWGenerator.from_pretrained(sw_dir)
    pipe = ShoeModelPipeline(sw, None, FootStandIn(), LegStandIn())
    cfg = BenchmarkConfig(shoes=str(shoes_labels), use_wd=False, n_per_shoe=2, steps=2, real=str(real), real_split="val",
                          features="tiny-random", clip="tiny-random", out=str(tmp_path / "out"),
                          metrics=str(tmp_path / "m" / "table3.json"), sd15=sw.meta["base_model"],
                          sdxl=str(tmp_path / "no-sdxl"), sd15_inpaint=str(tmp_path / "no-inpaint"),
                          controlnet_inpaint=str(tmp_path / "no-cn-inpaint"), paint_by_example=str(tmp_path / "no-pbe"))
    table = run_benchmark(cfg, shoemodel_pipeline=pipe)
    assert f"| SDXL | weights not available: {tmp_path / 'no-sdxl'} |" in table
    assert f"| ControlNet-inpaint | weights not available: {tmp_path / 'no-cn-inpaint'} |" in table
    assert "NOT comparable" in table and "Scale: 2 shoes × 2 images" in table
    rows = {r["method"]: r for r in json.loads((tmp_path / "out" / "info.json").read_text())["rows"]}
    ours = rows["ShoeModel (ours)"]["metrics"]
    assert ours["shoe_psnr_pasted"] == "inf", "paste-back must make the shoe region exact"
    numbers = json.loads((tmp_path / "m" / "table3.json").read_text())  # DVC metrics: numbers only
    assert _leaves_are_numbers(numbers) and numbers["shoes"] == 2 and numbers["images_per_shoe"] == 2
    assert numbers["methods"]["ShoeModel (ours)"]["fid"] == ours["fid"]
    assert "shoe_psnr_pasted" not in numbers["methods"]["ShoeModel (ours)"]  # inf is not a number JSON holds
    assert "SDXL" not in numbers["methods"]  # its status ("weights not available") is in info.json
    assert np.isfinite(ours["fid"]) and np.isfinite(ours["clip_score"]) and ours["seam_ratio"] > 0
    sd = rows["SD1.5"]["metrics"]  # the tiny base model stands in for SD 1.5 weights
    assert np.isfinite(sd["fid"])
    assert sd["shoe_psnr_pasted"] is None, "SD1.5 has no paste-back: the after-paste column does not apply"
    assert len(list((tmp_path / "out" / "images" / "ShoeModel").glob("*.png"))) == 4


def test_inpaint_baselines_run_on_tiny_weights(tmp_path, product):
    """SD-inpaint and ControlNet-inpaint runners on tiny random weights: n images of the canvas size."""
    from shoemodel.models.sw.base import conditioning_embedding_channels, load_base_model
    from shoemodel.models.sw.tiny import make_tiny_base_model
    from shoemodel.pipelines.baselines import ShoeCondition, controlnet_inpaint_runner, sd15_inpaint_runner
    from shoemodel.schemas.classes import VISIBLE, wearable_shoe_image

    size = 32
    from shoemodel.pipelines.layout import place

    canvas, classes = place(product.image, product.area_mask, (size, size))
    shoe = ShoeCondition(canvas, wearable_shoe_image(canvas, classes), classes == VISIBLE, classes)
    inpaint = make_tiny_base_model(tmp_path / "inpaint", resolution=size, unet_in_channels=9)
    images = sd15_inpaint_runner(str(inpaint), 2, 7.0)(shoe, "a photo of a person wearing shoes", 2, 0)
    assert len(images) == 2 and images[0].shape == (size, size, 3)

    from diffusers import ControlNetModel

    base_dir = make_tiny_base_model(tmp_path / "base", resolution=size)
    base = load_base_model(base_dir)
    ControlNetModel.from_unet(base.unet, conditioning_embedding_out_channels=conditioning_embedding_channels(
        base.vae_scale_factor)).save_pretrained(tmp_path / "cn_inpaint")
    images = controlnet_inpaint_runner(str(base_dir), str(tmp_path / "cn_inpaint"), 2, 7.0)(shoe, "shoes", 1, 0)
    assert len(images) == 1 and images[0].shape == (size, size, 3)


def test_paint_by_example_runner_on_tiny_weights(tmp_path, product):
    from diffusers import AutoencoderKL, DDIMScheduler, PaintByExamplePipeline, UNet2DConditionModel
    from diffusers.pipelines.deprecated.paint_by_example import PaintByExampleImageEncoder
    from transformers import CLIPImageProcessor, CLIPVisionConfig

    from shoemodel.models.sw.tiny import make_tiny_base_model
    from shoemodel.pipelines.baselines import ShoeCondition, paint_by_example_runner
    from shoemodel.pipelines.layout import place
    from shoemodel.schemas.classes import VISIBLE, wearable_shoe_image

    size = 32
    base = make_tiny_base_model(tmp_path / "base", resolution=size, unet_in_channels=9)
    encoder = PaintByExampleImageEncoder(CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=4,
                                                          num_attention_heads=4, image_size=32, patch_size=8,
                                                          projection_dim=32))
    PaintByExamplePipeline(
        vae=AutoencoderKL.from_pretrained(base, subfolder="vae"), image_encoder=encoder,
        unet=UNet2DConditionModel.from_pretrained(base, subfolder="unet"),
        scheduler=DDIMScheduler.from_pretrained(base, subfolder="scheduler"), safety_checker=None,
        feature_extractor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        requires_safety_checker=False).save_pretrained(tmp_path / "pbe")
    canvas, classes = place(product.image, product.area_mask, (size, size))
    shoe = ShoeCondition(canvas, wearable_shoe_image(canvas, classes), classes == VISIBLE, classes)
    images = paint_by_example_runner(str(tmp_path / "pbe"), 2, 5.0)(shoe, "ignored", 2, 0)
    assert len(images) == 2 and images[0].shape == (size, size, 3)


def test_benchmark_cli_names_missing_shoemodel_weights(tmp_path, shoes_labels):
    from typer.testing import CliRunner

    from shoemodel.cli import app

    params = tmp_path / "params.yaml"
    params.write_text(f"benchmark:\n  shoes: {shoes_labels}\n  sw: {tmp_path / 'no-sw'}\n  use_wd: false\n")
    result = CliRunner().invoke(app, ["benchmark", "--params", str(params), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and f"weights not available: {tmp_path / 'no-sw'}" in result.output
