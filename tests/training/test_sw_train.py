"""SW (ShoeControlNet) training on tiny random SD parts: the update touches only the ControlNet; resume works."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    """accelerate keeps one mixed-precision setting per process; other tests may have set another."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models: one thread is as fast, and far faster when other jobs share the 2 cores; restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    from shoemodel.models.sw.tiny import make_tiny_base_model

    return make_tiny_base_model(tmp_path_factory.mktemp("base"), resolution=32)


@pytest.fixture(scope="module")
def shoe_leg_set(tmp_path_factory):
    from tests.helpers.sets import write_synthetic_shoe_leg_set

    return write_synthetic_shoe_leg_set(tmp_path_factory.mktemp("set") / "shoe_leg", n=5, size=48, n_val=1)


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before, module):
    return [k for k, v in module.state_dict().items() if not torch.equal(before[k], v)]


def test_one_step_updates_controlnet_and_leaves_frozen_parts(tiny_base, shoe_leg_set):
    from shoemodel.models.sw.base import freeze, load_base_model, make_controlnet
    from shoemodel.training.sw.data import collate, iter_examples
    from shoemodel.training.sw.loss import encode_prompts, sw_loss

    base = load_base_model(tiny_base)
    net = make_controlnet(base)
    assert net.config.conditioning_channels == 6
    freeze(base.unet, base.vae, base.text_encoder)
    frozen = {name: _snapshot(m) for name, m in (("unet", base.unet), ("vae", base.vae), ("text", base.text_encoder))}
    before = _snapshot(net)
    batch = collate([next(iter_examples(shoe_leg_set, 32, seed=s)) for s in range(2)])
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    embeds = encode_prompts(base.tokenizer, base.text_encoder, batch["prompts"], "cpu")
    loss = sw_loss(batch["pixel_values"], batch["conditioning"], embeds, vae=base.vae, unet=base.unet, controlnet=net,
                   scheduler=base.scheduler, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None for m in (base.unet, base.vae, base.text_encoder) for p in m.parameters())
    opt.step()
    changed = _changed(before, net)
    assert any(k.startswith("controlnet_cond_embedding.conv_in") for k in changed), "the 6-channel hint conv must learn"
    assert len(changed) > len(before) // 2
    for name, m in (("unet", base.unet), ("vae", base.vae), ("text", base.text_encoder)):
        assert _changed(frozen[name], m) == [], f"frozen {name} changed"


def test_train_sw_saves_and_resumes(tmp_path, tiny_base, shoe_leg_set):
    from shoemodel.training.sw.config import SWConfig
    from shoemodel.training.sw.train import latest_checkpoint, train_sw

    logs: list[str] = []
    cfg = SWConfig(data=str(shoe_leg_set), base_model=str(tiny_base), output_dir=str(tmp_path / "sw"), resolution=32,
                   train_batch_size=2, max_train_steps=2, learning_rate=1e-3, checkpointing_steps=2,
                   validation_steps=2, num_validation_images=1, validation_inference_steps=2, shuffle_buffer=4)
    out = train_sw(cfg, log=logs.append)
    assert (out / "controlnet" / "config.json").exists() and (out / "sw.json").exists()
    assert (out / "validation" / "step-0000002.png").exists()
    assert latest_checkpoint(out)[1] == 2
    cfg.max_train_steps = 3
    train_sw(cfg, log=logs.append)
    assert any("resumed from" in line and "step 2" in line for line in logs)
    assert '"steps": 3' in (out / "sw.json").read_text()


def test_condition_is_xw_then_xp_in_unit_range():
    from shoemodel.training.sw.data import condition_array

    x_w = np.full((8, 8, 3), 255, np.uint8)
    x_p = np.zeros((8, 8, 3), np.uint8)
    c = condition_array(x_w, x_p)
    assert c.shape == (6, 8, 8) and c[:3].min() == 1.0 and c[3:].max() == 0.0
    with pytest.raises(ValueError):
        condition_array(x_w, x_p[:4])


def test_example_crop_keeps_keypoints_inside_and_uses_template(shoe_leg_set):
    from shoemodel.store import iter_records
    from shoemodel.training.sw.data import COLUMNS, make_example

    rec = next(iter_records(shoe_leg_set, COLUMNS))
    rec["caption"] = None
    ex = make_example(rec, 32, random.Random(0), flip=True, template="TEMPLATE")
    assert ex.prompt == "TEMPLATE"
    assert ex.image.shape == ex.x_w.shape == ex.x_p.shape == (32, 32, 3)
    assert ex.x_p.any(), "the pose image must draw the visible keypoints"


