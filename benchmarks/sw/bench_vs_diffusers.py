"""SW training speed against diffusers' reference ControlNet trainer, at equal settings, in one run.

    python benchmarks/sw/bench_vs_diffusers.py --reference-script PATH/examples/controlnet/train_controlnet.py
    python benchmarks/sw/bench_vs_diffusers.py --reference-script PATH --gpu-shapes     # SD 1.5 shapes, 512 px, batch 8

The reference script is diffusers' own `examples/controlnet/train_controlnet.py` (not in the wheel: take it from
the diffusers repository at the release nearest the installed version); nothing is downloaded here.

Both trainers get the same base model folder (random weights: the tiny SD-shaped one, or SD 1.5 shapes),
the same records (ours reads the shoe-leg shards; the reference reads them exported to the imagefolder +
metadata.jsonl layout it loads), resolution, batch size, learning rate, precision and number of DataLoader
workers. Each runs in its own process; the step clock is the same hook in both (accelerate's optimizer
step, after a device sync), and samples/s is taken over the steps after `--warmup`. Ours runs its default
fast path (latent cache built before the clock starts and reported apart; SDPA; on a GPU also
channels_last, torch.compile and fused AdamW). The reference runs as its README shows (SDPA is diffusers'
default attention). Its ControlNet takes a 3-channel hint (the pose image X_p), ours 6 (X_w ⊕ X_p): the
only shape difference, one 3x3 convolution's input at full resolution (<0.1 % of a step's FLOPs, against us).

Fairness check (the losses at step 1): the reference process draws the VAE posterior sample, the noise
and the timesteps of its first step from a torch.Generator seeded as our engine seeds step 1, in our
loss's order (a hook on `DiagonalGaussianDistribution.sample`, `torch.randn_like` and `torch.randint` for
that one step), and records the batch it trained on and its loss. Our process then computes our trainer's
loss function (`shoemodel.training.sw.loss.make_loss`, with the VAE and text encoder in the loop) on the
same batch with the reference's initial ControlNet and the same generator; the two losses must agree.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tests/helpers holds the synthetic set writer

for _k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_k, "1")

LOSS_RTOL = {"no": 1e-4, "bf16": 2e-2, "fp16": 1e-2}


# ---------------------------------------------------------------- shared set-up (parent process)

def write_base(folder: Path, gpu_shapes: bool, resolution: int) -> Path:
    """The base model folder both trainers load: tiny random SD-shaped, or SD 1.5 shapes with random weights."""
    from shoemodel.models.sw.tiny import make_tiny_base_model

    base = make_tiny_base_model(folder, resolution=resolution)
    if gpu_shapes:  # replace the tiny parts by SD 1.5-sized ones (the tiny tokenizer stays: vocabulary size is immaterial)
        import torch
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

        torch.manual_seed(0)
        tok = CLIPTokenizer.from_pretrained(folder / "tokenizer")
        UNet2DConditionModel(cross_attention_dim=768, sample_size=resolution // 8).save_pretrained(folder / "unet")
        AutoencoderKL(block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
                      up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, layers_per_block=2,
                      sample_size=resolution).save_pretrained(folder / "vae")
        CLIPTextModel(CLIPTextConfig(vocab_size=len(tok), hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                     num_attention_heads=12, max_position_embeddings=77, bos_token_id=tok.bos_token_id,
                                     eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
                      ).save_pretrained(folder / "text_encoder")
    return base


def write_reference_controlnet(base_dir: Path, folder: Path) -> Path:
    """The reference's initial ControlNet: from the UNet, 3-channel hint, the embedding trimmed to the VAE's factor."""
    from diffusers import ControlNetModel

    from shoemodel.models.sw.base import conditioning_embedding_channels, load_base_model

    base = load_base_model(base_dir)
    net = ControlNetModel.from_unet(base.unet, conditioning_channels=3,
                                    conditioning_embedding_out_channels=conditioning_embedding_channels(base.vae_scale_factor))
    net.save_pretrained(folder)
    return folder


def export_imagefolder(set_dir: Path, out: Path, resolution: int) -> Path:
    """Our training records as the reference reads them: image, conditioning image (X_p) and text, one line each in
    metadata.jsonl, already at `resolution` (our crop), so the reference's resize + center crop keep them as they are."""
    from PIL import Image

    from shoemodel.training.sw.data import load_dataset

    ds = load_dataset(set_dir, resolution, flip=False)
    (out / "train").mkdir(parents=True, exist_ok=True)
    with (out / "train" / "metadata.jsonl").open("w") as fh:
        for i in range(len(ds)):
            ex = ds.example(i, 0)
            Image.fromarray(ex.image).save(out / "train" / f"{i:05d}.png")
            Image.fromarray(ex.x_p).save(out / "train" / f"{i:05d}-pose.png")
            fh.write(json.dumps({"file_name": f"{i:05d}.png", "conditioning_image_file_name": f"{i:05d}-pose.png",
                                 "text": ex.prompt}) + "\n")
    return out


