"""Rounds against a real Label Studio server: export with predictions, annotate via the API, import back."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import ann_servers as servers
import numpy as np
import pytest

from shoemodel.annotation.brush import mask_to_results, results_to_mask
from shoemodel.annotation.client import LabelStudioError, connect, iter_tasks
from shoemodel.annotation.config import AnnotationConfig
from shoemodel.annotation.importer import build_set
from shoemodel.annotation.ledger import load_ledger
from shoemodel.annotation.rounds import open_session, round_status, run_import, run_round
from shoemodel.schemas.records import decode_image
from shoemodel.store import iter_failures, iter_records
from tests.helpers.sets import write_pool

pytestmark = pytest.mark.server


def _cfg(tmp_path, files_root, title, n_pool=8):
    pool = write_pool(tmp_path / "pool", n_pool)
    workdir = files_root / title  # below Label Studio's document root, so the server can serve the images
    return AnnotationConfig(pool=str(pool), workdir=str(workdir), output=str(tmp_path / "out"), project_title=title,
                            document_root=str(files_root), image_url_prefix="/data/local-files/?d=" + title + "/",
                            round_size=4, seed=1)


def _fix_prefix(cfg):
    # images live under workdir, which is document_root/<title>: serve them relative to document_root
    cfg.document_root = cfg.workdir
    return cfg


def _pool_mask(cfg, rid):
    rec = next(r for r in iter_records(cfg.pool) if r["id"] == rid)
    return decode_image(rec["area_mask"], "L")


def test_round_trip_is_pixel_exact_and_idempotent(tmp_path, label_studio):
    url, token, files_root, _ = label_studio
    cfg = _fix_prefix(_cfg(tmp_path, files_root, "roundtrip"))
    rnd, rep = run_round(cfg, url, token)
    assert rnd.round == 1 and len(rnd.ids) == 4 and rep.created == 4 and rep.images_written == 4 and rnd.selection == "random"

    client = connect(url, token)
    pid = load_ledger(cfg.workdir).project_id
    tasks = {t["data"]["record_id"]: t for t in iter_tasks(client, pid)}
    assert set(tasks) == set(rnd.ids)
    for rid, task in tasks.items():  # pre-annotation = the shoe mask as visible area, exactly
        pred = task["predictions"][0]
        assert pred["model_version"] == "shoe-mask"
        np.testing.assert_array_equal(results_to_mask(pred["result"], 40, 32), (_pool_mask(cfg, rid) > 0).astype(np.uint8))
    # the server really serves the task image
    first = tasks[rnd.ids[0]]
    req = urllib.request.Request(url + first["data"]["image"], headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200 and r.read()[:4] == b"\x89PNG"

    # re-running does not duplicate, and repairs a served image that went missing
    served = sorted(Path(cfg.workdir, "images").rglob("*.png"))
    served[0].unlink()
    rnd2, rep2 = run_round(cfg, url, token)
    assert rnd2.round == 1 and rep2.created == 0 and rep2.existing == 4 and rep2.images_written == 1
    assert served[0].exists()
    assert len(list(iter_tasks(client, pid))) == 4

    # annotators at work: a corrected mask, two annotators on one image, a skip, one left pending
    a, b, c, d = (tasks[i] for i in rnd.ids)
    rng = np.random.default_rng(5)
    sent = rng.integers(0, 3, (32, 40), dtype=np.uint8)
    client.annotations.create(id=a["id"], result=mask_to_results(sent), lead_time=7.5)
    second = client.users.create(username="ann2", email="ann2@example.com", password="secret-pw-123")
    mb = _pool_mask(cfg, b["data"]["record_id"])
    mb2 = mb.copy()
    mb2[:4] = 2
    client.annotations.create(id=b["id"], result=mask_to_results(mb), lead_time=3.0)
    client.annotations.create(id=b["id"], result=mask_to_results(mb2), lead_time=4.0, completed_by=second.id)
    client.annotations.create(id=c["id"], result=[], was_cancelled=True)

    report = run_import(cfg, url, token)
    assert report.records == 2 and report.pending == 1 and report.dropped == {"skipped": 1} and report.failed == []
    assert report.closed_rounds == []
    out = {r["id"]: r for r in iter_records(cfg.output)}
    np.testing.assert_array_equal(decode_image(out[a["data"]["record_id"]]["area_mask"], "L"), sent)
    meta = json.loads(out[a["data"]["record_id"]]["annotation"])
    assert meta["annotators"] == [servers.LS_USER] and meta["round"] == 1 and meta["lead_time_s"] == [7.5]
    assert meta["created_at"][0].startswith("20")
    meta_b = json.loads(out[b["data"]["record_id"]]["annotation"])
    assert sorted(meta_b["annotators"]) == sorted([servers.LS_USER, "ann2@example.com"])
    assert 0 < meta_b["agreement_miou"] < 1 and meta_b["merge_rule"].startswith("per-pixel majority")
    np.testing.assert_array_equal(decode_image(out[b["data"]["record_id"]]["area_mask"], "L"), mb2)  # tie -> latest
    prov = json.loads(out[a["data"]["record_id"]]["provenance"])
    assert prov["seed"] is not None and prov["annotation"]["project_id"] == pid

    # finish the round: it closes, and the next round draws new images
    client.annotations.create(id=d["id"], result=mask_to_results(_pool_mask(cfg, d["data"]["record_id"])))
    report = run_import(cfg, url, token)
    assert report.records == 3 and report.pending == 0 and report.closed_rounds == [1]
    rnd3, rep3 = run_round(cfg, url, token, n=3)
    assert rnd3.round == 2 and rep3.created == 3 and not set(rnd3.ids) & set(rnd.ids)
    status = round_status(cfg, url, token)
    assert [(s["round"], s["status"], s["pending"]) for s in status] == [(1, "closed", 0), (2, "open", 3)]


def test_uncertainty_selection_and_wd_preannotation(tmp_path, label_studio):
    url, token, files_root, _ = label_studio
    cfg = _fix_prefix(_cfg(tmp_path, files_root, "withmodel"))

    def wd(image):  # a model whose confidence depends on the image
        h, w = image.shape[:2]
        p = np.full((h, w, 3), 0.1, np.float32)
        sure = image[10, 10, 0] / 255.0
        p[..., 1] = sure
        p[..., 0] = 1 - sure
        return p

    rnd, rep = run_round(cfg, url, token, n=2, predictor=wd, model_version="wd-test")
    assert rnd.selection == "uncertainty" and rep.created == 2
    expected = {}
    for rec in iter_records(cfg.pool):
        probs = wd(decode_image(rec["shoe_image"], "RGB"))
        shoe = decode_image(rec["area_mask"], "L") > 0
        expected[rec["id"]] = float((1 - probs.max(-1))[shoe].mean())
    assert sorted(rnd.ids) == sorted(sorted(expected, key=expected.get, reverse=True)[:2])
    assert rnd.scores == pytest.approx({i: expected[i] for i in rnd.ids})
    client = connect(url, token)
    for t in iter_tasks(client, load_ledger(cfg.workdir).project_id):
        assert t["predictions"][0]["model_version"] == "wd-test"


def test_server_down_and_wrong_token_are_clear(tmp_path, label_studio):
    url, token, files_root, _ = label_studio
    cfg = _fix_prefix(_cfg(tmp_path, files_root, "badinput"))
    with pytest.raises(LabelStudioError, match="cannot reach"):
        run_round(cfg, f"http://127.0.0.1:{servers.free_port()}", token)
    with pytest.raises(LabelStudioError, match="rejected the API token"):
        run_round(cfg, url, "not-the-token")
    assert not (tmp_path / "out").exists() and load_ledger(cfg.workdir).rounds == []  # nothing written


def test_unknown_label_and_gone_image_fail_clearly_and_rerun_recovers(tmp_path, label_studio):
    url, token, files_root, _ = label_studio
    cfg = _fix_prefix(_cfg(tmp_path, files_root, "badtasks", n_pool=6))
    rnd, _ = run_round(cfg, url, token, n=3)
    s = open_session(cfg, url, token)
    tasks = {t["data"]["record_id"]: t for t in iter_tasks(s.client, s.project.id)}
    good, sock, gone = (tasks[i] for i in rnd.ids)
    for t in (good, gone):
        s.client.annotations.create(id=t["id"], result=mask_to_results(_pool_mask(cfg, t["data"]["record_id"])))
    bad = mask_to_results(_pool_mask(cfg, sock["data"]["record_id"]))
    bad[0]["value"]["brushlabels"] = ["Sock"]
    bad_ann = s.client.annotations.create(id=sock["id"], result=bad)

    # the image of one task is gone from the pool
    gone_index = int(gone["data"]["record_id"].split("/")[1])
    small_pool = write_pool(tmp_path / "pool-missing", 6, skip=(gone_index,))
    cfg.pool = str(small_pool)
    report = run_import(cfg, url, token)
    assert report.records == 1
    assert len(report.failed) == 2
    assert any("Sock" in f and str(sock["id"]) in f for f in report.failed)
    assert any("image gone" in f and gone["data"]["record_id"] in f for f in report.failed)
    assert {f.kind for f in iter_failures(cfg.output)} == {"failed"}

    # fix both (relabel in Label Studio, restore the pool) and re-run: everything comes in
    s.client.annotations.update(id=bad_ann.id, result=mask_to_results(_pool_mask(cfg, sock["data"]["record_id"])))
    cfg.pool = str(tmp_path / "pool")
    report = run_import(cfg, url, token)
    assert report.records == 3 and report.failed == []


def test_build_set_is_resumable_from_snapshot_without_server(tmp_path, label_studio):
    """After an import, the set can be rebuilt from the snapshot alone (what the DVC build stage does)."""
    url, token, files_root, _ = label_studio
    cfg = _fix_prefix(_cfg(tmp_path, files_root, "snapshot", n_pool=4))
    rnd, _ = run_round(cfg, url, token, n=2)
    s = open_session(cfg, url, token)
    for t in iter_tasks(s.client, s.project.id):
        s.client.annotations.create(id=t["id"], result=mask_to_results(_pool_mask(cfg, t["data"]["record_id"])))
    run_import(cfg, url, token)
    report = build_set(f"{cfg.workdir}/tasks.jsonl", cfg.pool, tmp_path / "rebuilt")
    assert report.records == 2
    a = sorted((r["id"], r["area_mask"]) for r in iter_records(cfg.output))
    b = sorted((r["id"], r["area_mask"]) for r in iter_records(tmp_path / "rebuilt"))
    assert a == b


def test_cli_round_import_status_and_clear_errors(tmp_path, label_studio, monkeypatch):
    import yaml
    from typer.testing import CliRunner

    from shoemodel.cli import app

    url, token, files_root, _ = label_studio
    cfg = _fix_prefix(_cfg(tmp_path, files_root, "clirounds", n_pool=5))
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"annotation": {
        "pool": cfg.pool, "workdir": cfg.workdir, "output": cfg.output, "project_title": cfg.project_title,
        "document_root": cfg.document_root, "image_url_prefix": cfg.image_url_prefix, "round_size": 2}}))
    monkeypatch.setenv("LABEL_STUDIO_URL", url)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", token)
    runner = CliRunner()
    r = runner.invoke(app, ["annotate", "round", "--params", str(params)])
    assert r.exit_code == 0, r.output
    assert "round 1 (random, 2 images): 2 tasks created" in r.output
    r = runner.invoke(app, ["annotate", "round", "--params", str(params)])
    assert r.exit_code == 0 and "0 tasks created, 2 already there" in r.output
    r = runner.invoke(app, ["annotate", "status", "--params", str(params)])
    assert "round=1  status=open" in r.output and "pending=2" in r.output
    r = runner.invoke(app, ["annotate", "import", "--params", str(params)])
    assert r.exit_code == 0 and "0 records written" in r.output and "2 tasks pending" in r.output
    r = runner.invoke(app, ["annotate", "round", "--params", str(params), "--new", "--n", "1",
                            "--predictor", "tests.helpers.standins:probability_predictor"])
    assert r.exit_code == 0 and "round 2 (uncertainty, 1 images): 1 tasks created" in r.output, r.output
    r = runner.invoke(app, ["annotate", "round", "--params", str(params), "--predictor", "no_such_module:f"])
    assert r.exit_code == 1 and "cannot load WD predictor" in r.output
    r = runner.invoke(app, ["annotate", "round", "--params", str(params), "--token", "wrong"])
    assert r.exit_code == 1 and "rejected the API token" in r.output


def test_earlier_project_is_upgraded_and_smart_prompts_in_an_annotation_are_ignored(tmp_path, label_studio):
    """A project made with the brush-only config of earlier versions gets the smart keypoint / rectangle prompt
    tools (Label Studio validates the new config against its annotations); an annotation that still holds
    the annotator's SAM prompts imports as its brushes only."""
    from shoemodel.annotation.client import get_or_create_project
    from shoemodel.annotation.labeling import PROMPT_BOX, PROMPT_POINT, TO_NAME, earlier_label_configs, label_config

    url, token, files_root, _ = label_studio
    client = connect(url, token)
    title = "upgrade"
    old = client.projects.create(title=title, label_config=earlier_label_configs()[0])
    cfg = _fix_prefix(_cfg(tmp_path, files_root, title))
    rnd, _ = run_round(cfg, url, token)  # finds the old project by title and upgrades it
    project = client.projects.get(id=old.id)
    assert load_ledger(cfg.workdir).project_id == old.id
    assert "".join(project.label_config.split()) == "".join(label_config().split())
    assert get_or_create_project(client, title).id == old.id  # idempotent

    task = next(t for t in iter_tasks(client, old.id) if t["data"]["record_id"] == rnd.ids[0])
    mask = _pool_mask(cfg, rnd.ids[0])
    prompts = [{"type": "keypointlabels", "from_name": PROMPT_POINT, "to_name": TO_NAME, "original_width": 40,
                "original_height": 32, "value": {"x": 50, "y": 50, "width": 1, "keypointlabels": ["Wearable"]}},
               {"type": "rectanglelabels", "from_name": PROMPT_BOX, "to_name": TO_NAME, "original_width": 40,
                "original_height": 32, "value": {"x": 10, "y": 10, "width": 50, "height": 50, "rotation": 0,
                                                 "rectanglelabels": ["Visible"]}}]
    client.annotations.create(id=task["id"], result=mask_to_results(mask) + prompts, lead_time=2.0)
    report = run_import(cfg, url, token)
    assert report.records == 1 and report.failed == []
    out = next(iter_records(cfg.output))
    np.testing.assert_array_equal(decode_image(out["area_mask"], "L"), mask)
