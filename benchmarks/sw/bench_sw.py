"""CPU timings of SW: a training step and a generate call, on the tiny random base (or an SD-1.5-sized random one).

    python benchmarks/sw/bench_sw.py --out benchmarks/sw/results.json            # tiny, ~1 min on 2 cores
    python benchmarks/sw/bench_sw.py --full --resolution 64 --steps 3            # SD 1.5 shapes, random weights, slow

No GPU numbers: compare against diffusers' examples/controlnet/train_controlnet.py on a GPU machine
with the same batch/resolution (same frozen parts, 6-channel hint) when one is available.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: tests/helpers holds the tiny builders

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _full_base(folder: Path):
    """SD 1.5 shapes (UNet 320-1280, VAE 128-512, CLIP-L-sized text encoder), random weights, built in memory.

    Only the tokenizer comes from the tiny base written to `folder` (the vocabulary size does not matter here).
    """
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from shoemodel.models.sw.base import BaseModel, load_base_model
    from shoemodel.models.sw.tiny import make_tiny_base_model

    tok = load_base_model(make_tiny_base_model(folder)).tokenizer
    return BaseModel(
        unet=UNet2DConditionModel(cross_attention_dim=768),
        vae=AutoencoderKL(block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                          up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, layers_per_block=2),
        text_encoder=CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=768, intermediate_size=3072,
                                                  num_hidden_layers=12, num_attention_heads=12,
                                                  max_position_embeddings=77, bos_token_id=tok.bos_token_id,
                                                  eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)),
        tokenizer=tok,
        scheduler=DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
        path="random SD 1.5 shapes")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=20, help="timed training steps")
    ap.add_argument("--full", action="store_true", help="SD 1.5-sized random model instead of the tiny one")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch default)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    from shoemodel.models.runtime import set_torch_threads

    set_torch_threads(args.threads)
    import numpy as np
    import torch

    from shoemodel.models.sw.base import load_base_model, make_controlnet
    from shoemodel.models.sw.generator import SWGenerator, diffusers_pipeline
    from shoemodel.models.sw.tiny import make_tiny_base_model
    from shoemodel.training.common import StepBatchSampler
    from shoemodel.training.engine import freeze
    from shoemodel.training.sw.data import collate, load_dataset
    from shoemodel.training.sw.loss import encode_prompts, sw_loss
    from tests.helpers.sets import write_synthetic_shoe_leg_set

    tmp = Path(tempfile.mkdtemp())
    data = write_synthetic_shoe_leg_set(tmp / "set", n=16, size=max(64, args.resolution), n_val=0)
    base = _full_base(tmp / "base") if args.full else load_base_model(make_tiny_base_model(tmp / "base", args.resolution))
    net = make_controlnet(base)
    freeze(base.unet, base.vae, base.text_encoder)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-5)
    ds = load_dataset(data, args.resolution)
    sampler = StepBatchSampler(len(ds), args.batch, seed=0, steps=args.steps + 3)  # the training engine's batches
    times = []
    for i in range(args.steps + 2):
        batch = collate([ds[key] for key in sampler.batch(i)])
        t = time.perf_counter()
        emb = encode_prompts(base.tokenizer, base.text_encoder, batch["prompts"], "cpu")
        loss = sw_loss(batch["pixel_values"], batch["conditioning"], emb, vae=base.vae, unet=base.unet, controlnet=net,
                       scheduler=base.scheduler)
        loss.backward()
        opt.step()
        opt.zero_grad()
        if i >= 2:  # warm-up excluded
            times.append(time.perf_counter() - t)
    gen = SWGenerator(diffusers_pipeline(base, net.eval()), args.resolution)
    gen.pipeline.set_progress_bar_config(disable=True)
    ex = ds[sampler.batch(args.steps + 2)[0]]
    cond = (ex["conditioning"].numpy() * 255).round().astype(np.uint8)
    x_w, x_p = cond[:3].transpose(1, 2, 0), cond[3:].transpose(1, 2, 0)
    t = time.perf_counter()
    gen.generate(x_w, [x_p] * 4, "a photo of a person wearing shoes", steps=20)
    gen_s = time.perf_counter() - t
    result = {"model": "sd15-shaped random" if args.full else "tiny random", "resolution": args.resolution,
              "batch": args.batch, "train_step_s_median": float(np.median(times)), "train_steps_timed": len(times),
              "generate_4_images_20_ddim_steps_s": gen_s, "controlnet_params": sum(p.numel() for p in net.parameters()),
              "torch_threads": torch.get_num_threads(),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, CPU only"}
    print(json.dumps(result, indent=1))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
