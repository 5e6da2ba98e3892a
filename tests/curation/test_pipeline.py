"""End to end on real photos: inline vs a real 2-worker LocalCluster, and a killed run resumed (via the CLI)."""

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

from shoemodel.curation.pipeline import executor_config, run_all
from shoemodel.parallel import executor_from_config
from shoemodel.schemas.records import validate_record
from shoemodel.store import iter_records, read_manifest


def _photos(people_photos: list[Path]) -> list[str]:
    return [str(f) for f in people_photos] + [str(people_photos[0])]  # one exact duplicate on purpose


def _records(root: Path) -> list[dict]:
    return sorted(iter_records(root), key=lambda r: r["id"])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, people_photos: list[Path], yolox_weights: Path, photo_config, mediapipe_installed) -> dict:
    """One uninterrupted in-process run over the fixture photos (the comparison baseline)."""
    d = tmp_path_factory.mktemp("ref")
    cfg = photo_config(d / "work", _photos(people_photos), yolox_weights)
    summary = run_all(cfg, d / "set")
    return {"cfg": cfg, "summary": summary, "set": d / "set", "records": _records(d / "set")}


@pytest.mark.fixtures
def test_inline_run_builds_valid_shoe_leg_records(reference: dict) -> None:
    s = reference["summary"]
    assert s["ingest"]["inputs"] == 7 and s["ingest"]["dropped"] == {"duplicate": 1}
    assert s["detect"]["inputs"] == 6
    for a, b in zip(("ingest", "detect", "pose"), ("detect", "pose", "segment")):
        assert s[b]["inputs"] == s[a]["kept"]  # every kept row reaches the next stage: nothing lost
    assert s["build"]["inputs"] >= s["segment"]["kept"]  # build: one item per kept person of each photo
    assert s["build"]["failed"] == {} and s["build"]["dropped"] == {}  # every kept person becomes a record
    assert s["build"]["kept"] > s["segment"]["kept"]  # bus.jpg: several persons, one record each
    recs = reference["records"]
    assert len(recs) == s["build"]["kept"] >= 3  # the COCO walkers and bus.jpg have both feet in view
    assert read_manifest(reference["set"]).num_records == len(recs)
    for r in recs:
        validate_record(r, "shoe_leg")
        prov = json.loads(r["provenance"])
        assert prov["detect"]["backend"] == "yolox_onnx" and prov["mask_source"] == reference["cfg"].segment.backend
        assert prov["thresholds"]["pose"]["min_point_score"] == reference["cfg"].pose.min_point_score
    assert len({r["id"] for r in recs}) == len(recs)  # several persons of one photo: one record each, own id
    assert {r["id"][:24] for r in recs} == {r["content_hash"][:24] for r in recs}


@pytest.mark.slow  # ~35 s; the by-address test below runs the same stages on a LocalCluster too
@pytest.mark.fixtures
@pytest.mark.server
def test_local_dask_cluster_gives_the_same_records(reference: dict, tmp_path: Path) -> None:
    import dataclasses

    cfg = dataclasses.replace(reference["cfg"], work_dir=str(tmp_path / "work"))
    cfg.executor = dataclasses.replace(cfg.executor, kind="local", n_workers=2, threads_per_worker=1)
    with executor_from_config(executor_config(cfg)) as ex:
        assert len(ex.client.scheduler_info()["workers"]) == 2
        summary = run_all(cfg, tmp_path / "set", ex)
    assert summary == reference["summary"]
    assert _records(tmp_path / "set") == reference["records"]


@pytest.mark.fixtures
def test_killed_run_resumes_to_the_identical_set(reference: dict, tmp_path: Path) -> None:
    """A real `shoemodel curate run` subprocess is SIGKILLed mid-pose, rerun, and compared with the uninterrupted run."""
    import dataclasses

    cfg = reference["cfg"]
    params = {"curation": {"work_dir": str(tmp_path / "work"), "progress": False,
                           **{k: dataclasses.asdict(getattr(cfg, k)) for k in ("ingest", "detect", "pose", "segment", "build")}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    cmd = [sys.executable, "-m", "shoemodel.cli", "curate", "run", "--params", str(tmp_path / "params.yaml"),
           "--out", str(tmp_path / "set"), "--work-dir", str(tmp_path / "work"), "--quiet"]
    env = dict(os.environ)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    pose_parts = tmp_path / "work" / "pose" / "parts"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(pose_parts.glob("part-*.parquet")):
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    n_done = len(list(pose_parts.glob("part-*.parquet")))
    n_total = len(list((tmp_path / "work" / "ingest" / "parts").glob("part-*.parquet")))
    assert 1 <= n_done < n_total, (n_done, n_total)  # killed mid-stage
    assert not (tmp_path / "set" / "manifest.json").exists()
    mtime = (pose_parts / "part-000000.parquet").stat().st_mtime_ns
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (pose_parts / "part-000000.parquet").stat().st_mtime_ns == mtime  # finished parts were kept, not redone
    assert _records(tmp_path / "set") == reference["records"]
    assert read_manifest(tmp_path / "set").num_records == len(reference["records"])


@pytest.mark.fixtures
@pytest.mark.server
def test_existing_cluster_by_address_runs_gpu_stages_on_gpu_workers(reference: dict, tmp_path: Path) -> None:
    """A scheduler started elsewhere (here: a LocalCluster whose workers offer GPU=1), reached by its address."""
    import dataclasses

    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                      resources={"GPU": 1}) as cluster:
        cfg = dataclasses.replace(reference["cfg"], work_dir=str(tmp_path / "work"))
        cfg.executor = dataclasses.replace(cfg.executor, kind="address", address=cluster.scheduler_address)
        with executor_from_config(executor_config(cfg)) as ex:
            summary = run_all(cfg, tmp_path / "set", ex, stages=("ingest", "detect"))
    assert summary["detect"] == reference["summary"]["detect"]


def test_the_stage_table_gives_the_run_order_the_join_and_the_provenance() -> None:
    """Each stage is declared once; run_all's order, a part's join, the GPU guard and the thresholds read the table."""
    import inspect

    from shoemodel.curation.config import CurationConfig
    from shoemodel.curation.stages import STAGES, lineage, stage, stage_names, thresholds

    names = stage_names()
    assert names == ("ingest", "detect", "pose", "segment", "build")
    assert inspect.signature(run_all).parameters["stages"].default == names
    for i, s in enumerate(STAGES):
        assert s.upstream is None if i == 0 else s.upstream in names[:i]  # every stage reads an earlier one
        assert s.config in CurationConfig.__dataclass_fields__
        model_stage = s.run is None  # model stages go through the one part runner and need all of these
        assert model_stage == all(f is not None for f in (s.schema, s.build_model, s.rows, s.describe))
    assert lineage("segment") == ("ingest", "detect", "pose", "segment")
    assert [s.name for s in STAGES if s.gpu] == ["detect", "pose", "segment"]
    assert list(thresholds(CurationConfig())) == ["ingest", "detect", "pose", "segment"]
    with pytest.raises(ValueError, match="unknown curation stage 'train'"):
        stage("train")
