"""Multi-process training (accelerate launch, 2 CPU processes over gloo) for all four trainers: 2 processes x
batch b follow the loss curve of 1 process x batch 2b, and a run interrupted and resumed under 2 processes
continues that curve.

Why they can match: the sampler gives process k the k-th slice of each global micro-batch, noise/timesteps/
prompt drops are drawn for the global micro-batch and sliced (`StepRandom`), gradients are averaged over
processes and the logged loss is the global batch's mean. What stays per process on CPU: dropout / drop-path
masks and BatchNorm statistics (SyncBatchNorm needs a GPU), which WD's Segformer has; WD is compared at a
tolerance that allows for them, the others (no dropout, no BatchNorm in these configs) tightly.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
B = 2  # per-process batch under 2 processes; the single process gets 2 * B
STEPS = 4
# rel. tolerance per trainer: reduction order only, except WD (per-process drop-path masks and BatchNorm statistics)
RTOL = {"wd": 0.05, "lps_keypoints": 1e-4, "lps_diffusion": 1e-4, "sw": 1e-4}


def _configs(kind: str, out: Path, data: dict[str, Path], batch: int, sw_base: Path) -> dict:
    common = dict(output_dir=str(out / kind), metrics_dir=str(out / f"m_{kind}"), steps=STEPS, batch_size=batch,
                  num_workers=0, progress=False, log_every=1, mixed_precision="no", warmup_steps=1, learning_rate=1e-3,
                  checkpoint_every=0, cpu_threads=1)
    if kind == "wd":
        return dict(train_set=str(data["wearable"]), model_size="tiny", image_size=32, **common)
    if kind == "lps_keypoints":
        return dict(train_set=str(data["shoe_leg"]), model_size="tiny", image_size=64, **common)
    if kind == "lps_diffusion":
        return dict(train_set=str(data["shoe_leg"]), hidden_size=32, num_blocks=1, time_embed_dim=16, dropout=0.0, **common)
    return dict(train_set=str(data["shoe_leg"]), base_model=str(sw_base), resolution=32, validation_every=0,
                num_validation_images=0, empty_prompt_prob=0.5, latent_cache=str(out / "sw_cache"), **common)


def _curve(metrics_dir: Path) -> dict[int, float]:
    with (metrics_dir / "train_log.csv").open() as fh:
        return {int(r["step"]): float(r["loss"]) for r in csv.DictReader(fh)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(spec: dict, path: Path) -> None:
    path.write_text(json.dumps(spec))
    accelerate = shutil.which("accelerate") or str(Path(sys.executable).parent / "accelerate")
    cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
           str(ROOT / "tests/helpers/launch_trainers.py"), str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.mark.slow
def test_two_processes_follow_one_process_at_twice_the_batch_and_resume(tmp_path, wearable_set, shoe_leg_set):
    from accelerate.state import AcceleratorState

    from shoemodel.models.sw.tiny import make_tiny_base_model
    from tests.helpers.launch_trainers import TRAINERS, run

    data = {"wearable": wearable_set, "shoe_leg": shoe_leg_set}
    sw_base = make_tiny_base_model(tmp_path / "sw_base", resolution=32)
    kinds = list(TRAINERS)
    one = {}
    for kind in kinds:  # the reference: one process, batch 2B, uninterrupted
        AcceleratorState._reset_state(True)
        run(kind, _configs(kind, tmp_path / "one", data, 2 * B, sw_base))
        one[kind] = _curve(tmp_path / "one" / f"m_{kind}")
    AcceleratorState._reset_state(True)
    # two processes, batch B: stopped after step 2, then resumed to the end (a second launch)
    two = [{"kind": k, "config": _configs(k, tmp_path / "two", data, B, sw_base)} for k in kinds]
    _launch({"runs": [{**r, "config": {**r["config"], "stop_at": 2}} for r in two]}, tmp_path / "leg1.json")
    for kind in kinds:
        assert json.loads((tmp_path / "two" / kind / "training_state" / "step.json").read_text())["step"] == 2
    _launch({"runs": two}, tmp_path / "leg2.json")
    for kind in kinds:
        curve = _curve(tmp_path / "two" / f"m_{kind}")
        assert list(curve) == list(range(1, STEPS + 1)), kind
        worst = max(abs(curve[s] - v) / abs(v) for s, v in one[kind].items())
        print(f"{kind}: 1 x {2 * B} {list(one[kind].values())}; 2 x {B} {list(curve.values())}; max rel. diff {worst:.2e}")
        for step, loss in one[kind].items():
            assert curve[step] == pytest.approx(loss, rel=RTOL[kind]), f"{kind} step {step}: {curve[step]} vs {loss}"
        summary = json.loads((tmp_path / "two" / f"m_{kind}" / "train.json").read_text())
        assert summary["resumed_from"] == 2 and summary["steps"] == STEPS
