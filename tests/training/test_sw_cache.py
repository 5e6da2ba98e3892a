"""SW's latent cache: the loss from cached latents equals the loss with the VAE and CLIP in the loop; the key
invalidates the cache; training on it resumes exactly; the CLI builds it once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


pytestmark = pytest.mark.usefixtures("fresh_accelerator_state")  # tests/training/conftest.py


def _cfg(tmp_path, name, data, base, **kw):
    from shoemodel.training.sw.config import SWConfig

    defaults = dict(resolution=32, batch_size=2, steps=1, checkpoint_every=0, validation_every=0, num_workers=0,
                    progress=False, log_every=1, cache_variants=2, cache_batch_size=3,
                    latent_cache=str(tmp_path / f"cache_{name}"))
    return SWConfig(train_set=str(data), base_model=str(base), output_dir=str(tmp_path / name),
                    metrics_dir=str(tmp_path / f"metrics_{name}"), **{**defaults, **kw})


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float16", 5e-3)])
def test_cached_loss_equals_loss_with_encoders_in_the_loop(tmp_path, tiny_base, small_shoe_leg_set, dtype, tol):
    """Same batch (records, variants), same generator seed: the cached path draws the same posterior sample,
    noise and timesteps, and gives the same loss (float16 storage within its rounding)."""
    from shoemodel.models.sw.base import load_base_model, make_controlnet
    from shoemodel.training.engine import freeze
    from shoemodel.training.sw.cache import CachedShoeLegDataset, LatentCache, build_cache
    from shoemodel.training.sw.data import collate, load_dataset
    from shoemodel.training.sw.loss import make_loss

    cfg = _cfg(tmp_path, "eq", small_shoe_leg_set, tiny_base, cache_dtype=dtype)
    base = load_base_model(tiny_base)
    freeze(base.unet, base.vae, base.text_encoder)
    torch.manual_seed(0)
    net = make_controlnet(base)
    cache = LatentCache.load(build_cache(cfg, base, tiny_base, cfg.latent_cache))
    plain = load_dataset(small_shoe_leg_set, 32, variants=2)
    cached = CachedShoeLegDataset(plain, cache)
    keys = [(0, 5), (3, 2), (1, 1), (2, 8)]  # variants 1, 0, 1, 0
    in_loop = make_loss(base, 0.5)
    from_cache = make_loss(base, 0.5, cache.prompt_embeds)
    losses = []
    for seed in (11, 12, 13):
        a, _ = in_loop(net, collate([plain[k] for k in keys]), torch.Generator().manual_seed(seed))
        b, _ = from_cache(net, collate([cached[k] for k in keys]), torch.Generator().manual_seed(seed))
        losses.append(float(a.detach()))
        assert float(b.detach()) == pytest.approx(float(a.detach()), rel=tol, abs=tol * 1e-2)
    assert len(set(losses)) == 3, "different seeds must draw different noise"
    # and a different variant is a different crop, so the check above is not vacuous
    assert not torch.equal(cached[(0, 0)]["latent_mean"], cached[(0, 1)]["latent_mean"])


def test_key_changes_with_set_base_and_resolution(tmp_path, tiny_base, small_shoe_leg_set):
    from shoemodel.models.sw.tiny import make_tiny_base_model
    from shoemodel.training.sw.cache import cache_key
    from tests.helpers.sets import write_synthetic_shoe_leg_set

    cfg = _cfg(tmp_path, "key", small_shoe_leg_set, tiny_base)
    key = cache_key(cfg, tiny_base)
    assert cache_key(cfg, tiny_base) == key
    # the same tiny base rebuilt elsewhere has the same bytes, hence the same key
    assert cache_key(cfg, make_tiny_base_model(tmp_path / "again", resolution=32)) == key
    assert cache_key(cfg, make_tiny_base_model(tmp_path / "other", resolution=32, seed=1)) != key
    other_set = write_synthetic_shoe_leg_set(tmp_path / "set2", n=6, size=48, n_val=1)
    assert cache_key(_cfg(tmp_path, "key", other_set, tiny_base), tiny_base) != key
    assert cache_key(_cfg(tmp_path, "key", small_shoe_leg_set, tiny_base, resolution=16), tiny_base) != key


def test_training_on_the_cache_rebuilds_when_stale_and_resumes_exactly(tmp_path, tiny_base, small_shoe_leg_set):
    from safetensors.torch import load_file

    from shoemodel.training.sw.cache import META
    from shoemodel.training.sw.train import train_sw

    logs: list[str] = []
    kw = dict(steps=3, learning_rate=1e-3, empty_prompt_prob=0.5, gradient_accumulation_steps=2, batch_size=1)
    straight = train_sw(_cfg(tmp_path, "a", small_shoe_leg_set, tiny_base, latent_cache=str(tmp_path / "cache"), **kw), log=logs.append)
    assert straight["latent_cache"] and any("building" in line for line in logs)
    built = (tmp_path / "cache" / META).stat().st_mtime_ns
    cfg = _cfg(tmp_path, "b", small_shoe_leg_set, tiny_base, latent_cache=str(tmp_path / "cache"), stop_at=1, **kw)
    train_sw(cfg, log=logs.append)
    cfg.stop_at = 0
    resumed = train_sw(cfg, log=logs.append)
    assert (tmp_path / "cache" / META).stat().st_mtime_ns == built, "a fresh cache is reused, not rebuilt"
    assert resumed["resumed_from"] == 1
    assert resumed["losses"] == pytest.approx(straight["losses"][1:], rel=1e-6, abs=1e-7)
    name = "controlnet/diffusion_pytorch_model.safetensors"
    a, b = load_file(str(tmp_path / "a" / name)), load_file(str(tmp_path / "b" / name))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)
    # another resolution makes the cache stale: the next run rebuilds it for the new crops
    logs.clear()
    train_sw(_cfg(tmp_path, "c", small_shoe_leg_set, tiny_base, latent_cache=str(tmp_path / "cache"), resolution=16), log=logs.append)
    assert any("stale" in line for line in logs)
    assert json.loads((tmp_path / "cache" / META).read_text())["key"]["resolution"] == 16


def test_background_validation_writes_images_and_leaves_the_losses(tmp_path, tiny_base, small_shoe_leg_set):
    from shoemodel.training.sw.train import train_sw

    kw = dict(steps=2, learning_rate=1e-3, num_validation_images=1, validation_inference_steps=2, latent_cache="")
    runs = {}
    for mode in (True, False):
        cfg = _cfg(tmp_path, f"v{mode}", small_shoe_leg_set, tiny_base, validation_every=1, validation_async=mode, **kw)
        runs[mode] = train_sw(cfg)["losses"]
        assert sorted(p.name for p in (Path(cfg.output_dir) / "validation").iterdir()) == ["step-0000001.png",
                                                                                            "step-0000002.png"]
    assert runs[True] == runs[False]


def test_cli_builds_the_cache_once(tmp_path, tiny_base, small_shoe_leg_set):
    from typer.testing import CliRunner

    from shoemodel.cli import app

    params = tmp_path / "params.yaml"
    params.write_text(f"train:\n  sw:\n    train_set: {small_shoe_leg_set}\n    base_model: tiny\n    resolution: 32\n"
                      f"    latent_cache: {tmp_path / 'c'}\n    cache_variants: 1\n")
    runner = CliRunner()
    first = runner.invoke(app, ["train", "sw-cache", "--params", str(params)])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output.strip().splitlines()[-1])
    assert summary["num_records"] == 4 and summary["num_crops"] == 4 and summary["latent_shape"] == [4, 8, 8]
    again = runner.invoke(app, ["train", "sw-cache", "--params", str(params)])
    assert again.exit_code == 0 and "up to date" in again.output
    bad = runner.invoke(app, ["train", "sw-cache", "--params", str(params), "--set", "latent_cache="])
    assert bad.exit_code == 2 and "latent_cache is empty" in bad.output

