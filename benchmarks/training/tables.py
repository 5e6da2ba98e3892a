"""Print the WD / LpS benchmark tables (markdown) from the metrics `dvc repro` wrote.

    python benchmarks/training/tables.py            # after: dvc repro evaluate_wd evaluate_lps_keypoints evaluate_lps_diffusion
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _load(path: str) -> dict:
    p = Path(path)
    if not p.exists():
        sys.exit(f"{p} is missing: run `dvc repro evaluate_wd evaluate_lps_keypoints evaluate_lps_diffusion` first")
    return json.loads(p.read_text())


def wd_table(ev: dict) -> str:
    cols = ["background/IoU", "background/Acc", "visible/IoU", "visible/Acc", "wearable/IoU", "wearable/Acc",
            "mIoU", "mAcc", "aAcc"]
    lines = ["| model | BG IoU | BG Acc | Visible IoU | Visible Acc | Wearable IoU | Wearable Acc | mIoU | mAcc | aAcc |",
             "|---|" + "---:|" * len(cols)]
    for name, label in (("trained", "WD tiny, trained"), ("untrained", "same, untrained"),
                        ("foreground_rule", "foreground rule")):
        lines.append(f"| {label} | " + " | ".join(f"{ev[name][c]:.1f}" for c in cols) + " |")
    return "\n".join(lines)


def kp_table(ev: dict) -> str:
    names = ["left_ankle", "left_big_toe", "left_small_toe", "left_heel", "right_ankle", "right_big_toe",
             "right_small_toe", "right_heel"]
    lines = ["| model | PCK@0.05 | PCK@0.1 | mean error | " + " | ".join(n.replace("_", " ") for n in names) + " |",
             "|---|" + "---:|" * (3 + len(names))]
    for name, label in (("trained", "ViTPose tiny, trained"), ("untrained", "same, untrained"),
                        ("mean_position", "mean position")):
        r = ev[name]
        lines.append(f"| {label} | {r['PCK@0.05']:.1f} | {r['PCK@0.1']:.1f} | {r['mean_error']:.1f} | "
                     + " | ".join(f"{r['error/' + n]:.1f}" for n in names) + " |")
    return "\n".join(lines)


def ld_table(ev: dict) -> str:
    cols = [("mmd", "MMD² ↓", 4), ("bone_ratio_plausible", "bone ratio plausible ↑", 2),
            ("knee_angle_plausible", "knee angle plausible ↑", 2), ("ankle_agreement", "ankle agreement ↑", 2),
            ("best_of_n_error", "best-of-8 error ↓", 3), ("diversity", "diversity", 3), ("present_rate", "points present", 2)]
    lines = ["| poses | " + " | ".join(c[1] for c in cols) + " |", "|---|" + "---:|" * len(cols)]
    for name, label in (("generated", "LpS phase 2, generated"), ("random", "random (uniform)"),
                        ("mean_pose", "mean training pose"), ("real_poses_reference", "real poses (reference)")):
        r = ev[name]
        lines.append(f"| {label} | " + " | ".join(f"{r[k]:.{d}f}" if k in r else "–" for k, _, d in cols) + " |")
    return "\n".join(lines)


def main() -> None:
    print("WD\n" + wd_table(_load("metrics/wd/eval.json")))
    print("\nLpS phase 1\n" + kp_table(_load("metrics/lps_keypoints/eval.json")))
    print("\nLpS phase 2\n" + ld_table(_load("metrics/lps_diffusion/eval.json")))
    for m in ("wd", "lps_keypoints", "lps_diffusion"):
        t = _load(f"metrics/{m}/train.json")
        s = _load(f"metrics/{m}/timing.json")
        print(f"\n{m}: {t['steps']} steps in {s['seconds']} s, final loss {t['final_loss']:.4f}")


if __name__ == "__main__":
    main()
