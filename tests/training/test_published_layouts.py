"""Published checkpoint layouts load through the user's path: a Segformer MiT folder in nvidia/mit-b0's layout is
WD training's backbone, and a CLIP folder in openai/clip-vit-*'s layout is the benchmark's CLIP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from typer.testing import CliRunner

from shoemodel.cli import app


def _mit_b0_folder(folder: Path) -> Path:
    """nvidia/mit-b0 as published: SegformerForImageClassification, MiT-b0 sizes, a 1000-class ImageNet head."""
    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    from transformers import SegformerForImageClassification

    from shoemodel.models.wd.model import segformer_config

    cfg = segformer_config("b0")
    cfg.num_labels = 1000
    cfg.id2label, cfg.label2id = {i: f"class_{i}" for i in range(1000)}, {f"class_{i}": i for i in range(1000)}
    torch.manual_seed(0)
    SegformerForImageClassification(cfg).save_pretrained(str(folder))
    return folder


def test_mit_b0_layout_folder_is_the_wd_backbone(tmp_path: Path, wearable_set: Path) -> None:
    """`train wd --set train.wd.pretrained=MIT_FOLDER`: the encoder comes from the file (learning rate 0 keeps it
    as loaded), the 1000-class ImageNet head is replaced by WD's 3 classes."""
    import json

    from safetensors import safe_open

    from shoemodel.models.wd.predictor import WDPredictor

    mit = _mit_b0_folder(tmp_path / "mit-b0")
    assert json.loads((mit / "config.json").read_text())["architectures"] == ["SegformerForImageClassification"]
    with safe_open(str(mit / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        proj = f.get_tensor("segformer.encoder.patch_embeddings.0.proj.weight")
    assert "segformer.encoder.block.3.1.mlp.dense2.weight" in keys and "classifier.weight" in keys  # the hub's key names
    out = tmp_path / "wd"
    res = CliRunner().invoke(app, ["train", "wd", "--set", f"train.wd.train_set={wearable_set}", "--set", f"train.wd.output_dir={out}",
                                   "--set", f"train.wd.metrics_dir={tmp_path / 'metrics'}", "--set", f"train.wd.pretrained={mit}",
                                   "--set", "train.wd.model_size=b0", "--set", "train.wd.steps=1", "--set", "train.wd.batch_size=2",
                                   "--set", "train.wd.image_size=64", "--set", "train.wd.learning_rate=0.0", "--set", "train.wd.lr_scheduler=constant",
                                   "--set", "train.wd.warmup_steps=0", "--set", "train.wd.mixed_precision=no",
                                   "--set", "train.wd.num_workers=0", "--set", "train.wd.checkpoint_every=0"])
    assert res.exit_code == 0, res.output
    wd = WDPredictor.from_checkpoint(out)
    sd = wd.model.state_dict()
    assert wd.model.config.num_labels == 3 and wd.model.config.hidden_sizes == [32, 64, 160, 256]
    assert torch.equal(sd["segformer.stages.0.patch_embeddings.proj.weight"], proj)
    assert wd.predict(np.zeros((64, 64, 3), np.uint8)).shape == (64, 64)


def test_clip_folder_in_the_published_layout_loads_for_the_clip_score(tmp_path: Path) -> None:
    """A CLIPModel + CLIPProcessor save_pretrained folder (openai/clip-vit-large-patch14's files) through clip_from_path."""
    from shoemodel.pipelines.image_metrics import clip_from_path, clip_score, tiny_clip

    model, proc = tiny_clip(tmp_path / "tok")
    model.model.save_pretrained(str(tmp_path / "clip"))
    proc.save_pretrained(str(tmp_path / "clip"))
    names = {p.name for p in (tmp_path / "clip").iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer_config.json"} <= names
    assert names & {"preprocessor_config.json", "processor_config.json"}
    loaded = clip_from_path(tmp_path / "clip")
    images = [np.full((32, 32, 3), v, np.uint8) for v in (30, 200)]
    prompts = ["a photo of a person wearing shoes"] * 2
    assert clip_score(images, prompts, loaded) == clip_score(images, prompts, (model, loaded[1]))


def test_sd15_single_file_in_the_original_layout_loads_as_the_sw_base(tmp_path: Path) -> None:
    """One `.safetensors` with SD's original key names (as v1-5-pruned-emaonly.safetensors ships) plus a diffusers
    config folder (`train.sw.base_config`) gives the same UNet, VAE and text encoder as the diffusers folder."""
    from safetensors import safe_open

    from shoemodel.models.sw.base import load_base_model
    from shoemodel.models.sw.tiny import make_tiny_base_model
    from tests.helpers.tiny_models import write_sd_single_file

    folder = make_tiny_base_model(tmp_path / "sd15", resolution=32)
    single = write_sd_single_file(folder, tmp_path / "v1-5-tiny.safetensors")
    with safe_open(str(single), "pt") as f:
        keys = set(f.keys())
    assert "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight" in keys
    assert "first_stage_model.decoder.mid.attn_1.q.weight" in keys and not any(k.startswith("unet.") for k in keys)
    ref, got = load_base_model(folder), load_base_model(single, config=folder)
    for name in ("unet", "vae", "text_encoder"):
        a, b = getattr(ref, name).state_dict(), getattr(got, name).state_dict()
        assert set(a) == set(b), name
        assert all(torch.equal(a[k], b[k]) for k in a), name
