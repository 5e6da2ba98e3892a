"""A real Dask cluster from its command-line tools: `dask scheduler` + two `dask worker --resources GPU=1 --nworkers 1`.

`shoemodel curate run --address` runs on it; one worker is killed (SIGKILL, with its nanny) in the middle of the
pose stage; the run finishes on the other and builds the same set as an in-process run. Every worker process
builds each stage's model once (its note in runtime_log.loads_path(<stage>)), and a task is one part.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from shoemodel.curation import runtime_log
from shoemodel.curation.pipeline import run_all
from shoemodel.store import iter_records

DASK = Path(sys.executable).with_name("dask")


def _photos(fixtures_dir: Path) -> list[str]:
    imgs = fixtures_dir / "images"
    files = sorted((imgs / "mmpose" / "coco").glob("*.jpg")) + sorted((imgs / "ultralytics_samples").glob("*.jpg"))
    if len(files) < 6:
        pytest.skip("fixture photos missing")
    return [str(f) for f in files]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES", "")}
    return subprocess.Popen([str(DASK), *args], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.fixtures
@pytest.mark.server
@pytest.mark.slow
def test_scheduler_and_two_gpu_workers_survive_a_killed_worker(tmp_path: Path, fixtures_dir: Path, yolox_weights: Path,
                                                               photo_config, mediapipe_installed) -> None:
    import dataclasses

    from distributed import Client

    if not DASK.exists():
        pytest.skip(f"no dask command-line tool beside {sys.executable}")
    cfg = photo_config(tmp_path / "ref" / "work", _photos(fixtures_dir), yolox_weights)
    cfg.ingest.part_size = 1  # 6 parts: a part is a task, so the kill lands with parts left to do
    run_all(cfg, tmp_path / "ref" / "set")
    reference = sorted(iter_records(tmp_path / "ref" / "set"), key=lambda r: r["id"])
    assert len(reference) >= 3

    sched_file = tmp_path / "scheduler.json"
    procs = {"scheduler": _start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(sched_file)], tmp_path / "scheduler.log")}
    try:
        deadline = time.time() + 60
        while not sched_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for name in ("a", "b"):
            procs[name] = _start(["worker", address, "--resources", "GPU=1", "--nworkers", "1", "--nthreads", "1",
                                  "--no-dashboard", "--name", f"gpu-{name}"], tmp_path / f"worker-{name}.log")
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
            assert {w["resources"].get("GPU") for w in client.scheduler_info()["workers"].values()} == {1}
            # warm imports, so the kill below lands in the pose stage rather than in start-up
            client.run(lambda: __import__("shoemodel.curation.stages"))

        work, out = tmp_path / "work", tmp_path / "set"
        params = {"curation": {"work_dir": str(work), "progress": False,
                               **{k: dataclasses.asdict(getattr(cfg, k)) for k in ("ingest", "detect", "pose", "segment", "build")}}}
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
        cmd = [sys.executable, "-m", "shoemodel.cli", "curate", "run", "--params", str(tmp_path / "params.yaml"),
               "--address", address, "--work-dir", str(work), "--out", str(out), "--quiet"]
        run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        pose_parts = work / "pose" / "parts"
        deadline = time.time() + 180
        while time.time() < deadline and run.poll() is None and not list(pose_parts.glob("part-*.parquet")):
            time.sleep(0.02)
        assert run.poll() is None, "the run finished before a worker could be killed"
        _stop(procs.pop("a"))  # worker and nanny, mid-pose
        n_at_kill = len(list(pose_parts.glob("part-*.parquet")))
        text, _ = run.communicate(timeout=300)
        assert run.returncode == 0, text[-3000:]
    finally:
        for p in procs.values():
            _stop(p)

    n_parts = len(list((work / "ingest" / "parts").glob("part-*.parquet")))
    assert 1 <= n_at_kill < n_parts  # the kill came with pose parts still to do
    got = sorted(iter_records(out), key=lambda r: r["id"])
    assert [(r["id"], r["keypoints"], r["shoe_mask"], r["provenance"]) for r in got] == \
           [(r["id"], r["keypoints"], r["shoe_mask"], r["provenance"]) for r in reference]
    for stage in ("detect", "pose", "segment"):
        builds = json.loads(runtime_log.loads_path(work / stage).read_text())["model_builds_per_process"]
        assert builds and set(builds.values()) == {1}, (stage, builds)  # one model build per worker process
        assert len(list((work / stage / "parts").glob("part-*.parquet"))) == n_parts  # one task = one part
    assert len(json.loads(runtime_log.loads_path(work / "segment").read_text())["model_builds_per_process"]) <= 2
