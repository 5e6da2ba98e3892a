#!/usr/bin/env bash
# SW / training GPU measurements, for the project's one GPU script (benchmarks/gpu/) to call.
#
#   benchmarks/sw/gpu.sh OUT_DIR [REFERENCE_SCRIPT]
#
# Writes OUT_DIR/sw_vs_diffusers.json (our SW trainer vs diffusers' examples/controlnet/train_controlnet.py at
# SD 1.5 shapes, random weights, 512 px, batch 8, bf16) and OUT_DIR/training_throughput.json (samples/s of
# WD, LpS 1/2 and SW at real-run sizes, random init). REFERENCE_SCRIPT defaults to
# $SHOEMODEL_DIFFUSERS_CONTROLNET_SCRIPT; without it the comparison is skipped with a message (nothing is
# downloaded). SW_GPU_STEPS (default 30) sets the comparison's steps per trainer (10 warm-up steps are left out).
# About 4-5 minutes on one large GPU (most of it building and saving the random SD 1.5 folder and compiling).
set -euo pipefail
OUT=${1:?usage: benchmarks/sw/gpu.sh OUT_DIR [REFERENCE_SCRIPT]}
REF=${2:-${SHOEMODEL_DIFFUSERS_CONTROLNET_SCRIPT:-}}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$OUT"
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ -n "$REF" ] && [ -f "$REF" ]; then
  python "$HERE/benchmarks/sw/bench_vs_diffusers.py" --reference-script "$REF" --gpu-shapes \
    --steps "${SW_GPU_STEPS:-30}" --threads 0 --out "$OUT/sw_vs_diffusers.json" \
    || echo "sw_vs_diffusers: failed (exit $?)" >&2
else
  echo "sw_vs_diffusers: skipped: no reference script (pass diffusers' examples/controlnet/train_controlnet.py)" >&2
fi
python "$HERE/benchmarks/training/throughput.py" --gpu --steps 20 --out "$OUT/training_throughput.json" \
  || echo "training_throughput: failed (exit $?)" >&2
