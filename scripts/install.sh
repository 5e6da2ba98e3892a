#!/usr/bin/env bash
# Install shoemodel and everything its pipeline and tests need into ./.venv (CPU, offline-friendly).
# torch is pinned to the 2.13.0 CPU wheel; any unpinned torch would pull a CUDA build of several GB.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${SHOEMODEL_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --disable-pip-version-check -U pip wheel "setuptools<81"
$PIP install -q --disable-pip-version-check torch==2.13.0
$PIP install -q --disable-pip-version-check -c .ci/constraints.txt -e ".[all]"
# MediaPipe 0.10.21 is the last wheel that ships the BlazePose weights (offline pose on real photos).
# Its declared pins (numpy<2, protobuf<5, opencv-contrib) fight the rest of the stack, so it goes in
# without its dependencies; the few it needs at run time come from the curation extra.
$PIP install -q --disable-pip-version-check --no-deps mediapipe==0.10.21 || echo "warning: mediapipe==0.10.21 not installed; the MediaPipe pose backend will be unavailable" >&2
"$VENV/bin/dvc" config --local core.analytics false 2>/dev/null || true
echo "installed into $VENV"
