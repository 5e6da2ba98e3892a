"""`shoemodel convert vitpose-wholebody`: original ViTPose / ViTPose+ key layouts -> transformers VitPose, checked
against a reference forward written directly on the original keys (max abs diff < 1e-5), then run by the
vitpose pose backend through `curate run`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from shoemodel.cli import app

DIM, DEPTH, HEADS, HIDDEN, PATCH, HW = 32, 2, 2, 64, 16, (64, 48)
EXPERTS, PART = 6, 8  # ViTPose+: coco, aic, mpii, ap10k, apt36k, wholebody


def _head(sd: dict, prefix: str, out: int, classic: bool, g: torch.Generator) -> None:
    r = lambda *s: torch.randn(*s, generator=g) * 0.1  # noqa: E731
    if classic:
        for i, cin in ((0, DIM), (3, 256)):
            sd[f"{prefix}deconv_layers.{i}.weight"] = r(cin, 256, 4, 4)
            bn = f"{prefix}deconv_layers.{i + 1}."
            sd[bn + "weight"], sd[bn + "bias"] = 1 + r(256), r(256)
            sd[bn + "running_mean"], sd[bn + "running_var"] = r(256), 0.5 + torch.rand(256, generator=g)
            sd[bn + "num_batches_tracked"] = torch.tensor(100)
        sd[prefix + "final_layer.weight"], sd[prefix + "final_layer.bias"] = r(out, 256, 1, 1), r(out)
    else:
        sd[prefix + "final_layer.weight"], sd[prefix + "final_layer.bias"] = r(out, DIM, 3, 3), r(out)


def original_state_dict(moe: bool, classic: bool, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random tensors under the original ViTPose(+) key names and shapes (a tiny ViT: width 32, 2 blocks)."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g) * 0.2  # noqa: E731
    n = (HW[0] // PATCH) * (HW[1] // PATCH)
    sd = {"backbone.patch_embed.proj.weight": r(DIM, 3, PATCH, PATCH), "backbone.patch_embed.proj.bias": r(DIM),
          "backbone.pos_embed": r(1, n + 1, DIM), "backbone.last_norm.weight": 1 + r(DIM), "backbone.last_norm.bias": r(DIM)}
    for i in range(DEPTH):
        b = f"backbone.blocks.{i}."
        for norm in ("norm1", "norm2"):
            sd[f"{b}{norm}.weight"], sd[f"{b}{norm}.bias"] = 1 + r(DIM), r(DIM)
        sd[b + "attn.qkv.weight"], sd[b + "attn.qkv.bias"] = r(3 * DIM, DIM), r(3 * DIM)
        sd[b + "attn.proj.weight"], sd[b + "attn.proj.bias"] = r(DIM, DIM), r(DIM)
        sd[b + "mlp.fc1.weight"], sd[b + "mlp.fc1.bias"] = r(HIDDEN, DIM), r(HIDDEN)
        shared = DIM - PART if moe else DIM
        sd[b + "mlp.fc2.weight"], sd[b + "mlp.fc2.bias"] = r(shared, HIDDEN), r(shared)
        for k in range(EXPERTS if moe else 0):
            sd[f"{b}mlp.experts.{k}.weight"], sd[f"{b}mlp.experts.{k}.bias"] = r(PART, HIDDEN), r(PART)
    if moe:  # the coco head, then one associate head per other dataset (all 133 wide, as released)
        _head(sd, "keypoint_head.", 17, classic, g)
        for j in range(EXPERTS - 1):
            _head(sd, f"associate_keypoint_heads.{j}.", 133, classic, g)
    else:
        _head(sd, "keypoint_head.", 133, classic, g)
    return sd


def reference_forward(sd: dict, x: torch.Tensor, expert: int | None, head: str, keypoints: int) -> torch.Tensor:
    """The original layout's forward (ViT + MoE MLP + TopdownHeatmapSimpleHead), in functional ops on its keys."""
    b = x.shape[0]
    h = F.conv2d(x, sd["backbone.patch_embed.proj.weight"], sd["backbone.patch_embed.proj.bias"], stride=PATCH, padding=2)
    hp, wp = h.shape[2:]
    h = h.flatten(2).transpose(1, 2)
    h = h + sd["backbone.pos_embed"][:, 1:] + sd["backbone.pos_embed"][:, :1]
    for i in range(DEPTH):
        p = f"backbone.blocks.{i}."
        y = F.layer_norm(h, (DIM,), sd[p + "norm1.weight"], sd[p + "norm1.bias"], 1e-6)
        qkv = F.linear(y, sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"]).reshape(b, -1, 3, HEADS, DIM // HEADS)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attn = ((q * (DIM // HEADS) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        h = h + F.linear((attn @ v).transpose(1, 2).reshape(b, -1, DIM), sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])
        y = F.gelu(F.linear(F.layer_norm(h, (DIM,), sd[p + "norm2.weight"], sd[p + "norm2.bias"], 1e-6),
                            sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"]))
        out = F.linear(y, sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])
        if expert is not None:
            out = torch.cat([out, F.linear(y, sd[f"{p}mlp.experts.{expert}.weight"], sd[f"{p}mlp.experts.{expert}.bias"])], -1)
        h = h + out
    h = F.layer_norm(h, (DIM,), sd["backbone.last_norm.weight"], sd["backbone.last_norm.bias"], 1e-6)
    h = h.permute(0, 2, 1).reshape(b, DIM, hp, wp)
    if head + "deconv_layers.0.weight" in sd:
        for i in (0, 3):
            h = F.conv_transpose2d(h, sd[f"{head}deconv_layers.{i}.weight"], stride=2, padding=1)
            bn = f"{head}deconv_layers.{i + 1}."
            h = F.relu(F.batch_norm(h, sd[bn + "running_mean"], sd[bn + "running_var"], sd[bn + "weight"], sd[bn + "bias"], False))
        h = F.conv2d(h, sd[head + "final_layer.weight"], sd[head + "final_layer.bias"])
    else:
        h = F.interpolate(F.relu(h), scale_factor=4, mode="bilinear", align_corners=False)
        h = F.conv2d(h, sd[head + "final_layer.weight"], sd[head + "final_layer.bias"], padding=1)
    return h[:, :keypoints]


@pytest.mark.parametrize(("moe", "classic"), [(True, True), (False, False)], ids=["vitpose-plus-moe-classic", "single-simple"])
def test_converted_vitpose_equals_the_original_layout(tmp_path: Path, moe: bool, classic: bool) -> None:
    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    from transformers import VitPoseForPoseEstimation

    sd = original_state_dict(moe, classic)
    torch.save({"meta": {}, "state_dict": sd}, tmp_path / "vitpose.pth")  # mmcv's checkpoint wrapper
    res = CliRunner().invoke(app, ["convert", "vitpose-wholebody", str(tmp_path / "vitpose.pth"), str(tmp_path / "hf"),
                                   "--num-heads", str(HEADS)])
    assert res.exit_code == 0, res.output
    assert "133 keypoints" in res.output and (tmp_path / "hf" / "preprocessor_config.json").is_file()
    model = VitPoseForPoseEstimation.from_pretrained(str(tmp_path / "hf")).eval()
    assert model.config.num_labels == 133 and model.config.backbone_config.num_experts == 1
    assert list(model.config.backbone_config.image_size) == list(HW) and model.config.use_simple_decoder is not classic
    x = torch.randn(3, 3, *HW, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        got = model(pixel_values=x).heatmaps
        want = reference_forward(sd, x, 5 if moe else None, "associate_keypoint_heads.4." if moe else "keypoint_head.", 133)
    assert got.shape == want.shape == (3, 133, HW[0] // 4, HW[1] // 4)
    assert (got - want).abs().max().item() < 1e-5


def test_converter_refuses_what_it_cannot_convert(tmp_path: Path) -> None:
    torch.save({"state_dict": {"foo.weight": torch.zeros(1)}}, tmp_path / "other.pth")
    res = CliRunner().invoke(app, ["convert", "vitpose-wholebody", str(tmp_path / "other.pth"), str(tmp_path / "o")])
    assert res.exit_code == 2 and "not an original ViTPose checkpoint" in res.output
    sd = original_state_dict(False, True)
    sd["keypoint_head.final_layer.weight"], sd["keypoint_head.final_layer.bias"] = torch.zeros(17, 256, 1, 1), torch.zeros(17)
    torch.save(sd, tmp_path / "coco.pth")  # a body-only checkpoint: 17 outputs
    res = CliRunner().invoke(app, ["convert", "vitpose-wholebody", str(tmp_path / "coco.pth"), str(tmp_path / "o")])
    assert res.exit_code == 2 and "17 outputs, not 133" in res.output and not (tmp_path / "o").exists()
    res = CliRunner().invoke(app, ["convert", "vitpose-wholebody", str(tmp_path / "missing.pth"), str(tmp_path / "o")])
    assert res.exit_code == 2 and "missing.pth" in res.output


@pytest.mark.fixtures
def test_curate_run_with_a_converted_tiny_vitpose_plus(tmp_path: Path, coco_dir: Path, yolox_weights: Path) -> None:
    """The converted folder is what `curation.pose.backend: vitpose` loads; the run goes through every stage."""
    torch.save({"state_dict": original_state_dict(True, True)}, tmp_path / "vitpose+_tiny.pth")
    res = CliRunner().invoke(app, ["convert", "vitpose-wholebody", str(tmp_path / "vitpose+_tiny.pth"), str(tmp_path / "vp"),
                                   "--num-heads", str(HEADS)])
    assert res.exit_code == 0, res.output
    metrics = tmp_path / "m.json"
    res = CliRunner().invoke(app, ["curate", "run", str(coco_dir), "--out", str(tmp_path / "set"), "--quiet", "--metrics", str(metrics),
                                   "--set", "curation.detect.backend=yolox_onnx", "--set", f"curation.detect.weights={yolox_weights}",
                                   "--set", "curation.pose.backend=vitpose", "--set", f"curation.pose.weights={tmp_path / 'vp'}",
                                   "--set", "curation.segment.backend=grabcut"])
    assert res.exit_code == 0, res.output
    s = json.loads(metrics.read_text())
    assert s["pose"]["inputs"] == s["detect"]["kept"] >= 3 and s["pose"]["failed"] == {}
    assert s["pose"]["kept"] + sum(s["pose"]["dropped"].values()) == s["pose"]["inputs"]
    summary = json.loads((tmp_path / "set.work" / "pose" / "summary.json").read_text())
    assert summary["extra"]["backend"] == "vitpose" and summary["extra"]["model"].startswith("VitPoseForPoseEstimation")
    assert len(summary["extra"]["weights_sha256"]) == 64 and np.isfinite(s["pose"]["inputs"])
