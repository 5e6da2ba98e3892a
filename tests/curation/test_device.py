"""Device and precision of the model stages: the vocabulary, its errors, the params keys, and what provenance records."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shoemodel.models.device import onnx_provider_options, onnx_providers, resolve_device, resolve_dtype


def test_auto_is_the_cpu_in_float32_without_a_gpu() -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: auto picks it")
    assert resolve_device("auto") == "cpu" and resolve_device("cpu") == "cpu"
    assert resolve_dtype("auto", "cpu") is torch.float32
    assert onnx_providers("auto") == ["CPUExecutionProvider"] or "CUDAExecutionProvider" in onnx_providers("auto")


def test_bad_or_impossible_settings_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="device 'tpu' unknown"):
        resolve_device("tpu")
    with pytest.raises(ValueError, match="dtype 'int8' unknown"):
        resolve_dtype("int8", "cpu")
    with pytest.raises(ValueError, match="on the CPU is not supported"):
        resolve_dtype("bfloat16", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda:1")


def test_gpu_dtypes_resolve_to_torch_dtypes() -> None:
    assert resolve_dtype("float16", "cuda") is torch.float16
    assert resolve_dtype("bfloat16", "cuda:0") is torch.bfloat16
    assert onnx_provider_options(["CUDAExecutionProvider", "CPUExecutionProvider"], "cuda:3") == [
        ("CUDAExecutionProvider", {"device_id": 3}), "CPUExecutionProvider"]
    assert onnx_providers("cpu") == ["CPUExecutionProvider"]


def test_one_precision_vocabulary_for_curation_and_training() -> None:
    """curation's dtype names and training's accelerate names mean the same through the one resolver."""
    from shoemodel.models.device import accelerate_precision, torch_dtype
    from shoemodel.training.engine import frozen_dtype, resolve_mixed_precision

    for a, b in (("float32", "fp32"), ("float32", "no"), ("bfloat16", "bf16"), ("float16", "fp16")):
        assert resolve_dtype(a, "cuda") is resolve_dtype(b, "cuda") is torch_dtype(a) is torch_dtype(b)
        assert resolve_mixed_precision(a) == resolve_mixed_precision(b) == accelerate_precision(torch_dtype(a))
        assert frozen_dtype(torch.device("cuda"), resolve_mixed_precision(b)) is torch_dtype(a)
    assert [resolve_mixed_precision(m) for m in ("no", "fp16", "bf16")] == ["no", "fp16", "bf16"]  # as before
    assert resolve_mixed_precision("auto", cuda=False) == "no"
    assert resolve_dtype("bf16", "cpu", training=True) is torch.bfloat16  # training autocasts on the CPU
    with pytest.raises(ValueError, match="dtype 'fp8' unknown"):
        resolve_mixed_precision("fp8")
    with pytest.raises(ValueError, match="SAM dtype 'auto' needs a device"):
        torch_dtype("auto", "SAM dtype")


def test_params_yaml_has_device_dtype_and_batch_per_model_stage(repo_root: Path) -> None:
    from shoemodel.config import load_section
    from shoemodel.curation.config import CurationConfig

    cfg = load_section(CurationConfig, "curation", str(repo_root / "params.yaml"))
    for section in (cfg.detect, cfg.pose, cfg.segment):
        assert section.device == "auto" and section.dtype == "auto" and section.batch_size >= 1
    assert cfg.fused is False


@pytest.mark.fixtures
def test_yolox_records_the_provider_it_ran_on(yolox_weights: Path) -> None:
    from shoemodel.curation.detect_yolox import YoloxOnnxDetector

    det = YoloxOnnxDetector(yolox_weights, device="cpu")
    assert det.runtime == {"device": "cpu", "provider": "CPUExecutionProvider", "dtype": "float32"}


def test_sam_and_vitpose_report_device_dtype_and_sdpa() -> None:
    from shoemodel.curation.pose_vitpose import VitPoseWholeBody
    from shoemodel.curation.segment_sam import SamSegmenter
    from tests.helpers.tiny_models import tiny_hf_sam, tiny_vitpose

    pose = VitPoseWholeBody(model=tiny_vitpose(), device="cpu")
    assert pose.runtime == {"device": "cpu", "dtype": "float32", "attention": "sdpa"}
    assert next(pose.model.parameters()).dtype is torch.float32
    seg = SamSegmenter(tiny_hf_sam(), device="auto", dtype="auto")
    assert seg.runtime["attention"] == "sdpa" and seg.runtime["dtype"] == "float32"
    with pytest.raises(ValueError, match="bfloat16"):
        SamSegmenter(tiny_hf_sam(), device="cpu", dtype="bfloat16")
