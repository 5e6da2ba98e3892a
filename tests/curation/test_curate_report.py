"""A real run on a mixed folder: every file and every detected person in the ledger and in the HTML report."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from shoemodel.cli import app
from shoemodel.curation import ledger
from tests.curation.ledger_folder import MIXED, make_mixed_folder


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _rows(work: Path, stage: str) -> list[dict]:
    return [r for part in ledger.iter_stage(work, stage) for r in part]


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory, fixtures_dir: Path, yolox_weights: Path, mediapipe_installed) -> Path:
    tmp = tmp_path_factory.mktemp("mixed")
    folder = make_mixed_folder(fixtures_dir, tmp / "photos")
    (tmp / "params.yaml").write_text(
        "curation:\n  gpu_resources: {}\n  ingest: {part_size: 2}\n  build: {records_per_shard: 2}\n"
        f"  detect: {{backend: yolox_onnx, weights: {yolox_weights}}}\n")
    res = CliRunner().invoke(app, ["curate", "run", str(folder), "--params", str(tmp / "params.yaml"),
                                   "--out", str(tmp / "set"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "  persons" in res.output  # persons dropped inside kept photos are counted in the printed table
    return tmp


@pytest.mark.fixtures
def test_every_file_and_person_is_on_record_and_the_counts_add_up(mixed_run: Path) -> None:
    work = mixed_run / "set.work"
    ingest = {Path(r["source_uri"]).name: r for r in _rows(work, "ingest")}
    assert sorted(ingest) == sorted(MIXED)
    assert (ingest["notes.jpg"]["outcome"], ingest["notes.jpg"]["reason"]) == ("dropped", "not an image")
    assert (ingest["dot.png"]["reason"], ingest["dot.png"]["value"], ingest["dot.png"]["threshold"]) == ("too small", 1, 32)
    assert ingest["cut.jpg"]["reason"] == "truncated or corrupt" and ingest["cut.jpg"]["detail"]
    assert (ingest["gone.jpg"]["outcome"], ingest["gone.jpg"]["reason"]) == ("failed", "broken link")
    dup = [n for n in ("walker.jpg", "copy.jpg") if ingest[n]["reason"] == "duplicate"]
    assert len(dup) == 1 and "of " in ingest[dup[0]]["detail"]
    photos = {s: {Path(r["source_uri"]).name: r for r in _rows(work, s) if r["person"] is None} for s in ("detect", "pose", "segment")}
    assert sorted(photos["detect"]) == sorted(n for n, r in ingest.items() if r["outcome"] == "kept")
    assert photos["pose"]["zidane.jpg"]["outcome"] == "dropped"  # cut off at the waist: no foot
    # every detected person: dropped with a reason at some stage, or a record of the set
    persons = {s: {(r["source_uri"], r["person"]): r for r in _rows(work, s) if r["person"] is not None}
               for s in ("detect", "pose", "segment")}
    persons["build"] = {(r["source_uri"], r["person"]): r for part in ledger.build_entries(work, mixed_run / "set") for r in part}
    assert sum(1 for uri, _ in persons["detect"] if uri.endswith("bus.jpg")) >= 3  # the group photo's people
    chain = ("detect", "pose", "segment", "build")
    for up, down in zip(chain, chain[1:]):
        assert {k for k, r in persons[up].items() if r["outcome"] == "kept"} == set(persons[down]), (up, down)
    for stage in chain:
        assert all(r["reason"] and r["detail"] for r in persons[stage].values() if r["outcome"] != "kept")
        assert all(r["box"] is not None and len(r["box"]) == 5 for r in persons[stage].values())
    scored = [r["quality"] for r in persons["segment"].values() if r["outcome"] == "kept"]
    assert scored and all(0.0 <= q <= 1.0 for q in scored)  # every kept record's quality score is on record
    dropped_in_kept = [k for k, r in persons["pose"].items() if r["outcome"] == "dropped"
                       and photos["pose"][Path(k[0]).name]["outcome"] == "kept"]
    assert dropped_in_kept  # persons discarded inside a kept photo are on record
    manifest = json.loads((mixed_run / "set" / "manifest.json").read_text())
    totals = json.loads((work / ledger.TOTALS).read_text())
    assert manifest["ledger"] == totals and totals["build"]["persons"]["kept"] == manifest["num_records"]
    assert ledger.check(totals, {"detect": "ingest", "pose": "detect", "segment": "pose", "build": "segment"}) == []
    assert totals["ingest"]["photos"]["in"] == len(MIXED)
    for stage in chain:
        assert totals[stage]["persons"]["in"] == len(persons[stage])
    assert not [p.name for p in mixed_run.iterdir() if p.name.endswith(".lock")]  # no lock file left beside the output


@pytest.mark.fixtures
def test_the_report_is_one_offline_page_with_every_reason_and_failed_file(mixed_run: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["curate", "report", str(mixed_run / "set"), "--html", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "r.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page  # opens offline, nothing fetched
    totals = json.loads((mixed_run / "set.work" / ledger.TOTALS).read_text())
    for t in totals.values():
        for c in t.values():
            for reason in [*c["dropped"], *c["failed"]]:
                assert reason in page, reason
    for name in MIXED:
        if name not in ("walker.jpg", "copy.jpg", "ccp.jpg", "walker2.jpg", "bus.jpg"):  # kept ones need not be named
            assert name in page, name
    assert page.count("data:image/jpeg;base64,") >= 8 and "DOES NOT ADD UP" not in page
    failed = page.split("<h2>Failed files</h2>")[1]
    assert "gone.jpg" in failed and "broken link" in failed  # every failed file by name with its error
    if _chromium() is None:
        pytest.skip("needs headless Chromium (Debian package chromium) for the screenshot")
    shot = tmp_path / "report.png"
    subprocess.run([_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1280,1600", f"--screenshot={shot}", (tmp_path / "r.html").as_uri()],
                   capture_output=True, timeout=180, check=True)
    px = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    kept = (np.abs(px - [0x2e, 0x9d, 0x49]).max(-1) <= 10).sum()  # the funnel's kept bars
    dropped = (np.abs(px - [0xe0, 0xa0, 0x30]).max(-1) <= 10).sum()
    photo = (px.std(-1) > 20).sum()  # coloured, varied pixels: the thumbnails are drawn
    assert kept > 2000 and dropped > 500 and photo > 5000, (kept, dropped, photo)


@pytest.mark.fixtures
def test_a_set_whose_counts_do_not_add_up_is_refused(mixed_run: Path, tmp_path: Path) -> None:
    work = tmp_path / "set.work"
    shutil.copytree(mixed_run / "set.work", work)
    seg = work / "segment" / "parts"
    next(iter(sorted(seg.glob("part-*.parquet")))).unlink()  # a segment part lost: build would miss its photos
    res = CliRunner().invoke(app, ["curate", "build", "--params", str(mixed_run / "params.yaml"), "--work-dir", str(work),
                                   "--out", str(tmp_path / "set"), "--quiet"])
    assert res.exit_code != 0 and "ledger does not add up" in res.output and "segment photos" in res.output, res.output
    assert "Traceback" not in res.output and not (tmp_path / "set" / "manifest.json").exists()


@pytest.mark.fixtures
def test_the_fused_path_writes_the_same_ledger(mixed_run: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["curate", "run", str(mixed_run / "photos"), "--params", str(mixed_run / "params.yaml"),
                                   "--out", str(tmp_path / "set"), "--quiet", "--set", "curation.fused=true"])
    assert res.exit_code == 0, res.output
    for stage in ("ingest", "detect", "pose", "segment"):
        staged, fused = _rows(mixed_run / "set.work", stage), _rows(tmp_path / "set.work", stage)
        assert fused == staged, stage
    assert json.loads((tmp_path / "set.work" / ledger.TOTALS).read_text()) == json.loads(
        (mixed_run / "set.work" / ledger.TOTALS).read_text())
