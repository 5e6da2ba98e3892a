"""Table 3's image metrics: FID, KID×1k and CLIP score (torchmetrics), with weights by local path only.

No Inception or CLIP weights can be downloaded here, so the real extractors load from a path and fail
with a clear message when the file is absent; tests and the sample run use `TinyFeatureExtractor` /
`tiny_clip`, random networks of the same interface, whose numbers are not comparable to the paper's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from shoemodel.models.runtime import prepare_imports
from shoemodel.models.weights import require_weights


class TinyFeatureExtractor(nn.Module):
    """A small random conv net with `num_features`, standing in for Inception in tests (input float [0, 1])."""

    def __init__(self, num_features: int = 64, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.num_features = num_features
        self.net = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(),
                                 nn.Conv2d(32, num_features, 3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
        self.eval().requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        x = nn.functional.interpolate(x.float(), size=(64, 64), mode="bilinear", align_corners=False)
        return self.net(x).double()


def inception_extractor(weights_path: str | Path) -> nn.Module:
    """torchmetrics' FID Inception v3 (2048-d pool features) from a local weights file (pt_inception-2015-12-05)."""
    path = require_weights(weights_path, "Inception v3 FID weights (pt_inception-2015-12-05-6726825d.pth)")
    try:
        prepare_imports()  # torchmetrics imports torchvision
        from torchmetrics.image.fid import NoTrainInceptionV3
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("FID/KID with Inception need torch-fidelity: pip install 'shoemodel[benchmark]'") from exc
    try:
        net = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                 feature_extractor_weights_path=str(path))
    except ModuleNotFoundError as exc:
        raise ImportError("FID/KID with Inception need torch-fidelity: pip install 'shoemodel[benchmark]'") from exc
    except RuntimeError as exc:  # load_state_dict: another network's (or a truncated) state dict
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        why = lines[1] if len(lines) > 1 and lines[0].startswith("Error(s)") else (lines or [str(exc)])[0]
        raise ValueError(f"{path}: not the FID Inception v3 layout (pt_inception-2015-12-05): {why[:300]}") from exc
    net.num_features = 2048
    return _UInt8Input(net)


class _UInt8Input(nn.Module):
    """torchmetrics' Inception expects uint8 images; we feed float [0, 1] everywhere, so convert here."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.num_features = net, net.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x * 255).round().to(torch.uint8) if x.is_floating_point() else x)


def _to_batch(images: Sequence[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.asarray(i) for i in images]).transpose(0, 3, 1, 2).copy()).float() / 255.0


def fid_kid(real: Sequence[np.ndarray], fake: Sequence[np.ndarray], extractor: nn.Module,
            kid_subset_size: int = 1000, batch_size: int = 32) -> dict[str, float]:
    """FID and KID×1000 (mean, std) between two image sets (uint8 HxWx3, any equal size) with one feature extractor."""
    prepare_imports()  # torchmetrics imports torchvision
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    if len(real) < 2 or len(fake) < 2:
        raise ValueError(f"FID/KID need at least 2 images per set (got {len(real)} real, {len(fake)} fake)")
    subset = max(2, min(kid_subset_size, len(real), len(fake)))
    fid = FrechetInceptionDistance(feature=extractor, normalize=True)
    kid = KernelInceptionDistance(feature=extractor, subset_size=subset, normalize=True)
    for imgs, is_real in ((real, True), (fake, False)):
        for i in range(0, len(imgs), batch_size):
            batch = _to_batch(imgs[i:i + batch_size])
            fid.update(batch, real=is_real)
            kid.update(batch, real=is_real)
    kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid_x1k": 1000 * float(kid_mean), "kid_x1k_std": 1000 * float(kid_std),
            "n_real": len(real), "n_fake": len(fake), "kid_subset_size": subset}


class PooledCLIP(nn.Module):
    """transformers 5 returns output objects from get_*_features; torchmetrics wants the projected tensors."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    @staticmethod
    def _pooled(out: Any) -> torch.Tensor:
        return out if isinstance(out, torch.Tensor) else out.pooler_output

    def get_image_features(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self._pooled(self.model.get_image_features(*args, **kwargs))

    def get_text_features(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self._pooled(self.model.get_text_features(*args, **kwargs))

    @property
    def config(self) -> Any:
        return self.model.config


def clip_from_path(path: str | Path) -> tuple[nn.Module, Any]:
    """A CLIP model + processor from a local transformers folder (e.g. openai/clip-vit-large-patch14 saved offline)."""
    prepare_imports()
    from transformers import CLIPModel, CLIPProcessor

    p = require_weights(path, "CLIP model folder (transformers layout, e.g. clip-vit-large-patch14)")
    return PooledCLIP(CLIPModel.from_pretrained(p).eval()), CLIPProcessor.from_pretrained(p)


def tiny_clip(folder: str | Path, image_size: int = 32, seed: int = 0) -> tuple[nn.Module, Any]:
    """A random tiny CLIP (same classes as the real one) with its own tiny tokenizer written into `folder`."""
    prepare_imports()
    from transformers import (
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        CLIPProcessor,
        CLIPTextConfig,
        CLIPTokenizer,
        CLIPVisionConfig,
    )

    from shoemodel.models.sw.tiny import write_tiny_tokenizer

    d = write_tiny_tokenizer(Path(folder))
    tok = CLIPTokenizer(str(d / "vocab.json"), str(d / "merges.txt"), model_max_length=77)
    torch.manual_seed(seed)
    text = CLIPTextConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                          num_attention_heads=4, projection_dim=16, bos_token_id=tok.bos_token_id,
                          eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=4,
                              image_size=image_size, patch_size=8, projection_dim=16)
    model = CLIPModel(CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16)).eval()
    proc = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": image_size},
                                                            crop_size={"height": image_size, "width": image_size}),
                         tokenizer=tok)
    return PooledCLIP(model), proc


def clip_score(images: Sequence[np.ndarray], prompts: Sequence[str], model_and_processor: tuple[nn.Module, Any],
               batch_size: int = 32) -> float:
    """torchmetrics CLIPScore (100 · cosine, floored at 0) averaged over image/prompt pairs."""
    prepare_imports()  # torchmetrics imports torchvision
    from torchmetrics.multimodal.clip_score import CLIPScore

    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
    metric = CLIPScore(model_name_or_path=lambda: model_and_processor)
    for i in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.stack(images[i:i + batch_size]).transpose(0, 3, 1, 2).copy())
        metric.update(batch, list(prompts[i:i + batch_size]))
    return float(metric.compute())
