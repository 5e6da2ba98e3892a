"""`shoemodel train shoe-prior` learns on a tiny CCP subset: the loss falls and the crops' IoU clears a floor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from shoemodel.cli import app

REPO = Path(__file__).resolve().parents[2]


def test_prior_learns_on_a_tiny_ccp_subset(fixtures_dir: Path, tmp_path: Path, fresh_accelerator_state) -> None:
    """12 train photos, footwear-box crops (no pose model), 48 px, 60 steps: loss falls by a third, and on its own
    training crops the model reaches IoU >= 0.35 (an untrained one is near the shoes' share of the crop, ~0.1)."""
    root = fixtures_dir / "images" / "ccp"
    if not (root / "photos").is_dir():
        pytest.skip(f"CCP fixture photos not found at {root}")
    out = tmp_path / "prior"
    sets = {"ccp_root": str(root), "split_file": str(REPO / "benchmarks" / "curation" / "ccp_split.json"),
            "crop_source": "gt_box", "max_records": 12, "eval_split": "", "size": 48, "widths": "[8, 16, 24]", "fine": 4,
            "steps": 60, "batch_size": 6, "learning_rate": 0.01, "output_dir": str(out), "metrics_dir": str(tmp_path / "m"),
            "progress": "false", "cpu_threads": 1}
    args = ["train", "shoe-prior"]
    for k, v in sets.items():
        args += ["--set", f"train.shoe_prior.{k}={v}"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    card = json.loads((out / "card.json").read_text())
    assert card["data"]["split"] == "train" and len(card["data"]["ids"]) == 12
    import csv

    losses = [float(row["loss"]) for row in csv.DictReader((tmp_path / "m" / "train_log.csv").open())]
    assert np.mean(losses[-2:]) < 0.67 * np.mean(losses[:2]), losses

    import torch

    from shoemodel.models.shoe_prior import ShoePrior
    from shoemodel.training.shoe_prior import ccp
    from shoemodel.training.shoe_prior.data import ShoeCropDataset

    prior = ShoePrior.load(out)
    data = ShoeCropDataset(str(root), card["data"]["ids"], {}, 48, "gt_box", train=False)
    batch = torch.stack([data[i]["pixels"] for i in range(len(data))]).numpy()
    pred = prior.crop_probs(batch) >= 0.5
    gt = np.stack([data[i]["mask"][0].numpy() > 0.5 for i in range(len(data))])
    iou = (pred & gt).sum() / max((pred | gt).sum(), 1)
    assert iou >= 0.35, iou
    assert ccp.ids_hash(card["data"]["ids"]) == card["data"]["ids_sha256"]


def test_samples_weight_hard_negatives_and_cut_legs_above_the_feet(fixtures_dir: Path) -> None:
    """The loss weight is 1 + hard_negative_weight exactly on skin/tights/socks/trouser pixels; with negative_prob 1
    every training sample is the square one side higher (where the footwear share is far lower than at the feet)."""
    root = fixtures_dir / "images" / "ccp"
    if not (root / "photos").is_dir():
        pytest.skip(f"CCP fixture photos not found at {root}")
    from shoemodel.training.shoe_prior import ccp
    from shoemodel.training.shoe_prior.data import ShoeCropDataset

    ids = ccp.load_split(REPO / "benchmarks" / "curation" / "ccp_split.json", "train")[:6]
    plain = ShoeCropDataset(str(root), ids, {}, 48, "gt_box", train=False, hard_negative_weight=3.0)
    weights = np.concatenate([plain[i]["weight"].numpy().ravel() for i in range(len(plain))])
    assert set(np.unique(weights)) <= {1.0, 4.0} and (weights == 4.0).any()
    for i in range(len(plain)):
        it = plain[i]
        assert not ((it["weight"] > 1) & (it["mask"] > 0)).any()  # a shoe pixel is never a hard negative
    legs = ShoeCropDataset(str(root), ids, {}, 48, "gt_box", train=True, negative_prob=1.0, jitter_shift=0, jitter_scale=0)
    feet_share = np.mean([plain[i]["mask"].mean().item() for i in range(len(plain))])
    legs_share = np.mean([legs[(i, 0)]["mask"].mean().item() for i in range(len(legs))])
    assert feet_share > 0.05 and legs_share < 0.3 * feet_share, (feet_share, legs_share)


def test_split_names_join_with_plus_and_a_bad_name_is_one_line(tmp_path: Path) -> None:
    """'train+val' is the refit's ids: train's then val's, none twice; an unknown part names the file and the split."""
    from shoemodel.training.shoe_prior import ccp

    split = tmp_path / "split.json"
    split.write_text('{"splits": {"train": ["0001", "0003"], "val": ["0002", "0003"], "test": ["0004"]}}')
    assert ccp.load_split(split, "train+val") == ["0001", "0003", "0002"]
    assert ccp.load_split(split, "val") == ["0002", "0003"]
    with pytest.raises(ValueError, match=r"split\.json: no split 'train\+tset'"):
        ccp.load_split(split, "train+tset")
