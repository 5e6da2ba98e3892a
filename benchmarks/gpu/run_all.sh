#!/usr/bin/env bash
# Every GPU measurement of the project, in one run of under 8 minutes, written to benchmarks/gpu/results.json.
#
#   bash benchmarks/gpu/run_all.sh            (from the repository root, on a machine with a CUDA GPU)
#
# YOLOX runs on the GPU only with onnxruntime-gpu installed (else on the CPU; results.json says which provider).
# Each step has its own time limit, so one slow or failing step cannot take the others' time; a step that fails
# is recorded as failed with its exit status. Figures produced here go into docs/benchmarks.md together with
# this command and the GPU's name (results.json has both); nothing is claimed without such a run.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TQDM_DISABLE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 YOLO_OFFLINE=1
PY=${PYTHON:-python}
OUT=benchmarks/gpu
mkdir -p "$OUT/steps"
START=$(date +%s)

if ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "no CUDA GPU visible to torch: nothing measured" >&2
  exit 2
fi
GPU_NAME=$($PY -c "import torch; print(torch.cuda.get_device_name())")
echo "GPU: $GPU_NAME"

step() {  # step NAME LIMIT_SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local t0=$(date +%s)
  echo "== $name (limit ${limit}s): $*"
  timeout --kill-after=10 "$limit" "$@" > "$OUT/steps/$name.log" 2>&1
  local rc=$?
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $(( $(date +%s) - t0 )), \"command\": \"$*\"}" > "$OUT/steps/$name.status.json"
  tail -n 30 "$OUT/steps/$name.log"
}

# --- issue 16: curation at real model sizes (random weights), naive vs batched vs fused vs bare forward -------------
step curation_sam_vit_b 170 $PY benchmarks/curation/throughput.py --real-sizes --sam vit_b --device cuda --dtype auto \
     --n 64 --batch 16 --threads 4 --no-cluster --out results_gpu_vit_b
step curation_sam_vit_h 200 $PY benchmarks/curation/throughput.py --real-sizes --sam vit_h --device cuda --dtype auto \
     --n 64 --batch 16 --threads 4 --no-cluster --out results_gpu_vit_h

# --- HOOK (issue 14): the SW training benchmark against diffusers -------------------------------------------------
# benchmarks/sw/bench_vs_diffusers.py belongs to the SW training work; it is called here when present, with the
# GPU flags it defines (SW_BENCH_ARGS overrides them). It must write its own JSON (path given by --out).
if [ -f benchmarks/sw/bench_vs_diffusers.py ]; then
  step sw_vs_diffusers 150 $PY benchmarks/sw/bench_vs_diffusers.py ${SW_BENCH_ARGS:---device cuda --out "$OUT/steps/sw_vs_diffusers.json"}
else
  echo "{\"step\": \"sw_vs_diffusers\", \"rc\": null, \"skipped\": \"benchmarks/sw/bench_vs_diffusers.py not present\"}" \
    > "$OUT/steps/sw_vs_diffusers.status.json"
fi
# --- END HOOK ------------------------------------------------------------------------------------------------------

$PY - "$GPU_NAME" "$START" <<'PY'
import json, sys, time
from pathlib import Path

gpu, start = sys.argv[1], int(sys.argv[2])
out = {"gpu": gpu, "command": "bash benchmarks/gpu/run_all.sh", "total_seconds": int(time.time()) - start, "steps": {}}
for status in sorted(Path("benchmarks/gpu/steps").glob("*.status.json")):
    s = json.loads(status.read_text())
    out["steps"][s["step"]] = s
for name, stem in (("curation_sam_vit_b", "results_gpu_vit_b"), ("curation_sam_vit_h", "results_gpu_vit_h")):
    f = Path("benchmarks/curation") / f"{stem}.json"
    if f.exists() and name in out["steps"] and out["steps"][name]["rc"] == 0:
        out["steps"][name]["results"] = json.loads(f.read_text())
sw = Path("benchmarks/gpu/steps/sw_vs_diffusers.json")
if sw.exists():
    out["steps"].setdefault("sw_vs_diffusers", {})["results"] = json.loads(sw.read_text())
Path("benchmarks/gpu/results.json").write_text(json.dumps(out, indent=2) + "\n")
print(f"wrote benchmarks/gpu/results.json ({out['total_seconds']} s)")
PY
