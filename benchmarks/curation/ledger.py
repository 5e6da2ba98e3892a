"""What the curation ledger costs in a real run: its share of the run's time, and the driver's memory.

A `curate run` (all stages, inline executor, in this process) on real photos: `--photos` fixture photos (COCO,
ultralytics samples, then CCP), each copied `--copies` times with one pixel changed (so none is a duplicate), with the
offline default models (YOLOX-Nano from the fixtures, MediaPipe pose, GrabCut). Every ledger function is timed
where it runs (building the rows, writing the ledger parts, reading their footers to trust a part, summing and
checking the totals at the end), nested calls counted once; the ledger's share = that time / the run's time.
The process's first zstd Parquet write (~1 s, paid once by whichever file is written first) is made before timing.
A second, no-op rerun shows the share when nothing is recomputed (only footers are read).
CPU only; every figure is from this machine (2 cores shared with other jobs: noisy).
Run:  python benchmarks/curation/ledger.py --photos 30   (writes ledger.json / ledger.md beside this file)
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

HERE = Path(__file__).resolve().parent
TIMED = ("entries", "photo_entries", "write_ledger_part", "ledger_fingerprint", "has_ledger", "finish_run",
         "remove_ledger_parts_except")


class Timer:
    """Wall time spent inside the wrapped functions, a call nested in another counted once."""

    def __init__(self) -> None:
        self.seconds, self.calls, self._depth = 0.0, 0, 0
        self.by_name: dict[str, float] = {}

    def wrap(self, fn):
        @functools.wraps(fn)
        def timed(*a, **k):
            self._depth += 1
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    took = time.perf_counter() - t
                    self.seconds += took
                    self.calls += 1
                    self.by_name[fn.__name__] = self.by_name.get(fn.__name__, 0.0) + took
        return timed


def make_photos(fixtures: Path, folder: Path, copies: int, photos: int) -> int:
    from PIL import Image

    imgs = fixtures / "images"
    src = sorted((imgs / "mmpose" / "coco").glob("*.jpg")) + sorted((imgs / "ultralytics_samples").glob("*.jpg"))
    src += sorted((imgs / "ccp" / "photos").glob("*.jpg"))[: max(0, photos - len(src))]
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for c in range(copies):
        for p in src:
            im = np.asarray(Image.open(p).convert("RGB")).copy()
            im[0, 0] = (c * 37) % 256, c % 256, 7  # a different file each copy: not a duplicate
            Image.fromarray(im).save(folder / f"{c:02d}_{p.stem}.png")
            n += 1
    return n


def _warm_parquet(path: Path) -> None:
    """Pay the process's one-time cost of the first zstd Parquet write (~1 s here) before timing: otherwise the
    first ledger part, written just before the first stage part, would be charged with it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1]}), path, compression="zstd")
    path.unlink()


def run(fixtures: Path, tmp: Path, copies: int, photos: int) -> dict:
    from shoemodel.curation import ledger
    from shoemodel.curation.config import CurationConfig
    from shoemodel.curation.pipeline import run_all

    n = make_photos(fixtures, tmp / "photos", copies, photos)
    _warm_parquet(tmp / "warm.parquet")
    timer = Timer()
    for name in TIMED:
        setattr(ledger, name, timer.wrap(getattr(ledger, name)))
    cfg = CurationConfig(work_dir=str(tmp / "set.work"), progress=False)
    cfg.ingest.sources = [str(tmp / "photos")]
    cfg.detect.backend, cfg.detect.weights = "yolox_onnx", str(fixtures / "weights" / "yolox_nano" / "yolox_nano.onnx")
    cfg.gpu_resources = {}
    out = {}
    for label in ("first run", "no-op rerun"):
        timer.seconds, timer.calls, timer.by_name = 0.0, 0, {}
        t = time.perf_counter()
        summary = run_all(cfg, tmp / "set")
        wall = time.perf_counter() - t
        out[label] = {"photos": n, "run_s": round(wall, 2), "ledger_s": round(timer.seconds, 3), "ledger_calls": timer.calls,
                      "ledger_share_pct": round(100 * timer.seconds / wall, 2),
                      "ledger_s_by_function": {k: round(v, 4) for k, v in sorted(timer.by_name.items())},
                      "persons_detected": summary["detect"].get("persons", {}).get("in", 0),
                      "records": summary["build"]["kept"], "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        print(label, out[label], flush=True)
    ledger_bytes = sum(p.stat().st_size for p in (tmp / "set.work").rglob("ledger/*.parquet"))
    part_bytes = sum(p.stat().st_size for p in (tmp / "set.work").rglob("parts/*.parquet"))
    out["sizes"] = {"ledger_parts_KB": round(ledger_bytes / 1e3, 1), "stage_parts_KB": round(part_bytes / 1e3, 1)}
    return out


def markdown(res: dict) -> str:
    md = [f"`curate run` on {res['first run']['photos']} real photos (fixture photos), YOLOX-Nano + MediaPipe + "
          "GrabCut, inline executor, CPU; the ledger's functions timed where they run:", "",
          "| run | photos | persons detected | records | run s | ledger s | ledger share | peak RSS MB |",
          "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label in ("first run", "no-op rerun"):
        r = res[label]
        md.append(f"| {label} | {r['photos']} | {r['persons_detected']} | {r['records']} | {r['run_s']} | {r['ledger_s']} | "
                  f"{r['ledger_share_pct']} % | {r['peak_rss_mb']} |")
    md += ["", f"Ledger parts {res['sizes']['ledger_parts_KB']} KB beside {res['sizes']['stage_parts_KB']} KB of stage parts.",
           "", "Ledger seconds by function (first run): " + ", ".join(
               f"`{k}` {v}" for k, v in res["first run"]["ledger_s_by_function"].items())]
    return "\n".join(md) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=30, help="distinct fixture photos (COCO, ultralytics samples, then CCP)")
    ap.add_argument("--copies", type=int, default=1, help="copies of each fixture photo")
    ap.add_argument("--fixtures", default=os.environ.get("SHOEMODEL_FIXTURES", str(HERE.parents[2] / "shared" / "fixtures")))
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    try:
        res = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                           "python": platform.python_version()}, **run(Path(a.fixtures), tmp, a.copies, a.photos)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    (HERE / "ledger.json").write_text(json.dumps(res, indent=2) + "\n")
    (HERE / "ledger.md").write_text(markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
