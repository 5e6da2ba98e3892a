"""The SW-vs-diffusers benchmark at tiny CPU shapes: both trainers run, samples/s of each and the ratio are
printed, and the two losses at step 1 agree (same model, same batch, same noise).

diffusers' examples/controlnet/train_controlnet.py is not in the wheel; point
$SHOEMODEL_DIFFUSERS_CONTROLNET_SCRIPT at it (from the diffusers repository at the release nearest the
installed one). The test skips when it is not there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = os.environ.get("SHOEMODEL_DIFFUSERS_CONTROLNET_SCRIPT", "")


@pytest.mark.slow
@pytest.mark.skipif(not (SCRIPT and Path(SCRIPT).is_file()),
                    reason="diffusers' train_controlnet.py not found: set SHOEMODEL_DIFFUSERS_CONTROLNET_SCRIPT "
                           "(examples/controlnet/train_controlnet.py of the diffusers repository)")
def test_both_trainers_run_and_agree_at_step_one(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks/sw/bench_vs_diffusers.py"), "--reference-script", SCRIPT,
                           "--steps", "4", "--warmup", "1", "--records", "8", "--work", str(tmp_path / "work"),
                           "--out", str(out)], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "ratio ours/reference" in proc.stdout
    rec = json.loads(out.read_text())
    assert rec["step1_loss"]["agree"] and rec["step1_loss"]["token_ids_equal"]
    assert rec["reference"]["steps"] == rec["ours"]["steps"] == 4
    assert rec["reference"]["samples_per_second"] > 0 and rec["ours"]["samples_per_second"] > 0
    assert rec["ours"]["latent_cache"]
