"""Resuming from a saved training state reproduces the uninterrupted run's next steps exactly."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch


def _losses(metrics_dir) -> dict[int, float]:
    with open(metrics_dir / "train_log.csv") as fh:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(fh)}


def _diffusion(cfg_kw):
    from shoemodel.training.lps_diffusion.config import LegDiffusionConfig
    from shoemodel.training.lps_diffusion.train import train_lps_diffusion

    kw = {"mixed_precision": "no", **cfg_kw}
    cfg = LegDiffusionConfig(hidden_size=32, num_blocks=1, time_embed_dim=16, batch_size=8, learning_rate=1e-3,
                             warmup_steps=2, num_workers=0, progress=False, log_every=1, **kw)
    return train_lps_diffusion(cfg), cfg


def _wd(cfg_kw):
    from shoemodel.training.wd.config import WDConfig
    from shoemodel.training.wd.train import train_wd

    kw = {"num_workers": 0, **cfg_kw}
    cfg = WDConfig(model_size="tiny", image_size=32, batch_size=2, learning_rate=1e-3, warmup_steps=2,
                   mixed_precision="no", progress=False, log_every=1, **kw)
    return train_wd(cfg), cfg


@pytest.mark.parametrize("kind", ["diffusion", "wd"])
def test_resume_gives_the_same_next_steps(kind, shoe_leg_set, wearable_set, tmp_path):
    run = _diffusion if kind == "diffusion" else _wd
    data = str(shoe_leg_set if kind == "diffusion" else wearable_set)
    straight, _ = run(dict(train_set=data, output_dir=str(tmp_path / "a"), metrics_dir=str(tmp_path / "ma"), steps=4))
    # the same run, interrupted after step 2 (stop_at), then started again
    run(dict(train_set=data, output_dir=str(tmp_path / "b"), metrics_dir=str(tmp_path / "mb"), steps=4, stop_at=2))
    resumed, _ = run(dict(train_set=data, output_dir=str(tmp_path / "b"), metrics_dir=str(tmp_path / "mb"), steps=4))
    assert resumed["resumed_from"] == 2 and len(resumed["losses"]) == 2
    assert resumed["losses"] == pytest.approx(straight["losses"][2:], rel=1e-5, abs=1e-7)
    # the CSV log keeps steps 1-2 from the first leg and continues with 3-4
    assert list(_losses(tmp_path / "mb")) == [1, 2, 3, 4]
    # and the exported weights agree
    from safetensors.torch import load_file

    a = load_file(str(tmp_path / "a" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def tiny_sd_base(tmp_path_factory):
    from shoemodel.models.sw.tiny import make_tiny_base_model

    return make_tiny_base_model(tmp_path_factory.mktemp("sd_base"), resolution=32)


def _sw(cfg_kw, base):
    from shoemodel.training.sw.config import SWConfig
    from shoemodel.training.sw.train import train_sw

    cfg = SWConfig(base_model=str(base), resolution=32, batch_size=1, gradient_accumulation_steps=2, learning_rate=1e-3,
                   warmup_steps=1, empty_prompt_prob=0.5, num_workers=0, progress=False, log_every=1,
                   validation_every=0, **cfg_kw)
    return train_sw(cfg), cfg


def test_sw_resume_gives_the_same_next_steps(shoe_leg_set, tiny_sd_base, tmp_path):
    """SW on the engine: crops, flips, prompt drops and noise all come from (seed, step), so resume is exact."""
    from safetensors.torch import load_file

    common = dict(train_set=str(shoe_leg_set), steps=3)
    straight, _ = _sw(dict(output_dir=str(tmp_path / "a"), metrics_dir=str(tmp_path / "ma"), **common), tiny_sd_base)
    _sw(dict(output_dir=str(tmp_path / "b"), metrics_dir=str(tmp_path / "mb"), stop_at=1, **common), tiny_sd_base)
    resumed, _ = _sw(dict(output_dir=str(tmp_path / "b"), metrics_dir=str(tmp_path / "mb"), **common), tiny_sd_base)
    assert resumed["resumed_from"] == 1 and len(resumed["losses"]) == 2
    assert resumed["losses"] == pytest.approx(straight["losses"][1:], rel=1e-6, abs=1e-7)
    assert list(_losses(tmp_path / "mb")) == [1, 2, 3]
    name = "controlnet/diffusion_pytorch_model.safetensors"
    a, b = load_file(str(tmp_path / "a" / name)), load_file(str(tmp_path / "b" / name))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_step_sampler_is_a_pure_function_of_step():
    from shoemodel.training.common import StepBatchSampler

    s = StepBatchSampler(10, 4, seed=0, steps=6)
    full = list(s)
    tail = list(StepBatchSampler(10, 4, seed=0, steps=6, start_step=3))
    assert full[3:] == tail
    # every record is seen once per epoch
    seen = [i for b in full[:5] for i, _ in b][:10]
    assert sorted(seen) == list(range(10))
    assert np.unique([seed for b in full for _, seed in b]).size == 24


def test_mixed_precision_can_change_between_runs_in_one_process(shoe_leg_set, tmp_path):
    """accelerate's process-wide state would refuse a second precision; the loop releases it."""
    for mp in ("no", "bf16"):
        summary, _ = _diffusion(dict(train_set=str(shoe_leg_set), output_dir=str(tmp_path / mp),
                                     metrics_dir=str(tmp_path / f"m{mp}"), steps=2, mixed_precision=mp))
        assert len(summary["losses"]) == 2 and all(np.isfinite(summary["losses"]))


def test_data_workers_do_not_change_the_batches(wearable_set, tmp_path):
    """Augmentation seeds travel with the indices, so worker processes draw exactly what the main process would."""
    losses = [_wd(dict(train_set=str(wearable_set), output_dir=str(tmp_path / f"w{n}"), metrics_dir=str(tmp_path / f"m{n}"),
                       steps=2, num_workers=n))[0]["losses"] for n in (0, 2)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)


def test_accumulation_draws_batch_size_times_steps_samples_per_step():
    from shoemodel.training.common import StepBatchSampler

    s = StepBatchSampler(10, 2, seed=0, steps=4, accumulation=3)
    micro = list(s)
    assert len(micro) == len(s) == 12 and all(len(b) == 2 for b in micro)
    assert [k for b in micro[6:9] for k in b] == s.batch(2)  # step 2 = micro-batches 6, 7, 8
    assert list(StepBatchSampler(10, 2, seed=0, steps=4, start_step=2, accumulation=3)) == micro[6:]
    # accumulation 1 at batch 6 draws the same records per step as batch 2 x 3 micro-batches
    assert [i for i, _ in StepBatchSampler(10, 6, seed=0, steps=4).batch(1)] == [i for i, _ in s.batch(1)]


def test_process_shards_split_the_global_batch():
    from shoemodel.training.common import StepBatchSampler

    whole = StepBatchSampler(10, 6, seed=1, steps=3)
    shards = [StepBatchSampler(10, 3, seed=1, steps=3, num_shards=2, shard=k) for k in (0, 1)]
    for step in range(3):
        assert shards[0].batch(step) + shards[1].batch(step) == whole.batch(step)
