"""One writer per output folder (the second is told who holds it), and ids that cannot share a file."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from shoemodel.annotation.export import image_relpath
from shoemodel.store.atomic import write_bytes_if_changed
from shoemodel.store.lock import FolderLocked, folder_lock
from shoemodel.store.names import id_file_name


def test_a_second_writer_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    out = tmp_path / "set"
    hold = textwrap.dedent(f"""
        import sys, time
        from shoemodel.store.lock import folder_lock
        with folder_lock({str(out)!r}, "holder-command"):
            print("held", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(FolderLocked, match=rf"pid {proc.pid} .*holder-command"):
            with folder_lock(out):
                pass
        (tmp_path / "empty.yaml").write_text("{}\n")
        (tmp_path / "lab").mkdir()
        (tmp_path / "lab" / "labels.jsonl").write_text("")
        res = subprocess.run([sys.executable, "-m", "shoemodel.cli", "--params", str(tmp_path / "empty.yaml"), "build-set",
                              "wearable_area", "--labels", str(tmp_path / "lab"), "--out", str(out)],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode != 0 and f"pid {proc.pid}" in res.stderr and "Traceback" not in res.stderr, res.stderr
    finally:
        proc.kill()
        proc.wait()
    time.sleep(0.1)
    with folder_lock(out):  # released when its holder died (even by SIGKILL)
        pass


def test_ids_that_slug_alike_get_distinct_stable_files() -> None:
    ids = ["brand/sku-1", "brand_sku-1", "brand:sku-1", "brand sku-1", "a.b", "a_b"]
    names = [id_file_name(i, ".png") for i in ids]
    assert len(set(names)) == len(ids)
    assert names == [id_file_name(i, ".png") for i in ids]  # stable
    assert all("/" not in n and n.count(".") == 1 for n in names)
    assert names[0].startswith("brand_sku-1-")  # still readable
    assert len({image_relpath(1, i) for i in ids}) == len(ids)


def test_media_are_rewritten_when_their_content_changes(tmp_path: Path) -> None:
    p = tmp_path / "m" / "x.png"
    assert write_bytes_if_changed(p, b"old mask")
    assert not write_bytes_if_changed(p, b"old mask")
    assert write_bytes_if_changed(p, b"corrected mask") and p.read_bytes() == b"corrected mask"


def test_no_lock_file_is_left_when_a_run_ends_normally_or_by_an_error(tmp_path: Path) -> None:
    from shoemodel.store.lock import folder_locks, lock_path

    out = tmp_path / "set"
    with folder_locks(out, Path(f"{out}.work")):
        assert lock_path(out).exists() and lock_path(f"{out}.work").exists()
    assert not lock_path(out).exists() and not lock_path(f"{out}.work").exists()
    with pytest.raises(KeyboardInterrupt):
        with folder_lock(out):
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["set", "set.work"]


HOLD = """
import sys, time
from shoemodel.store.lock import folder_lock
with folder_lock(sys.argv[1], "holder-command"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_ctrl_c_removes_the_lock_and_a_killed_runs_lock_is_taken_over_with_a_note(tmp_path: Path, caplog) -> None:
    import signal

    from shoemodel.store.lock import lock_path

    out = tmp_path / "set"
    for sig, left in ((signal.SIGINT, False), (signal.SIGKILL, True)):
        proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "held"
        proc.send_signal(sig)
        proc.wait(timeout=30)
        assert lock_path(out).exists() == left, sig
    with caplog.at_level("WARNING", logger="shoemodel.store.lock"):
        with folder_lock(out, "next run"):
            assert "next run" in lock_path(out).read_text()
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1 and f"pid {proc.pid}" in notes[0] and "holder-command" in notes[0], notes
    assert not lock_path(out).exists()
