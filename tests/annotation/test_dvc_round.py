"""One annotated round (real Label Studio server) reruns exactly the stages that depend on it, through DVC.

The project's own dvc.yaml / annotation/dvc.yaml / params.yaml run in a scratch copy. The stages that the
round cannot reach are committed on placeholder outputs (training them here would take many minutes and
prove nothing about the graph); the pool, the annotation import and the merge run for real.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.sets import write_pool
from tests.helpers.tiny_wd import save_tiny_wd

pytestmark = [pytest.mark.server, pytest.mark.slow]

#: What one new round must rerun, and nothing else.
#: (`plots` redraws the WD loss curve and Table 5 bars from train_wd / evaluate_wd's outputs.)
CHAIN = {"annotation_import", "merge@wearable_area", "train_wd", "evaluate_wd", "generate", "benchmark", "plots"}


def _run(cmd, cwd, env=None):
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


def _status(proj) -> set[str]:
    out = json.loads(_run(["dvc", "status", "--json"], proj) or "{}")
    # an `always_changed` stage (curate_ingest: it checks its photo folders by content itself) is listed every time
    return {k.split(":")[-1] for k, v in out.items() if v != ["always changed"]}


def _placeholders(proj) -> None:
    """Every stage output (then every data dependency) that does not exist yet gets a stand-in, so `dvc commit`
    can record the graph."""
    from dvc.repo import Repo

    with Repo(str(proj)) as repo:
        stages = list(repo.index.stages)
        for kind in ("outs", "deps"):
            for stage in stages:
                for item in getattr(stage, kind):
                    path = proj / os.path.relpath(item.fs_path, proj)
                    if not path.exists() and (kind == "outs" or path.is_relative_to(proj / "data")):
                        _stand_in(path, stage.addressing)


def _stand_in(path, who: str) -> None:
    if path.suffix in (".json", ".csv", ".jsonl", ".jpg", ".png"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n" if path.suffix == ".json" else f"stand-in for {who}\n")
    else:
        path.mkdir(parents=True)
        (path / "placeholder.txt").write_text(f"stand-in for {who}\n")


def test_one_round_reruns_exactly_merge_train_wd_evaluate_generate_benchmark(repo_root, tmp_path, label_studio):
    if shutil.which("dvc") is None or shutil.which("shoemodel") is None:
        pytest.skip("dvc or the shoemodel command is not on PATH")
    from shoemodel.annotation.brush import mask_to_results
    from shoemodel.annotation.client import connect, iter_tasks
    from shoemodel.annotation.pool import iter_pool
    from shoemodel.schemas.records import decode_image

    url, token, files_root, _ = label_studio
    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("dvc.yaml", "params.yaml", "annotation/dvc.yaml", "annotation/tasks.jsonl",
                 "annotation/review/corrections.jsonl",  # curate_build's review corrections (empty)
                 "benchmarks/annotation/results.json"):  # the committed loop rounds the plots stage draws
        (proj / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repo_root / name, proj / name)
    assert (proj / "annotation/tasks.jsonl").read_text().strip() == ""  # the project ships an empty snapshot
    shutil.copytree(repo_root / "shoemodel", proj / "shoemodel", ignore=shutil.ignore_patterns("__pycache__"))
    _run(["git", "init", "-q"], proj)
    _run(["dvc", "init", "-q"], proj)
    _run(["dvc", "config", "core.analytics", "false"], proj)

    pool = write_pool(proj / "data/sets/wearable_area", 8)  # the pool (build_set's output) is real
    save_tiny_wd(proj / "models/wd")  # a real WD: round 1's pre-annotations come from it
    _placeholders(proj)
    _run(["dvc", "repro", "--single-item", "annotation_import"], proj)  # the real (empty) annotated set
    _run(["dvc", "commit", "--force", "--quiet"], proj)
    assert _status(proj) == set()

    env = {**os.environ, "LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": token}
    workdir = files_root / "dvcround"
    sets = ["--set", f"annotation.workdir={workdir}", "--set", "annotation.image_url_prefix=/data/local-files/?d=dvcround/",
            "--set", "annotation.project_title=dvc round", "--set", "annotation.candidates=8"]
    out = _run(["shoemodel", "annotate", "round", "--n", "3", *sets], proj, env)
    assert "round 1 (uncertainty, 3 images): 3 tasks created" in out, out
    client = connect(url, token)
    pid = json.loads((workdir / "rounds.json").read_text())["project_id"]
    truth = {r["id"]: decode_image(r["area_mask"], "L") for r in iter_pool(pool, columns=["id", "area_mask"])}
    tasks = list(iter_tasks(client, pid))
    assert len(tasks) == 3 and all(t["predictions"][0]["model_version"].startswith("wd-step7-") for t in tasks)
    for t in tasks:  # the annotator corrects the WD pre-annotation to the truth
        client.annotations.create(id=t["id"], result=mask_to_results(truth[t["data"]["record_id"]]), lead_time=2.0)
    out = _run(["shoemodel", "annotate", "import", "--pull-only", *sets], proj, env)
    assert "rounds closed: [1]" in out, out

    changed = _status(proj)
    assert changed == {"annotation_import"}  # only the snapshot is new; nothing downstream has moved yet
    _run(["dvc", "repro", "--single-item", "annotation_import"], proj)
    changed_after_import = _status(proj)
    assert changed_after_import == {"merge@wearable_area"}
    _run(["dvc", "repro", "--single-item", "merge@wearable_area"], proj)
    merged = json.loads((proj / "metrics/sets/merge_wearable_area.json").read_text())
    assert [i["kept"] for i in merged["inputs"]] == [3, 5]  # the 3 annotated records replace their pool copies
    assert _status(proj) == {"train_wd", "evaluate_wd"}  # both read the merged set
    # from the merge on: curate_ingest is always_changed, so a whole-graph --force-downstream would also force the
    # curation chain, which a real repro leaves alone (ingest rewrites nothing when no photo changed)
    dry = _run(["dvc", "repro", "--dry", "--force-downstream", "--downstream", "merge@wearable_area"], proj)
    would_run = {line.split("'")[1] for line in dry.splitlines() if line.startswith("Running stage '")}
    # the next round (annotation/dvc.yaml, run by hand against the server) sits downstream of the retrained WD
    assert "annotation/dvc.yaml:annotation_round" in would_run
    would_run.discard("annotation/dvc.yaml:annotation_round")
    assert changed | changed_after_import | {"merge@wearable_area"} | would_run == CHAIN, dry
    assert would_run == CHAIN - {"annotation_import", "merge@wearable_area"}
    from shoemodel.config import load_section
    from shoemodel.training.wd.config import WDConfig

    wd = load_section(WDConfig, "train.wd", proj / "params.yaml")
    assert Path(wd.train_set).resolve() == (proj / "data/sets/train/wearable_area").resolve()
