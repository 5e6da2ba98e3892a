"""SW (ShoeControlNet) training on tiny random SD parts: the update touches only the ControlNet; resume works.

(Exact resume of SW, as of WD and LpS, is tested in test_engine_resume.py.)"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


pytestmark = pytest.mark.usefixtures("fresh_accelerator_state")  # tests/training/conftest.py


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models: one thread is as fast, and far faster when other jobs share the 2 cores; restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before, module):
    return [k for k, v in module.state_dict().items() if not torch.equal(before[k], v)]


def test_one_step_updates_controlnet_and_leaves_frozen_parts(tiny_base, small_shoe_leg_set):
    from shoemodel.models.sw.base import load_base_model, make_controlnet
    from shoemodel.training.engine import freeze
    from shoemodel.training.sw.data import collate, load_dataset
    from shoemodel.training.sw.loss import encode_prompts, sw_loss

    base = load_base_model(tiny_base)
    net = make_controlnet(base)
    assert net.config.conditioning_channels == 6
    freeze(base.unet, base.vae, base.text_encoder)
    frozen = {name: _snapshot(m) for name, m in (("unet", base.unet), ("vae", base.vae), ("text", base.text_encoder))}
    before = _snapshot(net)
    ds = load_dataset(small_shoe_leg_set, 32)
    batch = collate([ds[(i, s)] for i, s in ((0, 0), (1, 1))])
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


def _cfg(tmp_path, name: str, data, base, **kw):
    from shoemodel.training.sw.config import SWConfig

    defaults = dict(resolution=32, batch_size=2, steps=1, checkpoint_every=0, validation_every=0, num_workers=0,
                    progress=False, log_every=1)
    return SWConfig(train_set=str(data), base_model=str(base), output_dir=str(tmp_path / name),
                    metrics_dir=str(tmp_path / f"metrics_{name}"), **{**defaults, **kw})


def test_train_sw_saves_and_resumes(tmp_path, tiny_base, small_shoe_leg_set):
    from shoemodel.training.engine import STATE_DIR
    from shoemodel.training.sw.train import train_sw

    logs: list[str] = []
    cfg = _cfg(tmp_path, "sw", small_shoe_leg_set, tiny_base, steps=2, learning_rate=1e-3, checkpoint_every=2,
               validation_every=2, num_validation_images=1, validation_inference_steps=2)
    summary = train_sw(cfg, log=logs.append)
    out = Path(cfg.output_dir)
    assert summary["steps"] == 2 and summary["resumed_from"] == 0
    assert (out / "controlnet" / "config.json").exists() and (out / "sw.json").exists()
    assert (out / "validation" / "step-0000002.png").exists()
    assert json.loads((out / STATE_DIR / "step.json").read_text())["step"] == 2
    assert not list(out.glob("checkpoint-*")), "one resumable state folder, no per-step checkpoints"
    metrics = Path(cfg.metrics_dir)
    assert json.loads((metrics / "train.json").read_text())["steps"] == 2
    assert (metrics / "train_log.csv").read_text().splitlines()[0].startswith("step,loss")
    cfg.steps = 3
    assert train_sw(cfg, log=logs.append)["resumed_from"] == 2
    assert any("steps 2..3" in line for line in logs)
    assert json_steps(out) == 3


def test_condition_is_xw_then_xp_in_unit_range():
    from shoemodel.training.sw.data import condition_array

    x_w = np.full((8, 8, 3), 255, np.uint8)
    x_p = np.zeros((8, 8, 3), np.uint8)
    c = condition_array(x_w, x_p)
    assert c.shape == (6, 8, 8) and c[:3].min() == 1.0 and c[3:].max() == 0.0
    with pytest.raises(ValueError):
        condition_array(x_w, x_p[:4])


def test_example_crop_keeps_keypoints_inside_and_uses_template(small_shoe_leg_set):
    from shoemodel.store import iter_records
    from shoemodel.training.sw.data import COLUMNS, make_example

    rec = next(iter_records(small_shoe_leg_set, COLUMNS))
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


def test_gradient_checkpointing_step_and_8bit_adam_message(tmp_path, tiny_base, small_shoe_leg_set):
    import importlib.util

    from shoemodel.training.sw.train import train_sw

    cfg = _cfg(tmp_path, "gc", small_shoe_leg_set, tiny_base, gradient_checkpointing=True)
    train_sw(cfg)
    assert json_steps(cfg.output_dir) == 1
    if importlib.util.find_spec("bitsandbytes") is None:
        cfg.use_8bit_adam, cfg.output_dir = True, str(tmp_path / "bnb")
        with pytest.raises(ImportError, match="bitsandbytes"):
            train_sw(cfg)


def json_steps(out) -> int:
    return json.loads((Path(out) / "sw.json").read_text())["steps"]


def test_tiny_base_run_is_a_movable_folder_that_generates(tmp_path, small_shoe_leg_set):
    import shutil

    from shoemodel.models.sw.generator import SWGenerator
    from shoemodel.training.sw.train import train_sw

    cfg = _cfg(tmp_path, "a", small_shoe_leg_set, "tiny", batch_size=1)
    train_sw(cfg)
    moved = shutil.move(cfg.output_dir, str(tmp_path / "b"))
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


def test_bf16_mixed_precision_with_accumulation_and_validation(tmp_path, tiny_base, small_shoe_leg_set):
    from shoemodel.training.sw.train import train_sw

    cfg = _cfg(tmp_path, "bf16", small_shoe_leg_set, tiny_base, batch_size=1, steps=2, mixed_precision="bf16",
               gradient_accumulation_steps=2, validation_every=2, validation_inference_steps=2, num_validation_images=1)
    summary = train_sw(cfg)
    assert len(summary["losses"]) == 2 and all(np.isfinite(summary["losses"]))
    assert json_steps(cfg.output_dir) == 2 and (Path(cfg.output_dir) / "validation" / "step-0000002.png").exists()


def test_engine_trains_only_the_controlnet(tmp_path, tiny_base, small_shoe_leg_set):
    """Through the engine: the frozen parts are not in the optimiser and stay bit-identical; the ControlNet learns."""
    from shoemodel.models.sw.base import load_base_model, make_controlnet
    from shoemodel.training.engine import adamw, train_loop
    from shoemodel.training.sw.data import collate, load_dataset
    from shoemodel.training.sw.loss import make_loss

    cfg = _cfg(tmp_path, "engine", small_shoe_leg_set, tiny_base, steps=2, learning_rate=1e-3, gradient_accumulation_steps=2,
               empty_prompt_prob=0.5)
    base = load_base_model(tiny_base)
    net = make_controlnet(base)
    frozen_parts = (base.unet, base.vae, base.text_encoder)
    frozen = [_snapshot(m) for m in frozen_parts]
    before = _snapshot(net)
    seen: list[int] = []

    def recording_adamw(params):
        seen.extend(id(p) for p in params)
        return adamw(params, cfg)

    final, summary = train_loop(cfg, net, load_dataset(small_shoe_leg_set, 32), collate, make_loss(base, 0.5), [],
                                frozen=frozen_parts, make_optimizer=recording_adamw)
    assert len(summary["losses"]) == 2
    assert set(seen) == {id(p) for p in net.parameters()}
    assert not set(seen) & {id(p) for m in frozen_parts for p in m.parameters()}
    for snap, m in zip(frozen, frozen_parts, strict=True):
        assert _changed(snap, m) == []
        assert not any(p.requires_grad for p in m.parameters()) and not m.training
    assert _changed(before, final)


def test_items_are_a_function_of_index_and_seed(small_shoe_leg_set):
    from shoemodel.training.sw.data import load_dataset

    ds = load_dataset(small_shoe_leg_set, 32)
    assert len(ds) == 4  # 5 records, 1 in 'val'
    a, b = ds[(2, 7)], ds[(2, 7)]
    assert torch.equal(a["pixel_values"], b["pixel_values"]) and torch.equal(a["conditioning"], b["conditioning"])
    others = [ds[(2, s)]["pixel_values"] for s in range(8)]
    assert any(not torch.equal(others[0], x) for x in others[1:]), "the seed must drive the crop / flip"


def test_each_process_draws_its_own_share(small_shoe_leg_set):
    from shoemodel.training.common import StepBatchSampler
    from shoemodel.training.sw.data import load_dataset

    ds = load_dataset(small_shoe_leg_set, 32, flip=False)

    def records_of(shard: int) -> set[int]:
        sampler = StepBatchSampler(len(ds), 1, seed=0, steps=1, num_shards=2, shard=shard, accumulation=2)
        return {i for batch in sampler for i, _ in batch}

    a, b = records_of(0), records_of(1)
    assert len(a) == 2 and len(b) == 2 and not (a & b)  # 4 train records, 2 micro-batches of 1 per process
