"""SW's latent cache: the VAE posterior of every training crop and the text embedding of every prompt, computed once.

With the cache, SW's step runs only the ControlNet and the frozen UNet: the VAE encoder and CLIP text
encoder never run in the loop. Each record is cached at `cache_variants` fixed crop/flip variants (the
dataset then draws one of them per sample); the posterior is stored as mean and std so the loop still
samples X_0 from the step's generator, exactly as encoding in the loop would.

Layout of the cache folder: `shards/latents-NNNNN.parquet` (record, variant, prompt_id, mean, std as raw
bytes), `prompts.safetensors` (row 0 is the empty prompt) and `cache.json` (the key and shapes), written
last, so a folder without it is an unfinished build. The key hashes the set's shard contents, the VAE,
text encoder and tokenizer files, the resolution and the augmentation settings: any change makes the cache
stale, and the trainer rebuilds (or the `cache_sw_latents` stage reruns) instead of training on old latents.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from shoemodel.models.device import torch_dtype
from shoemodel.store.atomic import write_json

CACHE_FORMAT = 1
META = "cache.json"
PROMPTS = "prompts.safetensors"
ROWS_PER_SHARD = 512


def _hash_files(h: Any, files: list[Path], root: Path) -> None:
    for f in sorted(files):
        h.update(str(f.relative_to(root)).encode())
        if f.suffix == ".json":  # configs: drop bookkeeping keys ("_name_or_path", versions) that do not change outputs
            data = json.loads(f.read_text())
            data = {k: v for k, v in data.items() if not k.startswith("_") and k != "transformers_version"} \
                if isinstance(data, dict) else data
            h.update(json.dumps(data, sort_keys=True).encode())
            continue
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)


def base_fingerprint(base_path: str | Path) -> str:
    """sha256 over what the cache depends on in the base model: VAE, text encoder and tokenizer files (or the single file)."""
    p = Path(base_path)
    h = hashlib.sha256()
    if p.is_file():
        _hash_files(h, [p], p.parent)
    else:
        _hash_files(h, [f for sub in ("vae", "text_encoder", "tokenizer") for f in (p / sub).rglob("*") if f.is_file()], p)
    return h.hexdigest()


def set_fingerprint(root: str | Path) -> str:
    """sha256 over the set's shard content hashes (the manifest's), so a rebuilt but identical set keeps its cache."""
    from shoemodel.store import read_manifest

    m = read_manifest(root)
    return hashlib.sha256(json.dumps([s.sha256 for s in m.shards]).encode()).hexdigest()


def cache_key(cfg: Any, base_path: str | Path) -> dict[str, Any]:
    """Everything that changes the cached tensors; equal keys mean the cache holds exactly what the loop would compute."""
    return {"format": CACHE_FORMAT, "set": set_fingerprint(cfg.train_set), "base": base_fingerprint(base_path),
            "resolution": cfg.resolution, "variants": cfg.cache_variants, "flip": cfg.random_flip,
            "caption_template": cfg.caption_template, "max_records": cfg.max_records, "dtype": cfg.cache_dtype}


def is_fresh(folder: str | Path, key: dict[str, Any]) -> bool:
    """Whether `folder` holds a finished cache built with `key`."""
    meta = Path(folder) / META
    return meta.exists() and json.loads(meta.read_text()).get("key") == key


def _encode_batch(base: Any, pixels: torch.Tensor, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        dist = base.vae.encode(pixels.to(next(base.vae.parameters()).dtype)).latent_dist
    return dist.mean.to(dtype).cpu().numpy(), dist.std.to(dtype).cpu().numpy()


def build_cache(cfg: Any, base: Any, base_path: str | Path, folder: str | Path, *, device: str | torch.device = "cpu",
                log: Any = None) -> Path:
    """Encode every (train record, variant) and prompt into `folder` (replacing an old build); returns the folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from safetensors.torch import save_file

    from shoemodel.training.sw.data import load_dataset
    from shoemodel.training.sw.loss import encode_prompts

    if cfg.cache_variants < 1:
        raise ValueError(f"cache_variants must be >= 1 to build a latent cache, got {cfg.cache_variants}")
    dtype = torch_dtype(cfg.cache_dtype, "train.sw.cache_dtype")  # an unknown name: one line, before any work
    key = cache_key(cfg, base_path)
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "shards").mkdir(parents=True)
    base.vae.to(device).eval()
    base.text_encoder.to(device).eval()
    ds = load_dataset(cfg.train_set, cfg.resolution, max_records=cfg.max_records, flip=cfg.random_flip,
                      template=cfg.caption_template, variants=cfg.cache_variants)
    prompts: dict[str, int] = {"": 0}
    keys = [(i, v) for i in range(len(ds)) for v in range(cfg.cache_variants)]
    rows: dict[str, list] = {"record": [], "variant": [], "prompt_id": [], "mean": [], "std": []}
    shard, shape = 0, None

    def flush() -> None:
        nonlocal shard, rows
        if rows["record"]:
            pq.write_table(pa.table(rows), tmp / "shards" / f"latents-{shard:05d}.parquet")
            shard += 1
            rows = {k: [] for k in rows}

    bs = max(1, cfg.cache_batch_size)
    for start in range(0, len(keys), bs):
        chunk = keys[start:start + bs]
        examples = [ds.example(i, v) for i, v in chunk]  # seed v -> variant v (v < variants)
        pixels = torch.stack([torch.from_numpy(np.ascontiguousarray(e.image.transpose(2, 0, 1))).float() / 127.5 - 1.0
                              for e in examples]).to(device)
        mean, std = _encode_batch(base, pixels, dtype)
        shape = list(mean.shape[1:])
        for (i, v), e, m, s in zip(chunk, examples, mean, std, strict=True):
            rows["record"].append(i)
            rows["variant"].append(v)
            rows["prompt_id"].append(prompts.setdefault(e.prompt, len(prompts)))
            rows["mean"].append(m.tobytes())
            rows["std"].append(s.tobytes())
        if len(rows["record"]) >= ROWS_PER_SHARD:
            flush()
        if log is not None and (start // bs) % 50 == 0:
            log(f"sw-cache: {min(start + bs, len(keys))}/{len(keys)} crops encoded")
    flush()
    names = sorted(prompts, key=prompts.__getitem__)
    embeds = torch.cat([encode_prompts(base.tokenizer, base.text_encoder, names[j:j + 64], device).cpu()
                        for j in range(0, len(names), 64)])
    save_file({"embeds": embeds.to(dtype).contiguous()}, str(tmp / PROMPTS))
    write_json(tmp / META, {"key": key, "latent_shape": shape, "num_crops": len(keys), "num_records": len(ds),
                            "prompts": names, "scaling_factor": float(base.vae.config.scaling_factor)})
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


@dataclass
class LatentCache:
    """A finished cache read into memory: latent moments per (record, variant) and the prompt-embedding table."""

    mean: torch.Tensor  # (records, variants, C, h, w)
    std: torch.Tensor
    prompt_ids: torch.Tensor  # (records, variants)
    prompt_embeds: torch.Tensor  # (prompts, tokens, width); row 0 = ""
    meta: dict[str, Any]

    @classmethod
    def load(cls, folder: str | Path) -> LatentCache:
        """Read `folder`; a one-line error names it when it is not a finished cache."""
        import pyarrow.parquet as pq
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / META).exists():
            raise FileNotFoundError(f"{folder}: no {META}; build the cache with `shoemodel train sw-cache`")
        meta = json.loads((folder / META).read_text())
        key = meta["key"]
        n, k, shape = meta["num_records"], key["variants"], meta["latent_shape"]
        dtype = torch_dtype(key["dtype"])
        np_dtype = {torch.float16: np.float16, torch.float32: np.float32}.get(dtype)
        mean = torch.zeros((n, k, *shape), dtype=dtype)
        std, ids = torch.zeros_like(mean), torch.zeros((n, k), dtype=torch.long)
        seen = 0
        for path in sorted((folder / "shards").glob("latents-*.parquet")):
            t = pq.read_table(path).to_pydict()
            for r, v, p, m, s in zip(t["record"], t["variant"], t["prompt_id"], t["mean"], t["std"], strict=True):
                mean[r, v] = _from_bytes(m, np_dtype, shape, mean.dtype)
                std[r, v] = _from_bytes(s, np_dtype, shape, mean.dtype)
                ids[r, v] = p
                seen += 1
        if seen != meta["num_crops"]:
            raise ValueError(f"{folder}: {seen} cached crops, cache.json promises {meta['num_crops']}; rebuild it")
        return cls(mean, std, ids, load_file(str(folder / PROMPTS))["embeds"], meta)