# ---------------------------------------------------------------- worker hooks

class StepClock:
    """Timestamps of accelerate's optimizer steps (after a device sync): the same clock for both trainers."""

    def __init__(self) -> None:
        import torch
        from accelerate.optimizer import AcceleratedOptimizer

        self.times: list[float] = []
        original = AcceleratedOptimizer.step
        clock = self

        def step(opt: Any, *a: Any, **kw: Any) -> Any:
            out = original(opt, *a, **kw)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            clock.times.append(time.perf_counter())
            return out

        AcceleratedOptimizer.step = step

    def samples_per_second(self, batch: int, warmup: int) -> float:
        t = self.times[warmup:]
        return (len(t) - 1) * batch / (t[-1] - t[0]) if len(t) > 1 else float("nan")


def peak_memory() -> dict[str, float]:
    """Peak device memory (CUDA) or peak resident memory of this process (CPU), in MiB."""
    import torch

    if torch.cuda.is_available():
        return {"peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20}
    return {"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def step_one_generator(seed: int, device: str) -> Any:
    """The generator our engine gives the loss at step 1 (micro-batch 0), on `device`."""
    import torch

    from shoemodel.training.engine import _step_seed

    return torch.Generator(device=device).manual_seed(_step_seed(seed, 0) + 1)


def inject_step_one_noise(seed: int, batch: int, capture: dict[str, Any]) -> None:
    """For the reference's first step: draw posterior sample, noise and timesteps from our step-1 generator in our
    loss's order, and record the batch (pixels, hint, token ids) and the loss it computes. Later steps are untouched."""
    import torch
    import torch.nn.functional as F
    from diffusers import ControlNetModel
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
    from transformers import CLIPTextModel

    state: dict[str, Any] = {"phase": "idle"}
    orig_sample, orig_randn_like, orig_randint = DiagonalGaussianDistribution.sample, torch.randn_like, torch.randint
    orig_mse, orig_cn, orig_te = F.mse_loss, ControlNetModel.forward, CLIPTextModel.forward
    orig_encode = __import__("diffusers").AutoencoderKL.encode

    def encode(self: Any, x: Any, *a: Any, **kw: Any) -> Any:
        if "pixel_values" not in capture:
            capture["pixel_values"] = x.detach().float().cpu()
        return orig_encode(self, x, *a, **kw)

    def sample(self: Any, generator: Any = None) -> Any:
        if state["phase"] == "idle":
            gen = step_one_generator(seed, str(self.mean.device))
            torch.rand(batch, generator=gen, device=gen.device)  # our loss draws the prompt drops first
            state.update(phase="noise", gen=gen)
            return orig_sample(self, gen)
        return orig_sample(self, generator)

    def randn_like(x: Any, *a: Any, **kw: Any) -> Any:
        if state["phase"] == "noise":
            state["phase"] = "timesteps"
            return torch.randn(x.shape, generator=state["gen"], device=x.device, dtype=kw.get("dtype", x.dtype))
        return orig_randn_like(x, *a, **kw)

    def randint(*a: Any, **kw: Any) -> Any:
        if state["phase"] == "timesteps":
            state["phase"] = "loss"
            t = orig_randint(*a, generator=state["gen"], **kw)
            capture["timesteps"] = t.cpu()
            return t
        return orig_randint(*a, **kw)

    def mse_loss(*a: Any, **kw: Any) -> Any:
        out = orig_mse(*a, **kw)
        if state["phase"] == "loss":
            state["phase"] = "done"
            capture["loss"] = float(out.detach())
        return out

    def cn_forward(self: Any, *a: Any, **kw: Any) -> Any:
        if "conditioning" not in capture:
            capture["conditioning"] = kw["controlnet_cond"].detach().float().cpu()
        return orig_cn(self, *a, **kw)

    def te_forward(self: Any, input_ids: Any = None, *a: Any, **kw: Any) -> Any:
        if "input_ids" not in capture:
            capture["input_ids"] = input_ids.detach().cpu()
        return orig_te(self, input_ids, *a, **kw)

    DiagonalGaussianDistribution.sample = sample
    torch.randn_like, torch.randint, F.mse_loss = randn_like, randint, mse_loss
    ControlNetModel.forward, CLIPTextModel.forward = cn_forward, te_forward
    __import__("diffusers").AutoencoderKL.encode = encode


def run_reference(spec: dict[str, Any]) -> dict[str, Any]:
    """diffusers' train_controlnet.py in this process, with the step clock and the step-1 noise hook."""
    import torch

    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    clock, capture = StepClock(), {}
    inject_step_one_noise(spec["seed"], spec["batch"], capture)
    mod_spec = importlib.util.spec_from_file_location("diffusers_train_controlnet", spec["reference_script"])
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)  # type: ignore[union-attr]
    out = Path(spec["work"]) / "reference_out"
    args = module.parse_args([
        "--pretrained_model_name_or_path", spec["base"], "--controlnet_model_name_or_path", spec["reference_controlnet"],
        "--train_data_dir", spec["imagefolder"], "--cache_dir", str(Path(spec["work"]) / "hf_cache"),
        "--output_dir", str(out), "--resolution", str(spec["resolution"]), "--train_batch_size", str(spec["batch"]),
        "--max_train_steps", str(spec["steps"]), "--learning_rate", str(spec["learning_rate"]),
        "--lr_scheduler", "constant", "--lr_warmup_steps", "0", "--mixed_precision", spec["mixed_precision"],
        "--dataloader_num_workers", str(spec["num_workers"]), "--checkpointing_steps", str(10**9),
        "--seed", str(spec["seed"]), "--report_to", "tensorboard", "--proportion_empty_prompts", "0",
        "--set_grads_to_none"])
    t0 = time.perf_counter()
    module.main(args)
    torch.save({k: capture[k] for k in ("pixel_values", "conditioning", "input_ids", "timesteps")},
               Path(spec["work"]) / "reference_batch.pt")
    return {"samples_per_second": clock.samples_per_second(spec["batch"], spec["warmup"]), "steps": len(clock.times),
            "wall_s": time.perf_counter() - t0, "step1_loss": capture.get("loss"), **peak_memory()}


def run_ours(spec: dict[str, Any]) -> dict[str, Any]:
    """Our trainer on the same records (shards), base, resolution, batch, precision; then the step-1 loss check."""

    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    from shoemodel.training.sw.config import SWConfig
    from shoemodel.training.sw.train import build_sw_cache, train_sw

    work = Path(spec["work"])
    cfg = SWConfig(train_set=spec["set"], base_model=spec["base"], output_dir=str(work / "ours_out"),
                   metrics_dir=str(work / "ours_metrics"), resolution=spec["resolution"], batch_size=spec["batch"],
                   steps=spec["steps"], learning_rate=spec["learning_rate"], lr_scheduler="constant",
                   mixed_precision=spec["mixed_precision"], num_workers=spec["num_workers"], checkpoint_every=0,
                   validation_every=0, num_validation_images=0, empty_prompt_prob=0.0, progress=False,
                   seed=spec["seed"], latent_cache=str(work / "latent_cache") if spec["cache"] else "",
                   cpu_threads=0, compile=spec["compile"])
    t = time.perf_counter()
    if cfg.latent_cache:
        build_sw_cache(cfg)
    cache_s = time.perf_counter() - t
    clock = StepClock()
    t0 = time.perf_counter()
    summary = train_sw(cfg)
    result = {"samples_per_second": clock.samples_per_second(spec["batch"], spec["warmup"]), "steps": len(clock.times),
              "wall_s": time.perf_counter() - t0, "cache_build_s": cache_s, "latent_cache": summary["latent_cache"],
              **peak_memory()}
    result["step1_loss_same_batch"] = our_step_one_loss(spec)
    return result


def our_step_one_loss(spec: dict[str, Any]) -> dict[str, Any]:
    """Our loss function on the reference's step-1 batch, model and generator (VAE and text encoder in the loop)."""
    import torch
    from diffusers import ControlNetModel

    from shoemodel.models.sw.base import load_base_model
    from shoemodel.training.engine import freeze, frozen_dtype, resolve_mixed_precision
    from shoemodel.training.sw.loss import make_loss

    device = "cuda" if torch.cuda.is_available() else "cpu"
    mp = resolve_mixed_precision(spec["mixed_precision"])
    batch = torch.load(Path(spec["work"]) / "reference_batch.pt")
    base = load_base_model(spec["base"])
    freeze(base.unet, base.vae, base.text_encoder)
    dtype = frozen_dtype(torch.device(device), mp)
    for m in (base.unet, base.vae, base.text_encoder):
        m.to(device, dtype=dtype)
    net = ControlNetModel.from_pretrained(spec["reference_controlnet"]).to(device)
    prompts = base.tokenizer.batch_decode(batch["input_ids"], skip_special_tokens=True)
    ids = base.tokenizer(prompts, padding="max_length", max_length=base.tokenizer.model_max_length, truncation=True,
                         return_tensors="pt").input_ids
    ours = {"pixel_values": batch["pixel_values"].to(device), "conditioning": batch["conditioning"].to(device),
            "prompts": prompts}
    autocast = torch.autocast(device, dtype=torch.bfloat16 if mp == "bf16" else torch.float16, enabled=mp != "no")
    with torch.no_grad(), autocast:
        loss, _ = make_loss(base, 0.0)(net, ours, step_one_generator(spec["seed"], device))
    return {"loss": float(loss), "token_ids_equal": bool(torch.equal(ids, batch["input_ids"]))}


# ---------------------------------------------------------------- driver

def script_identity(path: Path) -> dict[str, str]:
    """What identifies the reference script in the results: its sha256 and the diffusers version it requires."""
    import hashlib
    import re

    text = path.read_bytes()
    found = re.search(rb'check_min_version\("([^"]+)"\)', text)
    return {"sha256": hashlib.sha256(text).hexdigest(),
            "requires_diffusers": found.group(1).decode() if found else "unknown"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference-script", type=Path, required=False, help="diffusers' examples/controlnet/train_controlnet.py")
    ap.add_argument("--gpu-shapes", action="store_true", help="SD 1.5 shapes (random weights), 512 px, batch 8, bf16")
    ap.add_argument("--resolution", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps per trainer")
    ap.add_argument("--warmup", type=int, default=None, help="steps left out of samples/s")
    ap.add_argument("--records", type=int, default=None, help="training records")
    ap.add_argument("--mixed-precision", default=None, choices=["no", "bf16", "fp16"])
    ap.add_argument("--num-workers", type=int, default=None)
    ap.add_argument("--no-cache", action="store_true", help="our trainer without the latent cache")
    ap.add_argument("--no-compile", action="store_true", help="our trainer without torch.compile (GPU)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads in each worker (CPU runs)")
    ap.add_argument("--out", type=Path, default=None, help="results JSON (default: print only)")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--worker", choices=["reference", "ours"], help=argparse.SUPPRESS)
    ap.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        spec = json.loads(args.spec.read_text())
        result = (run_reference if args.worker == "reference" else run_ours)(spec)
        (Path(spec["work"]) / f"{args.worker}.json").write_text(json.dumps(result))
        return
    if args.reference_script is None or not args.reference_script.is_file():
        sys.exit(f"error: --reference-script {args.reference_script}: not a file (diffusers' "
                 "examples/controlnet/train_controlnet.py from the diffusers repository)")
    gpu = args.gpu_shapes
    spec = {"resolution": args.resolution or (512 if gpu else 32), "batch": args.batch or (8 if gpu else 2),
            "steps": args.steps or (30 if gpu else 6), "warmup": args.warmup if args.warmup is not None else (10 if gpu else 2),
            "mixed_precision": args.mixed_precision or ("bf16" if gpu else "no"),
            "num_workers": args.num_workers if args.num_workers is not None else (4 if gpu else 0),
            "learning_rate": 1e-5, "seed": 0, "cache": not args.no_cache, "compile": not args.no_compile,
            "reference_script": str(args.reference_script.resolve())}
    records = args.records or max(16, spec["batch"] * 4)
    work = args.work or Path(tempfile.mkdtemp(prefix="sw-vs-diffusers-"))
    work.mkdir(parents=True, exist_ok=True)
    from shoemodel.models.runtime import prepare_imports

    prepare_imports()
    from tests.helpers.sets import write_synthetic_shoe_leg_set

    t = time.perf_counter()
    set_dir = write_synthetic_shoe_leg_set(work / "shoe_leg", n=records, size=max(64, spec["resolution"]), n_val=0)
    base = write_base(work / "base", gpu, spec["resolution"])
    spec.update(work=str(work), set=str(set_dir), base=str(base),
                reference_controlnet=str(write_reference_controlnet(base, work / "reference_controlnet")),
                imagefolder=str(export_imagefolder(set_dir, work / "imagefolder", spec["resolution"])))
    (work / "spec.json").write_text(json.dumps(spec, indent=1))
    setup_s = time.perf_counter() - t
    results: dict[str, Any] = {}
    for worker in ("reference", "ours"):  # ours second: its loss check reads the reference's step-1 batch
        cmd = [sys.executable, __file__, "--worker", worker, "--spec", str(work / "spec.json"), "--threads", str(args.threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if proc.returncode != 0:
            sys.exit(f"error: the {worker} trainer failed:\n{proc.stderr[-4000:]}")
        results[worker] = json.loads((work / f"{worker}.json").read_text())
    import torch

    ref, ours = results["reference"], results["ours"]
    check = ours.pop("step1_loss_same_batch")
    rtol = LOSS_RTOL[spec["mixed_precision"]]
    agree = ref["step1_loss"] is not None and abs(check["loss"] - ref["step1_loss"]) <= rtol * abs(ref["step1_loss"])
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({platform.machine()}, {os.cpu_count()} cores)"
    import diffusers

    record = {
        "shapes": "SD 1.5 (random weights)" if gpu else "tiny random SD-shaped", "device": device,
        "torch": torch.__version__, "diffusers": diffusers.__version__,
        "reference_script": spec["reference_script"], **{f"reference_script_{k}": v for k, v in
                                                          script_identity(Path(spec["reference_script"])).items()},
        "settings": {k: spec[k] for k in
                                                                   ("resolution", "batch", "steps", "warmup", "mixed_precision",
                                                                    "num_workers", "learning_rate", "cache", "compile")},
        "records": records, "setup_s": round(setup_s, 2),
        "reference": ref, "ours": ours, "ratio_samples_per_second": ours["samples_per_second"] / ref["samples_per_second"],
        "step1_loss": {"reference": ref["step1_loss"], "ours_same_batch_same_noise": check["loss"], "rtol": rtol,
                       "agree": bool(agree), "token_ids_equal": check["token_ids_equal"]},
    }
    mem = "peak_gpu_mib" if "peak_gpu_mib" in ref else "peak_rss_mib"
    print(f"reference (diffusers train_controlnet.py): {ref['samples_per_second']:.3f} samples/s, {mem} {ref[mem]:.0f}")
    print(f"ours (shoemodel train sw):                 {ours['samples_per_second']:.3f} samples/s, {mem} {ours[mem]:.0f}"
          f" (latent cache built in {ours['cache_build_s']:.1f} s, not timed)")
    print(f"ratio ours/reference: {record['ratio_samples_per_second']:.2f}x")
    print(f"step-1 loss: reference {ref['step1_loss']:.6f}, ours on the same batch and noise {check['loss']:.6f} "
          f"({'agree' if agree else 'DISAGREE'} at rtol {rtol})")
    if args.out:
        args.out.write_text(json.dumps(record, indent=1) + "\n")
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
