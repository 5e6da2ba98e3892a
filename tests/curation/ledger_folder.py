"""The mixed folder of the ledger tests: real photos with feet, one without feet, a group photo, and bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

#: file name -> what it is (the outcome the ledger must give it is asserted by the tests)
MIXED = {
    "walker.jpg": "COCO photo, feet in view",
    "walker2.jpg": "COCO photo, feet in view",
    "ccp.jpg": "CCP photo, one person",
    "bus.jpg": "group photo (several people, some cut off)",
    "zidane.jpg": "two people cut off at the waist: no feet",
    "copy.jpg": "exact duplicate of walker.jpg",
    "notes.jpg": "a text file named .jpg",
    "dot.png": "a 1x1 image",
    "cut.jpg": "a truncated JPEG",
    "gone.jpg": "a link to a deleted photo (fails: unreadable)",
}


def make_mixed_folder(fixtures: Path, folder: Path) -> Path:
    """Write the mixed folder (MIXED) from the fixture photos plus generated bad files; returns it."""
    imgs = fixtures / "images"
    folder.mkdir(parents=True, exist_ok=True)
    coco = sorted((imgs / "mmpose" / "coco").glob("*.jpg"))
    shutil.copy(coco[0], folder / "walker.jpg")
    shutil.copy(coco[1], folder / "walker2.jpg")
    shutil.copy(imgs / "ccp" / "photos" / "0001.jpg", folder / "ccp.jpg")
    shutil.copy(imgs / "ultralytics_samples" / "bus.jpg", folder / "bus.jpg")
    shutil.copy(imgs / "ultralytics_samples" / "zidane.jpg", folder / "zidane.jpg")
    shutil.copy(coco[0], folder / "copy.jpg")
    (folder / "notes.jpg").write_text("not a photo\n")
    Image.new("RGB", (1, 1), (10, 20, 30)).save(folder / "dot.png")
    data = (imgs / "ccp" / "photos" / "0002.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) // 3])
    (folder / "gone.jpg").symlink_to(folder / "deleted.jpg")
    return folder