def test_tiny_tokenizer_round_trips(tmp_path):
    from transformers import CLIPTokenizer

    from shoemodel.models.sw.tiny import write_tiny_tokenizer

    folder = write_tiny_tokenizer(tmp_path)
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    ids = tok("a photo of a person wearing shoes").input_ids
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert tok.decode(ids, skip_special_tokens=True).strip() == "a photo of a person wearing shoes"


def test_gradient_checkpointing_step_and_8bit_adam_message(tmp_path, tiny_base, shoe_leg_set):
    import importlib.util

    from shoemodel.training.sw.config import SWConfig
    from shoemodel.training.sw.train import train_sw

    cfg = SWConfig(data=str(shoe_leg_set), base_model=str(tiny_base), output_dir=str(tmp_path / "gc"), resolution=32,
                   train_batch_size=2, max_train_steps=1, gradient_checkpointing=True, checkpointing_steps=0,
                   validation_steps=0, shuffle_buffer=2)
    assert json_steps(train_sw(cfg, log=lambda _: None)) == 1
    if importlib.util.find_spec("bitsandbytes") is None:
        cfg.use_8bit_adam, cfg.output_dir = True, str(tmp_path / "bnb")
        with pytest.raises(ImportError, match="bitsandbytes"):
            train_sw(cfg, log=lambda _: None)


def json_steps(out) -> int:
    import json

    return json.loads((out / "sw.json").read_text())["steps"]


def test_tiny_base_run_is_a_movable_folder_that_generates(tmp_path, shoe_leg_set):
    import shutil

    from shoemodel.models.sw.generator import SWGenerator
    from shoemodel.training.sw.config import SWConfig
    from shoemodel.training.sw.train import train_sw

    cfg = SWConfig(data=str(shoe_leg_set), base_model="tiny", output_dir=str(tmp_path / "a"), resolution=32,
                   train_batch_size=1, max_train_steps=1, checkpointing_steps=0, validation_steps=0, shuffle_buffer=2)
    out = train_sw(cfg, log=lambda _: None)
    moved = shutil.move(str(out), str(tmp_path / "b"))
    gen = SWGenerator.from_pretrained(moved)
    x = np.zeros((32, 32, 3), np.uint8)
    img = gen.generate(x, [x], "a photo of a person wearing shoes", steps=2)[0]
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8


def test_base_model_errors_name_what_is_missing(tmp_path):
    from shoemodel.models.sw.base import load_base_model
    from shoemodel.models.weights import WeightsNotFound

    with pytest.raises(WeightsNotFound, match="Stable Diffusion 1.5 base model not found"):
        load_base_model(tmp_path / "sd15")
    (tmp_path / "sd15.safetensors").write_bytes(b"")
    with pytest.raises(ValueError, match="base_config"):
        load_base_model(tmp_path / "sd15.safetensors")
    (tmp_path / "folder").mkdir()
    with pytest.raises(WeightsNotFound, match="'unet' folder"):
        load_base_model(tmp_path / "folder")


def test_bf16_mixed_precision_with_accumulation_and_validation(tmp_path, tiny_base, shoe_leg_set):
    from shoemodel.training.sw.config import SWConfig
    from shoemodel.training.sw.train import train_sw

    cfg = SWConfig(data=str(shoe_leg_set), base_model=str(tiny_base), output_dir=str(tmp_path / "bf16"), resolution=32,
                   train_batch_size=1, max_train_steps=2, mixed_precision="bf16", gradient_accumulation_steps=2,
                   checkpointing_steps=0, validation_steps=2, validation_inference_steps=2, num_validation_images=1,
                   shuffle_buffer=2)
    out = train_sw(cfg, log=lambda _: None)
    assert json_steps(out) == 2 and (out / "validation" / "step-0000002.png").exists()


def test_each_process_streams_its_own_share(shoe_leg_set):
    from shoemodel.training.sw.data import iter_examples

    def pixels_of(shard: int) -> set[tuple]:
        stream = iter_examples(shoe_leg_set, 32, shard_index=shard, num_shards=2, repeat=False, flip=False)
        return {tuple(x["pixel_values"][:, 0, 0].tolist()) for x in stream}

    a, b = pixels_of(0), pixels_of(1)
    assert len(a) == 2 and len(b) == 2 and not (a & b)  # 4 train records, split 2 / 2