def _from_bytes(raw: bytes, np_dtype: Any, shape: list[int], dtype: torch.dtype) -> torch.Tensor:
    if np_dtype is None:  # bfloat16 has no NumPy dtype: reinterpret int16 bits
        return torch.from_numpy(np.frombuffer(raw, np.int16).reshape(shape).copy()).view(dtype)
    return torch.from_numpy(np.frombuffer(raw, np_dtype).reshape(shape).copy())


class CachedShoeLegDataset(Dataset):
    """SW training items from the cache: latent moments + prompt row of the variant, and the condition drawn fresh.

    The condition X_w ⊕ X_p is re-rendered from the record with the variant's seed (cheap, in the DataLoader
    workers), so it matches the cached crop exactly; only the photo's latent is precomputed.
    """

    def __init__(self, dataset: Any, cache: LatentCache):
        if cache.mean.shape[0] != len(dataset) or cache.mean.shape[1] != dataset.variants:
            raise ValueError(f"cache has {tuple(cache.mean.shape[:2])} (records, variants), the set "
                             f"{len(dataset), dataset.variants}; rebuild it")
        self.dataset, self.cache = dataset, cache

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, Any]:
        from shoemodel.models.sw.condition import condition_array

        idx, seed = key
        v = seed % self.dataset.variants
        ex = self.dataset.example(idx, seed, with_image=False)
        return {"latent_mean": self.cache.mean[idx, v], "latent_std": self.cache.std[idx, v],
                "conditioning": torch.from_numpy(condition_array(ex.x_w, ex.x_p)),
                "prompt_id": int(self.cache.prompt_ids[idx, v])}
