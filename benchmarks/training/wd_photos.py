"""WD on the photo as the user gives it, against the old way (the shoe cut out by the studio-background
remover and put on black, then WD on X_m) and the remover alone, on the sample's test split with its own
light backdrops, with dark backdrops and with random ones, and on the real product photos' sole masks.

    python benchmarks/training/wd_photos.py --photo-wd models/wd --black-wd models/wd_black \
        --set data/sets/wearable_area --products ../shared/fixtures/images/shoe_products --out benchmarks/training

Numbers: Table 5 IoUs, plus "holes" = share of true shoe pixels called background (what SW then fills
with noise), and for the product photos the share of sole pixels called background. "remover -> X_m -> WD"
is what generate does with an X_m-trained WD (the remover decides shoe vs background, WD visible vs
wearable inside it); "argmax (before)" keeps WD's own background call inside the shoe, as generate did.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from shoemodel.models.wd import WDPredictor
from shoemodel.pipelines.foreground import remove_studio_background
from shoemodel.pipelines.generate import ShoeModelPipeline
from shoemodel.schemas.classes import BACKGROUND, CLASS_NAMES, NUM_CLASSES, VISIBLE
from shoemodel.schemas.records import decode_image
from shoemodel.training.augment import random_backdrop
from shoemodel.training.data import load_split
from shoemodel.training.metrics.segmentation import confusion_matrix, segmentation_metrics


def classes_for(method: str, wd: WDPredictor | None, photo: np.ndarray) -> np.ndarray:
    """The classes `generate` would use: WD on the photo, WD on the remover's X_m, or the remover alone."""
    if method == "remover only":
        return np.where(remove_studio_background(photo), VISIBLE, BACKGROUND).astype(np.uint8)
    if method == "remover -> X_m -> WD argmax (before)":  # WD's own background call inside the shoe kept
        fg = remove_studio_background(photo)
        x_m = np.where(fg[..., None], photo, 0).astype(np.uint8)
        return np.where(fg, wd.predict_scores([x_m])[0].argmax(0), BACKGROUND).astype(np.uint8)
    pipe = ShoeModelPipeline(None, wd, None, None, render_pose=lambda *a: None)
    return pipe.shoe_classes(photo)[0]


def backdrop(img: np.ndarray, mask: np.ndarray, kind: str, seed: int) -> np.ndarray:
    if kind == "as given":
        return img
    rng = np.random.default_rng([seed, 77])
    lo_hi = (0.0, 90.0) if kind == "dark backdrop" else (0.0, 255.0)
    back = random_backdrop((img.shape[1], img.shape[0]), rng, lo_hi)
    return np.where((mask > 0)[..., None], img, back).astype(np.uint8)


def eval_split(methods: dict, set_root: str, split: str) -> dict:
    table = load_split(set_root, ["image", "area_mask"], split)
    imgs = [decode_image(b, "RGB") for b in table.column("image").to_pylist()]
    masks = [decode_image(b, "L") for b in table.column("area_mask").to_pylist()]
    out = {}
    for kind in ("as given", "dark backdrop", "random backdrop"):
        for name, wd in methods.items():
            conf = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
            holes, shoe_px = 0, 0
            for i, (img, gt) in enumerate(zip(imgs, masks, strict=True)):
                pred = classes_for(name, wd, backdrop(img, gt, kind, i))
                conf += confusion_matrix(pred, gt, NUM_CLASSES)
                holes += int(((gt > 0) & (pred == BACKGROUND)).sum())
                shoe_px += int((gt > 0).sum())
            m = segmentation_metrics(conf, CLASS_NAMES)
            m["holes_%"] = 100.0 * holes / max(shoe_px, 1)
            out[f"{kind} | {name}"] = m
    out["num_images"] = len(imgs)
    return out


def eval_products(methods: dict, folder: Path) -> dict:
    out = {}
    photos = sorted(folder.glob("*.jpg"))
    for name, wd in methods.items():
        per = {}
        for p in photos:
            img = np.asarray(Image.open(p).convert("RGB"))
            sole = np.asarray(Image.open(folder / "sole_masks" / f"{p.stem}.png"))[..., 0] > 0
            pred = classes_for(name, wd, img)
            per[p.stem] = 100.0 * float((pred[sole] == BACKGROUND).mean())
        out[name] = {"sole_called_background_%_mean": float(np.mean(list(per.values()))),
                     "sole_called_background_%_max": float(np.max(list(per.values()))), "per_photo": per}
    out["num_photos"] = len(photos)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo-wd", required=True, help="WD trained with train.wd.input=photo")
    ap.add_argument("--black-wd", required=True, help="WD trained with train.wd.input=shoe_on_black (the old way)")
    ap.add_argument("--set", default="data/sets/wearable_area")
    ap.add_argument("--split", default="test")
    ap.add_argument("--products", default="../shared/fixtures/images/shoe_products")
    ap.add_argument("--out", default="benchmarks/training")
    a = ap.parse_args()
    t0 = time.time()
    methods = {"WD on the photo": WDPredictor.from_checkpoint(a.photo_wd, "cpu"),
               "remover -> X_m -> WD": WDPredictor.from_checkpoint(a.black_wd, "cpu"), "remover only": None}
    methods["remover -> X_m -> WD argmax (before)"] = methods["remover -> X_m -> WD"]
    assert methods["WD on the photo"].reads == "photo" and methods["remover -> X_m -> WD"].reads == "shoe_on_black"
    res = {"split": eval_split(methods, a.set, a.split), "products": eval_products(methods, Path(a.products)),
           "command": "python benchmarks/training/wd_photos.py " + " ".join(
               f"--{k.replace('_', '-')} {v}" for k, v in vars(a).items())}
    res["seconds"] = round(time.time() - t0, 1)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "wd_photos.json").write_text(json.dumps(res, indent=1))
    lines = [f"Sample test split ({res['split']['num_images']} product photos):", "",
             "| backdrop | method | BG IoU | Visible IoU | Wearable IoU | mIoU | holes (shoe px called BG) |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for key, m in res["split"].items():
        if key == "num_images":
            continue
        kind, name = key.split(" | ")
        lines.append(f"| {kind} | {name} | {m['background/IoU']:.1f} | {m['visible/IoU']:.1f} | {m['wearable/IoU']:.1f} | "
                     f"{m['mIoU']:.1f} | {m['holes_%']:.2f} % |")
    lines += ["", f"Real product photos ({res['products']['num_photos']}, sole masks): sole pixels called background", "",
              "| method | mean | worst photo |", "|---|---:|---:|"]
    for name in methods:
        r = res["products"][name]
        lines.append(f"| {name} | {r['sole_called_background_%_mean']:.2f} % | {r['sole_called_background_%_max']:.2f} % |")
    (out / "wd_photos.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
