"""`shoemodel convert vitpose-wholebody`: original ViTPose / ViTPose+ key layouts -> transformers VitPose, checked
against a reference forward written directly on the original keys (max abs diff < 1e-5), then run by the
vitpose pose backend through `curate run`."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from shoemodel.cli import app

DIM, DEPTH, HEADS, HIDDEN, PATCH, HW = 32, 2, 2, 64, 16, (64, 48)
EXPERTS, PART = 6, 8  # ViTPose+: coco, aic, mpii, ap10k, apt36k, wholebody
SPLIT = {"coco": 17, "aic": 14, "mpii": 16, "ap10k": 17, "apt36k": 17, "wholebody": 133}  # model_split.py's files
#: an mmcv checkpoint's `meta`: numpy scalars and arrays beside plain values (hook_msgs.best_score is a numpy float)
MMCV_META = {"epoch": 210, "iter": 52500, "mmcv_version": "1.3.9", "config": "model = dict(type='TopDown')",
             "hook_msgs": {"best_score": np.float64(0.755), "best_ckpt": "work_dirs/best_AP_epoch_210.pth"},
             "seed": np.int64(0), "CLASSES": None, "flops": np.array([1.5, 2.0], np.float32)}


class ConfigDict(dict):
    """Stands in for a library class pickled into a checkpoint (mmcv's ConfigDict, mmengine's MessageHub)."""


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
    torch.save({"meta": MMCV_META, "state_dict": sd}, tmp_path / "vitpose.pth")  # mmcv's checkpoint wrapper
    res = CliRunner().invoke(app, ["convert", "vitpose-wholebody", str(tmp_path / "vitpose.pth"), str(tmp_path / "hf"),
                                   "--num-heads", str(HEADS)])
    assert res.exit_code == 0, res.output
    assert "133 keypoints" in res.output and (tmp_path / "hf" / "preprocessor_config.json").is_file()
    assert ("ViTPose+ mixture-of-experts file (6 experts" if moe else "single-expert ViTPose") in res.output
    model = VitPoseForPoseEstimation.from_pretrained(str(tmp_path / "hf")).eval()
    assert model.config.num_labels == 133 and model.config.backbone_config.num_experts == 1
    assert list(model.config.backbone_config.image_size) == list(HW) and model.config.use_simple_decoder is not classic
    x = torch.randn(3, 3, *HW, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        got = model(pixel_values=x).heatmaps
        want = reference_forward(sd, x, 5 if moe else None, "associate_keypoint_heads.4." if moe else "keypoint_head.", 133)
    assert got.shape == want.shape == (3, 133, HW[0] // 4, HW[1] // 4)
    assert (got - want).abs().max().item() < 1e-5


def model_split(ckpt: dict) -> dict[str, dict]:
    """What ViTPose's tools/model_split.py writes for a ViTPose+ checkpoint, one file per dataset: a copy of the
    whole checkpoint (meta included) in which each block's mlp.fc2 has that dataset's expert rows appended and the
    mlp.experts.* are left in; for all but coco, the dataset's associate head is copied under keypoint_head.* (its
    final layer cut to the dataset's keypoint count) and the associate heads are dropped."""
    experts = {k: v for k, v in ckpt["state_dict"].items() if ".mlp.experts." in k}
    out = {}
    for index, (name, keypoints) in enumerate(SPLIT.items()):
        new = copy.deepcopy(ckpt)
        sd = new["state_dict"]
        for key in [k for k in sd if ".mlp.fc2." in k]:
            sd[key] = torch.cat([sd[key], experts[key.replace("fc2.", f"experts.{index}.")]], 0)
        if index:
            assoc = f"associate_keypoint_heads.{index - 1}."
            for key in [k for k in sd if k.startswith(assoc) and not k.endswith("num_batches_tracked")]:
                sd["keypoint_head." + key[len(assoc):]] = sd[key]
            for key in ("keypoint_head.final_layer.weight", "keypoint_head.final_layer.bias"):
                sd[key] = sd[key][:keypoints]
            for key in [k for k in sd if k.startswith("associate_keypoint_heads.")]:
                del sd[key]
        out[name] = new
    return out


def _convert(src: Path, out: Path, *args: str):
    return CliRunner().invoke(app, ["convert", "vitpose-wholebody", str(src), str(out), "--num-heads", str(HEADS), *args])


