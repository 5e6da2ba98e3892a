"""Benchmark: the annotation loop, measured. Three rounds on a real Label Studio server; WD retrained after each.

    python benchmarks/annotation/loop.py --out metrics/annotation/loop.json          # starts its own Label Studio
    python benchmarks/annotation/loop.py --url http://127.0.0.1:8080 --token TOKEN   # or uses a running one

Each round goes the way a user's does: `run_round` chooses the images (round 1 at random; later rounds the
ones the current WD is least sure of) and sends them with pre-annotations (round 1 the shoe mask, later
rounds the WD trained on the rounds before, its version on each prediction); a scripted annotator submits
the synthetic ground truth as brush annotations through the API; `run_import` pulls the snapshot and
builds the annotated set; `merge_sets` makes the training set; WD is trained on it (tiny, CPU, 96 px, a
fixed number of epochs over the labelled images; from round 2 on it fine-tunes the previous round's WD) and
scored on a fixed test split that no round can send. The comparison in one run is the untrained WD of the same architecture (round 0).

Writes {"rounds": [{"round", "n_labelled", "wearable_iou", "miou", "seconds", ...}], ...} (the DVC plot
`metrics/annotation/loop.json` in dvc.yaml).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LoopSettings:
    """Round sizes (new images per round), the data, and the WD run after each round."""

    round_sizes: tuple[int, ...] = (8, 16, 44)
    pool_size: int = 96
    test_size: int = 32
    image_px: int = 64  # synthetic product photos
    wd_image_size: int = 96  # 64 px caps the tiny WD's wearable IoU near 31 (16x16 logits) whatever the data
    wd_epochs: float = 24.0  # each round trains WD for this many passes over the images labelled so far
    wd_min_steps: int = 30
    warm_start: bool = True  # round N+1 fine-tunes round N's WD on all labels so far (as the loop is run); else from scratch
    wd_batch_size: int = 8
    wd_learning_rate: float = 2e-3
    seed: int = 0
    project_title: str = "shoemodel loop benchmark"
    extra: dict[str, Any] = field(default_factory=dict)


def _synthetic_set(root: Path, seeds: range, split: str, px: int) -> Path:
    from shoemodel.schemas.builder import build_record
    from shoemodel.store import write_set
    from shoemodel.synthetic.examples import make_product_example

    def make(seed: int) -> dict[str, Any]:
        ex = make_product_example(seed, px)
        return build_record("wearable_area", id=f"product-{seed:05d}", source_uri=f"synthetic://product/{seed}",
                            split=split, caption=ex.caption, image=ex.image, shoe_image=ex.shoe_image,
                            area_mask=ex.area_mask, provenance={"maker": "make_product_example", "seed": seed})

    write_set(root, "wearable_area", seeds, make, records_per_shard=64, progress=False)
    return root


def submit_ground_truth(client: Any, project_id: int, pool: Path, record_ids: list[str]) -> int:
    """The scripted annotator: for each task of `record_ids`, submit the exact mask as brush results."""
    from shoemodel.annotation.brush import mask_to_results
    from shoemodel.annotation.client import iter_tasks
    from shoemodel.annotation.pool import iter_pool
    from shoemodel.schemas.records import decode_image

    truth = {r["id"]: decode_image(r["area_mask"], "L") for r in iter_pool(pool, record_ids, ["id", "area_mask"])}
    n = 0
    for task in iter_tasks(client, project_id):
        rid = task["data"].get("record_id")
        if rid in truth and not task.get("annotations"):
            client.annotations.create(id=task["id"], result=mask_to_results(truth[rid]), lead_time=1.0)
            n += 1
    return n


def wd_steps(n_labelled: int, s: LoopSettings) -> int:
    """Optimiser steps for a retrain on n images: a fixed number of epochs, as one retrains after each round."""
    return max(s.wd_min_steps, round(s.wd_epochs * n_labelled / s.wd_batch_size))


def _train_and_score(train_set: str, test_set: str, out: Path, s: LoopSettings, steps: int,
                     init: str = "") -> tuple[dict[str, float], str]:
    from shoemodel.annotation.predictor import wd_model_version
    from shoemodel.models.wd.predictor import WDPredictor
    from shoemodel.training.wd.config import WDConfig
    from shoemodel.training.wd.evaluate import evaluate_predictor
    from shoemodel.training.wd.train import train_wd

    cfg = WDConfig(train_set=train_set, output_dir=str(out), metrics_dir=str(out.parent / f"{out.name}-metrics"),
                   model_size="tiny", image_size=s.wd_image_size, steps=steps, batch_size=s.wd_batch_size,
                   learning_rate=s.wd_learning_rate, warmup_steps=10, mixed_precision="no", num_workers=0,
                   class_weights=(1.0, 1.0, 5.0), scale_min=0.75, scale_max=1.5, log_every=1000,
                   checkpoint_every=0, progress=False, cpu_threads=1, seed=s.seed, resume=False, pretrained=init,
                   input="shoe_on_black")  # the rounds feed WD the pool's X_m (shoe on black), as annotation does
    train_wd(cfg)
    return evaluate_predictor(WDPredictor.from_checkpoint(out, device="cpu"), test_set, "test"), wd_model_version(str(out))


def run_loop(url: str, token: str, work: Path, files_root: Path, s: LoopSettings) -> dict[str, Any]:
    """Run the rounds against the server at `url`; `files_root` is the folder it serves local files from."""
    from shoemodel.annotation.config import AnnotationConfig
    from shoemodel.annotation.ledger import load_ledger
    from shoemodel.annotation.predictor import wd_checkpoint
    from shoemodel.annotation.rounds import open_session, run_import, run_round
    from shoemodel.models.wd.predictor import WDPredictor
    from shoemodel.sets.config import MergeConfig, MergeSpec
    from shoemodel.sets.merge import merge_sets
    from shoemodel.training.wd.evaluate import evaluate_predictor

    pool = _synthetic_set(work / "pool", range(s.pool_size), "train", s.image_px)
    test = _synthetic_set(work / "test", range(10_000, 10_000 + s.test_size), "test", s.image_px)
    workdir = files_root / "loop"
    cfg = AnnotationConfig(pool=str(pool), workdir=str(workdir), output=str(work / "annotated"),
                           snapshot=str(work / "tasks.jsonl"), project_title=s.project_title,
                           document_root=str(workdir), image_url_prefix="/data/local-files/?d=loop/",
                           seed=s.seed, candidates=s.pool_size)
    merge = MergeConfig(wearable_area=MergeSpec([cfg.output, str(work / "labelled")], str(work / "train")))
    untrained = evaluate_predictor(WDPredictor.from_config_random("tiny", s.wd_image_size, False, s.seed), str(test), "test")
    rounds: list[dict[str, Any]] = []
    predictor, version = None, ""
    for r, size in enumerate(s.round_sizes, start=1):
        t0 = time.perf_counter()
        rnd, rep = run_round(cfg, url, token, n=size, predictor=predictor, model_version=version, new=True)
        session = open_session(cfg, url, token)
        submitted = submit_ground_truth(session.client, session.project.id, pool, rnd.ids)
        imp = run_import(cfg, url, token)
        merged = merge_sets("wearable_area", merge)
        t_annotate = time.perf_counter() - t0
        steps = wd_steps(merged.num_records, s)
        init = str(work / f"wd-round{r - 1}") if s.warm_start and r > 1 else ""
        metrics, version = _train_and_score(merge.wearable_area.out, str(test), work / f"wd-round{r}", s, steps, init)
        predictor = wd_checkpoint(str(work / f"wd-round{r}"), device="cpu")
        rounds.append({
            "round": r, "n_new": len(rnd.ids), "n_labelled": merged.num_records, "submitted": submitted,
            "wd_steps": steps, "wd_init": Path(init).name or "random",
            "selection": rnd.selection, "preannotation_model": rnd.model_version, "trained_model": version,
            "wearable_iou": round(metrics["wearable/IoU"], 4), "visible_iou": round(metrics["visible/IoU"], 4),
            "miou": round(metrics["mIoU"], 4), "tasks_created": rep.created, "import_records": imp.records,
            "seconds_round_io": round(t_annotate, 1), "seconds": round(time.perf_counter() - t0, 1),
        })
        print(json.dumps(rounds[-1]), flush=True)
    ledger = load_ledger(cfg.workdir)
    return {"settings": asdict(s), "untrained": {"wearable_iou": round(untrained["wearable/IoU"], 4),
                                                 "miou": round(untrained["mIoU"], 4)},
            "rounds": rounds, "closed_rounds": [x.round for x in ledger.rounds if x.status == "closed"]}


def rises(result: dict[str, Any], key: str = "wearable_iou") -> bool:
    """True when `key` goes up strictly from the untrained model through every round."""
    values = [result["untrained"][key]] + [r[key] for r in result["rounds"]]
    return all(b > a for a, b in zip(values, values[1:]))


def _own_server(base: Path):
    sys.path.insert(0, str(ROOT / "tests" / "annotation"))
    import ann_servers  # the same launcher the tests use: a fresh SQLite Label Studio on a free port

    (base / "files").mkdir(parents=True, exist_ok=True)
    proc, url, log, t0 = ann_servers.launch_label_studio(base / "data", base / "files")
    try:
        ann_servers.wait_label_studio(proc, url, log, t0, timeout=600)
    except BaseException:
        ann_servers.stop_group(proc)
        raise
    return proc, url, ann_servers.LS_TOKEN, base / "files", ann_servers.stop_group


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a running Label Studio (default: start a fresh one for this run)")
    ap.add_argument("--token", help="its API token")
    ap.add_argument("--files-root", type=Path, help="its LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT (with --url)")
    ap.add_argument("--out", type=Path, default=ROOT / "metrics" / "annotation" / "loop.json")
    ap.add_argument("--rounds", type=lambda t: tuple(int(x) for x in t.split(",")), default=LoopSettings.round_sizes,
                    help="new images per round, e.g. 8,16,44")
    ap.add_argument("--wd-epochs", type=float, default=LoopSettings.wd_epochs)
    ap.add_argument("--seed", type=int, default=LoopSettings.seed)
    ap.add_argument("--from-scratch", action="store_true", help="retrain WD from random weights every round")
    args = ap.parse_args()
    s = LoopSettings(round_sizes=args.rounds, wd_epochs=args.wd_epochs, seed=args.seed, warm_start=not args.from_scratch)
    with tempfile.TemporaryDirectory(prefix="shoemodel-loop-") as tmp:
        base = Path(tmp)
        stop = proc = None
        if args.url:
            url, token, files_root = args.url, args.token, args.files_root
            if not (token and files_root):
                ap.error("--url needs --token and --files-root")
        else:
            proc, url, token, files_root, stop = _own_server(base / "ls")
        try:
            result = run_loop(url, token, base / "work", files_root, s)
        finally:
            if stop is not None:
                stop(proc)
    result["rises"] = rises(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wearable IoU: untrained {result['untrained']['wearable_iou']} -> "
          + " -> ".join(f"round {r['round']} ({r['n_labelled']} labelled) {r['wearable_iou']}" for r in result["rounds"])
          + f"; rises: {result['rises']}; written to {args.out}")


if __name__ == "__main__":
    main()
