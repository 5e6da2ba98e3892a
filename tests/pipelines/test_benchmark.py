"""The Table 3 harness on tiny parts: runnable rows get numbers, absent weights are named, paste-back is exact."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("diffusers")
pytest.importorskip("torchmetrics")

from sw_standins import FootStandIn, LegStandIn  # noqa: E402


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


def test_benchmark_writes_table3(tmp_path, sw_dir, shoes_labels):
    from shoemodel.pipelines.benchmark import BenchmarkConfig, run_benchmark
    from shoemodel.pipelines.generate import ShoeModelPipeline
    from shoemodel.training.sw.fixtures import write_synthetic_shoe_leg_set
    from shoemodel.training.sw.pipeline import SWGenerator

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
    rows = {r["method"]: r for r in json.loads((tmp_path / "m" / "table3.json").read_text())["rows"]}
    ours = rows["ShoeModel (ours)"]["metrics"]
    assert ours["shoe_psnr_pasted"] == "inf", "paste-back must make the shoe region exact"
    assert np.isfinite(ours["fid"]) and np.isfinite(ours["clip_score"]) and ours["seam_ratio"] > 0
    sd = rows["SD1.5"]["metrics"]  # the tiny base model stands in for SD 1.5 weights
    assert np.isfinite(sd["fid"]) and "shoe_psnr_pasted" not in sd or sd["shoe_psnr_pasted"] is None
    assert len(list((tmp_path / "out" / "images" / "ShoeModel").glob("*.png"))) == 4