def _same_as_reference(folder: Path, sd: dict, expert: int, head: str, keypoints: int) -> None:
    from transformers import VitPoseForPoseEstimation

    model = VitPoseForPoseEstimation.from_pretrained(str(folder)).eval()
    x = torch.randn(2, 3, *HW, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        got, want = model(pixel_values=x).heatmaps, reference_forward(sd, x, expert, head, keypoints)
    assert got.shape == want.shape and (got - want).abs().max().item() < 1e-5


@pytest.mark.parametrize("keep_experts", [True, False], ids=["as-written", "experts-removed"])
def test_model_split_outputs_convert_to_the_dataset_they_were_split_for(tmp_path: Path, keep_experts: bool) -> None:
    """ViTPose's README has users run tools/model_split.py first: its wholebody.pth converts (fc2 used as it is, the
    head from keypoint_head.*) to what the original file converts to, coco.pth with --dataset coco likewise; the
    converter says which file it found, and a split file asked for another dataset is refused in one line."""
    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    original = original_state_dict(True, True)
    for name, ckpt in model_split({"meta": MMCV_META, "state_dict": original}).items():
        if not keep_experts:
            ckpt["state_dict"] = {k: v for k, v in ckpt["state_dict"].items() if ".mlp.experts." not in k}
        torch.save(ckpt, tmp_path / f"{name}.pth")
    res = _convert(tmp_path / "wholebody.pth", tmp_path / "wb")
    assert res.exit_code == 0, res.output
    found = "model_split.py output for wholebody (mlp.fc2 holds expert 5" if keep_experts else "single-expert ViTPose"
    assert found in res.output and "133 keypoints" in res.output
    _same_as_reference(tmp_path / "wb", original, 5, "associate_keypoint_heads.4.", 133)
    res = _convert(tmp_path / "coco.pth", tmp_path / "coco", "--dataset", "coco")
    assert res.exit_code == 0, res.output
    _same_as_reference(tmp_path / "coco", original, 0, "keypoint_head.", 17)
    res = _convert(tmp_path / "coco.pth", tmp_path / "o")  # --dataset wholebody (the default)
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
    if keep_experts:
        assert "coco.pth: it is ViTPose's model_split.py output for coco (mlp.fc2 already holds expert 0), not wholebody" in res.output
    else:
        assert "17 outputs, not 133 (single-expert ViTPose" in res.output


def test_mmcv_meta_loads_weights_only_or_is_refused_naming_the_global(tmp_path: Path) -> None:
    """numpy objects in mmcv's meta load under weights_only=True (numpy's reconstructors allowed, also under numpy
    1.x's names); any other class is refused in one line naming the file and the class, never unpickled."""
    from shoemodel.models.checkpoint import load_torch_file

    sd = original_state_dict(False, False)
    torch.save({"meta": MMCV_META, "state_dict": sd}, tmp_path / "mmcv.pth")
    got = load_torch_file(tmp_path / "mmcv.pth")
    assert got["meta"]["hook_msgs"]["best_score"] == np.float64(0.755) and got["meta"]["flops"].tolist() == [1.5, 2.0]
    legacy = tmp_path / "numpy1.pth"  # a file pickled under numpy 1.x names its reconstructors numpy.core.multiarray.*
    torch.save({"meta": MMCV_META, "state_dict": sd}, legacy, _use_new_zipfile_serialization=False)
    data = legacy.read_bytes()
    assert b"numpy._core.multiarray" in data
    legacy.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert load_torch_file(legacy)["meta"]["seed"] == 0
    torch.save({"meta": {"config": ConfigDict(a=1)}, "state_dict": sd}, tmp_path / "custom.pth")
    with pytest.raises(ValueError, match=re.escape(f"custom.pth' needs {ConfigDict.__module__}.ConfigDict to unpickle")):
        load_torch_file(tmp_path / "custom.pth")
    res = _convert(tmp_path / "custom.pth", tmp_path / "o")
    assert res.exit_code == 2 and "ConfigDict to unpickle" in res.output and len(res.output.strip().splitlines()) == 1
    res = _convert(tmp_path / "mmcv.pth", tmp_path / "hf")
    assert res.exit_code == 0 and "single-expert ViTPose (heads keypoint_head.* 133)" in res.output, res.output


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
