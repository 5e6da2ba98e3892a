"""Every DVC stage's code deps follow its command's imports (shoemodel/dvc_deps.py), so editing a module that a
stage's command imports marks that stage changed in `dvc status`."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import partial
from pathlib import Path

import pytest

from shoemodel import dvc_deps
from shoemodel.config_registry import SECTIONS
from shoemodel.dvc_deps import covered

FIX = "python -m shoemodel.dvc_deps --write"
STAGES = [s for p in dvc_deps.PIPELINES if (dvc_deps.ROOT / p).is_file() for s in dvc_deps.pipeline_deps(p)]


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: f"{s.pipeline}:{s.stage}")
def test_every_imported_module_is_a_dep(stage):
    """The acceptance: each project module the stage's command imports is tracked (the file or a folder above it)."""
    assert stage.needed, f"{stage.stage}: its command imports no project module (is its cmd a `shoemodel` command?)"
    assert not stage.missing, f"{stage.pipeline}:{stage.stage} misses {stage.missing}; run: {FIX}"


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: f"{s.pipeline}:{s.stage}")
def test_code_deps_are_exactly_the_generated_ones(stage):
    """No drift either way: a dep the command no longer imports goes too (it would rerun the stage for nothing)."""
    assert stage.listed == stage.wanted, f"{stage.pipeline}:{stage.stage} extra {stage.extra}; run: {FIX}"


@pytest.mark.parametrize(("cmd", "module"), [
    ("shoemodel curate segment --quiet", "shoemodel/curation/boxes.py"),  # pad_box, through segment_sam
    ("shoemodel train wd", "shoemodel/store/reader.py"),  # through training/data.py
    ("shoemodel train wd", "shoemodel/training/wd/config.py"),  # only named as "module:Class" in a table
    ("shoemodel evaluate wd", "shoemodel/training/metrics/segmentation.py"),  # imported inside a function
    ("shoemodel build-set shoe_leg --labels x --out y", "shoemodel/store/__init__.py"),  # a package runs its __init__
])
def test_the_analysis_follows_lazy_imports_and_module_strings(cmd, module):
    files = {dvc_deps._rel(f) for f in dvc_deps.command_modules(cmd, dvc_deps._cli_tree())}
    assert module in files


def test_commands_do_not_depend_on_other_areas():
    """Only what the command uses: training does not rerun when a curation backend changes, nor the reverse."""
    table = dvc_deps._cli_tree()
    train = {dvc_deps._rel(f) for f in dvc_deps.command_modules("shoemodel train wd", table)}
    curate = {dvc_deps._rel(f) for f in dvc_deps.command_modules("shoemodel curate segment", table)}
    # every command reads every section's config class (shoemodel.config_registry): those light modules, and the
    # backend registry that types curation's `backend` fields, are the only cross-area deps
    graph = dvc_deps._Graph()
    for target in SECTIONS.values():
        graph.use(*target.split(":"))
    shared = {dvc_deps._rel(f) for f in graph.files}
    assert len(shared) < 45, sorted(shared)  # the config classes stay light (40 modules, packages and schemas included)
    assert not [f for f in train - shared if f.startswith("shoemodel/curation/")]
    assert not [f for f in curate - shared if f.startswith("shoemodel/training/")]
    assert not [f for f in train - shared if f.startswith("shoemodel/pipelines/")]


def test_check_names_a_stage_that_misses_a_module(tmp_path, capsys):
    pipeline = tmp_path / "dvc.yaml"
    pipeline.write_text("stages:\n  s:\n    cmd: shoemodel stats data/sets/x\n    deps:\n      - data/sets/x\n"
                        "      - shoemodel/sets/stats.py\n")
    (stage,) = dvc_deps.pipeline_deps(str(pipeline))
    assert "shoemodel/store/reader.py" in stage.missing and stage.extra == []
    assert dvc_deps.write(str(pipeline)) > 0
    (again,) = dvc_deps.pipeline_deps(str(pipeline))
    assert again.listed == again.wanted and not again.missing
    text = pipeline.read_text()
    assert text.index("data/sets/x") < text.index("shoemodel/")  # data deps stay first


def test_a_command_whose_imports_cannot_be_told_is_an_error():
    with pytest.raises(LookupError, match="no `shoemodel` command"):
        dvc_deps.command_modules("shoemodel no-such-command", dvc_deps._cli_tree())
    with pytest.raises(LookupError, match="cannot tell"):
        dvc_deps.command_modules("python scripts/something.py", dvc_deps._cli_tree())


@pytest.mark.slow
def test_dvc_status_sees_an_edit_of_every_imported_module(tmp_path):
    """The real thing: in a copy of the project with every stage committed (empty data stand-ins), edit every module
    and ask `dvc status` which deps changed: each stage must list each module its command imports (or its folder)."""
    if shutil.which("dvc") is None:
        pytest.skip("dvc is not on PATH")
    root = dvc_deps.ROOT
    proj = tmp_path / "proj"
    shutil.copytree(root / "shoemodel", proj / "shoemodel", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("params.yaml", *dvc_deps.PIPELINES):
        (proj / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / name, proj / name)
    run = partial(subprocess.run, cwd=proj, capture_output=True, text=True, check=True)
    run(["git", "init", "-q"])
    run(["dvc", "init", "-q"])
    run(["dvc", "config", "core.analytics", "false"])

    from dvc.repo import Repo

    with Repo(str(proj)) as repo:
        paths = {Path(str(o.fs_path)) for st in repo.index.stages for o in [*st.deps, *st.outs] if not o.def_path.endswith(".yaml")}
    for p in sorted(paths):  # a stand-in for each data path: a folder when another path lies in it
        if p.exists():
            continue
        if any(q != p and p in q.parents for q in paths):
            p.mkdir(parents=True, exist_ok=True)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("")
    run(["dvc", "commit", "-f", "-q"])
    assert json.loads(run(["dvc", "status", "--json"]).stdout) in ({}, {"curate_ingest": ["always changed"]})

    for module in (proj / "shoemodel").rglob("*.py"):
        with module.open("a") as fh:
            fh.write("# edited\n")
    status = json.loads(run(["dvc", "status", "--json"]).stdout)
    for stage in STAGES:
        changed = {}
        for key, entries in status.items():
            if key.split(":")[-1].split("@")[0] == stage.stage:
                changed = {dep for e in entries if isinstance(e, dict) for dep in e.get("changed deps", {})}
                break
        unseen = [m for m in stage.needed if not covered(m, sorted(changed))]
        assert not unseen, f"{stage.pipeline}:{stage.stage}: editing {unseen} changes nothing in `dvc status`"
