"""Run several trainers one after another in this process group: the script `accelerate launch` starts in the
multi-process tests (one launch for all four trainers keeps the start-up cost of 2 processes to once).

    accelerate launch --multi_gpu --num_processes 2 tests/helpers/launch_trainers.py spec.json

spec.json: {"runs": [{"kind": "wd" | "lps_keypoints" | "lps_diffusion" | "sw", "config": {...}}, ...]}; each
config is passed to the trainer's config class as keyword arguments.
"""

from __future__ import annotations

import json
import sys
from importlib import import_module

TRAINERS = {
    "wd": ("shoemodel.training.wd.config:WDConfig", "shoemodel.training.wd.train:train_wd"),
    "lps_keypoints": ("shoemodel.training.lps_keypoints.config:FootKeypointsConfig",
                      "shoemodel.training.lps_keypoints.train:train_lps_keypoints"),
    "lps_diffusion": ("shoemodel.training.lps_diffusion.config:LegDiffusionConfig",
                      "shoemodel.training.lps_diffusion.train:train_lps_diffusion"),
    "sw": ("shoemodel.training.sw.config:SWConfig", "shoemodel.training.sw.train:train_sw"),
}


def _load(target: str):
    module, name = target.split(":")
    return getattr(import_module(module), name)


def run(kind: str, config: dict) -> dict:
    """Train `kind` with `config`; returns the engine's summary."""
    cfg_cls, train = (_load(t) for t in TRAINERS[kind])
    return train(cfg_cls(**config))


def main(path: str) -> None:
    spec = json.loads(open(path).read())
    for item in spec["runs"]:
        run(item["kind"], item["config"])


if __name__ == "__main__":
    main(sys.argv[1])
