"""Train the shoe prior (tiny UNet on CCP foot crops) with the project's engine; export fp16 safetensors + a card.

The card says the command, the data (the train split's ids and their hash), the architecture, and the metrics on
the eval split (val: never test), so the shipped weights say where they came from.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import torch

from shoemodel.models.shoe_prior.model import PriorArch, TinyUNet, parameter_count
from shoemodel.models.shoe_prior.predictor import CARD_FILE, WEIGHTS_FILE, ShoePrior
from shoemodel.training.engine import train_loop
from shoemodel.training.shoe_prior import ccp
from shoemodel.training.shoe_prior.config import ShoePriorConfig
from shoemodel.training.shoe_prior.data import ShoeCropDataset, collate


def make_loss(dice_weight: float):
    """BCE (weighted per pixel by the batch's `weight`: hard negatives count more) + soft Dice: the shoe is a small part
    of the crop, Dice keeps its boundary from shrinking."""

    def loss_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor], gen: Any):
        logits = model(batch["pixels"])
        target = batch["mask"]
        weight = batch.get("weight")
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, weight=weight)
        p = torch.sigmoid(logits)
        inter = (p * target).sum((1, 2, 3))
        dice = 1 - (2 * inter + 1) / (p.sum((1, 2, 3)) + target.sum((1, 2, 3)) + 1)
        return bce + dice_weight * dice.mean(), {"bce": float(bce.detach())}

    return loss_fn


def arch_of(cfg: ShoePriorConfig) -> PriorArch:
    return PriorArch(size=cfg.size, widths=list(cfg.widths), stem=cfg.stem, fine=cfg.fine, points_channel=cfg.points_channel)


def train_shoe_prior(cfg: ShoePriorConfig, log: Any = print) -> dict[str, Any]:
    """Train on `train_split`, evaluate on `eval_split`, write `<output_dir>/shoe_prior.safetensors` + card.json."""
    from safetensors.torch import save_file

    from shoemodel.store.atomic import write_json

    root = Path(cfg.ccp_root)
    if not (root / "photos").is_dir():
        raise FileNotFoundError(f"train.shoe_prior.ccp_root: no photos/ folder in {root}")
    ids = ccp.load_split(cfg.split_file, cfg.train_split)
    if cfg.max_records:
        ids = ids[: cfg.max_records]
    eval_ids = ccp.load_split(cfg.split_file, cfg.eval_split) if cfg.eval_split else []
    poses = ccp.pose_cache(root, ids + eval_ids, cfg.pose_cache, log=log) if cfg.crop_source == "pose" else {}
    t0 = time.time()
    data = ShoeCropDataset(str(root), ids, poses, cfg.size, cfg.crop_source, cfg.points_channel, True, cfg.jitter_shift,
                           cfg.jitter_scale, cfg.flip_prob, cfg.color_jitter, cfg.hard_negative_weight,
                           cfg.negative_prob)
    torch.manual_seed(cfg.seed)
    model = TinyUNet(arch_of(cfg))
    final, summary = train_loop(cfg, model, data, collate, make_loss(cfg.dice_weight), ["bce"])
    summary["train_seconds"] = round(time.time() - t0, 1)
    if not summary["is_main_process"]:
        return summary
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = final.eval().cpu()
    state = {k: v.detach().half().contiguous() for k, v in final.state_dict().items() if v.is_floating_point()}
    state.update({k: v.detach().contiguous() for k, v in final.state_dict().items() if not v.is_floating_point()})
    save_file(state, str(out / (WEIGHTS_FILE + ".tmp")))
    (out / (WEIGHTS_FILE + ".tmp")).replace(out / WEIGHTS_FILE)
    card = {"model": "shoe prior: tiny UNet, foot crop -> shoe probability", "arch": arch_of(cfg).as_dict(),
            "parameters": parameter_count(final), "command": "shoemodel train shoe-prior",
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(cfg).items()},
            "data": {"dataset": "Clothing Co-Parsing fixture photos (images/ccp, 0001-0700)",
                     "split_file": str(cfg.split_file), "split": cfg.train_split, "ids": data.ids,
                     "ids_sha256": ccp.ids_hash(data.ids), "crops_from_pose": data.from_pose, "skipped": data.skipped},
            "training": {k: summary[k] for k in ("steps", "seconds", "final_loss", "mean_loss_last_10pct")}}
    write_json(out / CARD_FILE, card)
    if eval_ids:
        card["metrics"] = {cfg.eval_split: evaluate_prior(ShoePrior.load(out), str(root), eval_ids, poses)}
        write_json(out / CARD_FILE, card)
        summary["eval"] = card["metrics"][cfg.eval_split]
    return summary


def evaluate_prior(prior: ShoePrior, root: str, ids: list[str], poses: dict[str, dict[str, Any]],
                   threshold: float = 0.5) -> dict[str, Any]:
    """The prior alone on the labelled person's pose crop: IoU of (probability >= threshold) with the footwear."""
    import numpy as np

    from shoemodel.training.shoe_prior.data import labelled_person

    ious, no_person, no_shoes = [], 0, 0
    for i in ids:
        image, labels = ccp.read_photo(root, i)
        gt = ccp.footwear_mask(labels)
        if not gt.any():
            no_shoes += 1
            continue
        person = labelled_person(poses.get(i, {}), gt)
        if person is None:
            no_person += 1
            continue
        pm = prior.probability(image, *person)
        m = pm.full(gt.shape) >= threshold if pm is not None else np.zeros_like(gt)
        ious.append(float((m & gt).sum() / max((m | gt).sum(), 1)))
    a = np.asarray(ious)
    return {"photos": len(a), "mean_iou": round(float(a.mean()), 4) if len(a) else None,
            "iou_ge_0.5": round(float((a >= 0.5).mean()), 4) if len(a) else None,
            "no_pose_person": no_person, "no_footwear": no_shoes}


def summary_line(summary: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in summary.items() if k != "losses"}, default=str)
