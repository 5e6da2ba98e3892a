"""Set merge: de-duplication by content hash, stable splits as sets grow, absent/empty inputs, the CLI and dvc.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from shoemodel.sets.config import MergeConfig, MergeSpec
from shoemodel.sets.merge import merge_sets
from shoemodel.sets.splits import split_for
from shoemodel.store import iter_records, write_set
from tests.helpers.sets import product_record, worn_record


def _write(root, set_name, records):
    write_set(root, set_name, records, lambda r: r, records_per_shard=3, progress=False)
    return str(root)


def _with(rec, **changes):
    return {**rec, **changes}


def _cfg(set_name, inputs, out):
    cfg = MergeConfig(records_per_shard=4)
    setattr(cfg, set_name, MergeSpec([str(p) for p in inputs], str(out)))
    return cfg


def _rows(root):
    return {r["content_hash"]: r for r in iter_records(root)}


def test_duplicates_dropped_first_input_wins_and_held_out_split_wins(tmp_path):
    pool = [product_record(i) for i in range(6)]  # splits: 0 and 5 -> val, others train
    annotated = [_with(pool[1], caption="corrected"), _with(pool[2], split="test")]  # rounds of pool photos
    a = _write(tmp_path / "annotated", "wearable_area", annotated)
    b = _write(tmp_path / "labelled", "wearable_area", pool)
    rep = merge_sets("wearable_area", _cfg("wearable_area", [a, b], tmp_path / "out"), metrics=tmp_path / "m.json")

    rows = _rows(tmp_path / "out")
    assert len(rows) == 6 and rep.num_records == 6
    assert rows[pool[1]["content_hash"]]["caption"] == "corrected"  # the first input's labels
    assert rows[pool[2]["content_hash"]]["split"] == "test"  # held out somewhere: held out here
    assert rows[pool[0]["content_hash"]]["split"] == "val"
    assert [(i.status, i.records, i.kept, i.duplicates) for i in rep.inputs] == [("ok", 2, 2, 0), ("ok", 6, 4, 2)]
    assert rep.splits == {"test": 1, "train": 3, "val": 2}
    prov = json.loads(rows[pool[1]["content_hash"]]["provenance"])
    assert prov["merge"]["input"] == a and prov["seed"] == 1  # the input's provenance is kept, the merge added
    assert json.loads((tmp_path / "m.json").read_text())["inputs"][1]["duplicates"] == 2


def test_splits_stay_put_when_sets_grow(tmp_path):
    def merged(n_curated, n_labelled):
        cur = [worn_record(i) for i in range(n_curated)]  # curation's splits: a hash of the content
        cur = [_with(r, split=split_for(r["content_hash"], 0.2, 0.3)) for r in cur]
        # the labelled set also holds curated photos 0..2 (as train): they stay where curation put them if held out
        lab = [_with(worn_record(100 + i), split="test" if i % 3 == 0 else "train") for i in range(n_labelled)]
        lab += [_with(r, split="train", caption="labelled") for r in cur[:3]]
        cfg = _cfg("shoe_leg", [_write(tmp_path / f"lab{n_labelled}", "shoe_leg", lab),
                                _write(tmp_path / f"cur{n_curated}", "shoe_leg", cur)], tmp_path / f"out{n_curated}")
        merge_sets("shoe_leg", cfg)
        assert all(r["caption"] == "labelled" for r in iter_records(cfg.shoe_leg.out) if r["content_hash"] in
                   {c["content_hash"] for c in cur[:3]})
        return {h: r["split"] for h, r in _rows(cfg.shoe_leg.out).items()}

    small, big = merged(10, 6), merged(40, 12)
    assert len(small) == 16 and len(big) == 52
    assert all(big[h] == s for h, s in small.items())  # nobody moved
    assert {"train", "test"} <= set(big.values())
    ids = [r["id"] for r in iter_records(tmp_path / "out40")]
    assert len(ids) == len(set(ids))


def test_absent_and_empty_inputs_are_recorded_and_ids_stay_unique(tmp_path):
    empty = _write(tmp_path / "empty", "wearable_area", [])
    other = product_record(7)
    same_id = _write(tmp_path / "labelled", "wearable_area", [product_record(3), _with(other, id=product_record(3)["id"])])
    rep = merge_sets("wearable_area", _cfg("wearable_area", [tmp_path / "absent", empty, same_id], tmp_path / "out"))
    assert [i.status for i in rep.inputs] == ["absent", "empty", "ok"]
    ids = [r["id"] for r in iter_records(tmp_path / "out")]
    assert len(ids) == 2 and len(set(ids)) == 2 and rep.inputs[2].renamed_ids == 1

    none = merge_sets("wearable_area", _cfg("wearable_area", [tmp_path / "absent", empty], tmp_path / "out0"))
    assert none.num_records == 0 and list(iter_records(tmp_path / "out0")) == []


def test_bad_inputs_fail_with_the_folder_named(tmp_path):
    (tmp_path / "notaset").mkdir()
    with pytest.raises(FileNotFoundError, match="notaset.*manifest"):
        merge_sets("wearable_area", _cfg("wearable_area", [tmp_path / "notaset"], tmp_path / "out"))
    legs = _write(tmp_path / "legs", "shoe_leg", [worn_record(0)])
    with pytest.raises(ValueError, match="legs: is a shoe_leg set, expected wearable_area"):
        merge_sets("wearable_area", _cfg("wearable_area", [legs], tmp_path / "out"))
    with pytest.raises(ValueError, match="also listed as an input"):
        merge_sets("shoe_leg", _cfg("shoe_leg", [legs], legs))


def test_cli_reads_params_and_resolves_paths(tmp_path):
    from typer.testing import CliRunner

    from shoemodel.cli import app

    _write(tmp_path / "a", "wearable_area", [product_record(i) for i in range(3)])
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"merge": {"wearable_area": {"inputs": ["missing", "a"], "out": "merged"}}}))
    res = CliRunner().invoke(app, ["merge-sets", "wearable_area", "--params", str(params)])
    assert res.exit_code == 0, res.output
    assert "missing: absent" in res.output and "3 records" in res.output
    assert len(list(iter_records(tmp_path / "merged"))) == 3
    (tmp_path / "bad").mkdir()
    res = CliRunner().invoke(app, ["merge-sets", "wearable_area", "--params", str(params), "--set", f"merge.wearable_area.inputs=[{tmp_path / 'bad'}]"])
    assert res.exit_code == 2 and "no manifest.json" in res.output


def test_dvc_stage_deps_are_the_params_inputs(repo_root):
    """dvc.yaml cannot expand a params list into deps, so the merge stage lists them; they must agree with the
    resolved merge order (MergeConfig, unless params.yaml changes it), and every trainer reads a merged set."""
    from shoemodel.config import load_section
    from shoemodel.config_registry import config_class

    stages = yaml.safe_load((repo_root / "dvc.yaml").read_text())["stages"]
    params = repo_root / "params.yaml"

    def rel(p) -> str:
        return Path(p).resolve().relative_to(repo_root.resolve()).as_posix()

    merge = load_section(config_class("merge"), "merge", params)
    for set_name, inputs in stages["merge"]["foreach"].items():
        assert inputs == [rel(p) for p in getattr(merge, set_name).inputs]
    train = {m: load_section(config_class(f"train.{m}"), f"train.{m}", params) for m in ("wd", "lps_keypoints",
                                                                                       "lps_diffusion", "sw")}
    assert rel(train["wd"].train_set) == rel(merge.wearable_area.out) == "data/sets/train/wearable_area"
    for model in ("lps_keypoints", "lps_diffusion", "sw"):
        assert rel(train[model].train_set) == rel(merge.shoe_leg.out) == "data/sets/train/shoe_leg"


def test_dag_puts_training_downstream_of_curation_and_annotation(repo_root):
    """`dvc dag`: the LpS and SW trainers read what curation made, WD what the annotation import made; and the
    default graph has no stage that needs a Label Studio server (the round stage lives in annotation/dvc.yaml)."""
    pytest.importorskip("dvc")
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(repo_root)) as repo:
        graph = repo.index.graph
        by_name = {s.addressing: s for s in graph}
        up = {name: {s.addressing for s in nx.descendants(graph, stage)} for name, stage in by_name.items()}
    for trainer in ("train_lps_keypoints", "train_lps_diffusion", "train_sw"):
        assert {"curate_build", "merge@shoe_leg"} <= up[trainer]
        assert "annotation_import" not in up[trainer]
    assert {"annotation_import", "merge@wearable_area"} <= up["train_wd"] and "curate_build" not in up["train_wd"]
    assert "train_wd" in up["annotation/dvc.yaml:annotation_round"]  # round N+1 waits for the WD of rounds <= N
    root_stages = [s for s in by_name if not s.startswith("annotation/")]
    assert not any("annotation/dvc.yaml:annotation_round" in up[s] for s in root_stages)
