"""Contact sheet of the kept shoe masks on the fixture photos (feet_labels.json), for looking at them.

Runs the offline default (or `--set` overrides) through detect -> pose -> segment, as quality.py does, and draws
every kept person's feet: the photo around the feet, the mask tinted red with its outline, the foot points
(refined ones in cyan), and the photo name with the person's quality. Photos that yield no record get a grey tile
with the reason.
Run:  python benchmarks/curation/mask_sheet.py [--out docs/img/shoe_masks_fixtures.png] [--set segment.backend=grabcut]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TILE = 220


def tile(image: np.ndarray, mask: np.ndarray | None, k: np.ndarray | None, refined: np.ndarray | None, text: str) -> np.ndarray:
    import cv2

    if mask is None or not mask.any():
        t = np.full((TILE, TILE, 3), 90, np.uint8)
        for n, line in enumerate([text[i:i + 30] for i in range(0, min(len(text), 150), 30)]):
            cv2.putText(t, line, (4, 16 + 14 * n), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1)
        return t
    ys, xs = np.nonzero(mask)
    side = int(max(np.ptp(xs), np.ptp(ys), 24) * 1.8)
    cx, cy = int(xs.mean()), int(ys.mean())
    x1, y1 = max(cx - side // 2, 0), max(cy - side // 2, 0)
    x2, y2 = min(x1 + side, image.shape[1]), min(y1 + side, image.shape[0])
    vis = image.copy()
    vis[mask] = (0.55 * vis[mask] + [115, 0, 0]).astype(np.uint8)
    cnts, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(vis, cnts, -1, (255, 40, 40), max(1, side // 150))
    for pts, colour in ((k, (255, 255, 0)), (refined, (0, 255, 255))):
        if pts is None:
            continue
        for x, y, s in pts[4:]:
            if s > 0:
                cv2.circle(vis, (int(x), int(y)), max(2, side // 80), colour, -1)
    t = cv2.resize(vis[y1:y2, x1:x2], (TILE, TILE), interpolation=cv2.INTER_AREA)
    cv2.rectangle(t, (0, 0), (TILE, 16), (0, 0, 0), -1)
    cv2.putText(t, text[:34], (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1)
    return t


def main() -> None:
    from quality import FIXTURES, LABELS, apply_sets, build_segmenter_for, default_config, run_pipeline

    from shoemodel.curation.detect import build_detector
    from shoemodel.curation.pose import build_pose
    from shoemodel.schemas.records import decode_image

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "docs" / "img" / "shoe_masks_fixtures.png"))
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--cols", type=int, default=6)
    args = ap.parse_args()
    cfg = default_config()
    apply_sets(cfg, args.sets)
    labels = json.loads(LABELS.read_text())["photos"]
    paths = [FIXTURES / lab["path"] for lab in labels]
    results = run_pipeline(cfg, (build_detector(cfg.detect), build_pose(cfg.pose), build_segmenter_for(cfg)), paths)
    tiles = []
    for lab, path in zip(labels, paths):
        res = results[str(path)]
        image = decode_image(path.read_bytes(), "RGB")
        seg = res.get("segment")
        if not seg or seg["status"] != "kept":
            if lab["feet"]:  # a photo with feet that yields nothing: show why
                stage = next(s for s in ("segment", "pose", "detect") if s in res)
                tiles.append(tile(image, None, None, None, f"{path.name}: none ({res[stage].get('reason')})"))
            continue
        ks = np.asarray(res["pose"]["keypoints"], np.float32).reshape(-1, 12, 3)
        qc = json.loads(seg["mask_qc"])
        for j, png in enumerate(seg["shoe_masks"]):
            if png is None:
                continue
            mask = decode_image(png, "L") > 0
            ref = qc[j].get("keypoints_refined")
            tiles.append(tile(image, mask, ks[j], None if ref is None else np.asarray(ref, np.float32).reshape(12, 3),
                              f"{path.name[:18]} p{j} q{qc[j].get('quality')}"))
    cols = args.cols
    while len(tiles) % cols:
        tiles.append(np.full((TILE, TILE, 3), 255, np.uint8))
    sheet = np.vstack([np.hstack(tiles[r * cols:(r + 1) * cols]) for r in range(len(tiles) // cols)])
    from PIL import Image

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.out, optimize=True)
    print(f"{args.out}: {len(tiles)} tiles")


if __name__ == "__main__":
    main()
