"""The bad-input corpus, generated as small files: each case with the outcome it must have.

`ingest_corpus` writes a source folder for curation ingest, `labelled_corpus` a labelled folder for
build-set; both return {name: expected reason head} ('' = kept). A case is named after what it tests.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def photo(seed: int, size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A smooth random picture (so re-encoding keeps its perceptual hash)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).resize(size, Image.BILINEAR)


def textured(seed: int, size: tuple[int, int] = (192, 192)) -> Image.Image:
    """A picture with photo-like detail at the scale pHash looks at (over seeds 0-9 its JPEG re-encodes at
    quality 35-95 stay within 2 bits of the original's hash, well inside the default distance 4)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a decompression bomb's header, a few bytes long)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def oriented_jpeg(im: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=95, exif=exif)
    return buf.getvalue()


def mpo(frames: list[Image.Image]) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, format="MPO", save_all=True, append_images=frames[1:], quality=90)
    return buf.getvalue()


def ingest_corpus(d: Path) -> dict[str, str]:
    """A source folder with one file per ingest case; name -> expected reason head ('' kept)."""
    d.mkdir(parents=True)
    exp: dict[str, str] = {}
    photo(0).save(d / "a_good.jpg", quality=95)
    exp["a_good.jpg"] = ""
    (d / "b_exact_copy.jpg").write_bytes((d / "a_good.jpg").read_bytes())
    exp["b_exact_copy.jpg"] = "duplicate"
    base = textured(1)
    base.save(d / "c_original.png")
    exp["c_original.png"] = ""
    for q in (95, 85, 75, 65, 55, 45, 35):  # seven re-encoded copies of one picture: near duplicates
        base.save(d / f"c_reencoded_q{q}.jpg", quality=q)
        exp[f"c_reencoded_q{q}.jpg"] = "duplicate"
    data = (d / "a_good.jpg").read_bytes()
    (d / "d_truncated.jpg").write_bytes(data[: len(data) // 2])
    exp["d_truncated.jpg"] = "truncated or corrupt"
    (d / "e_text.png").write_bytes(b"not an image at all " * 20)
    exp["e_text.png"] = "not an image"
    photo(2).convert("CMYK").save(d / "f_cmyk.jpg")
    exp["f_cmyk.jpg"] = "colour mode"
    Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).save(d / "g_16bit.png")
    exp["g_16bit.png"] = "bit depth"
    photo(3, (8, 8)).save(d / "h_tiny.png")
    exp["h_tiny.png"] = "too small"
    Image.new("L", (9000, 8000)).save(d / "i_huge.png")
    exp["i_huge.png"] = "too large"
    (d / "j_bomb.png").write_bytes(png_header(100000, 100000))
    exp["j_bomb.png"] = "too large"
    (d / "k_phone.mpo").write_bytes(mpo([photo(4, (120, 80)), photo(5, (120, 80))]))
    exp["k_phone.mpo"] = ""
    (d / "l_rotated.jpg").write_bytes(oriented_jpeg(photo(6, (80, 48)), 6))
    exp["l_rotated.jpg"] = ""
    os.symlink(d / "gone.jpg", d / "m_broken_link.jpg")
    exp["m_broken_link.jpg"] = "broken link"
    (d / "n_folder.jpg").mkdir()
    exp["n_folder.jpg"] = "is a directory"
    (d / "o_notes.txt").write_text("a note among the photos")
    exp["o_notes.txt"] = "unknown suffix"
    photo(7).save(d / "p_photo.heic.bak", format="PNG")
    exp["p_photo.heic.bak"] = "unknown suffix"
    (d / "sub").mkdir()
    photo(8).save(d / "sub" / "q_nested.webp")
    exp["q_nested.webp"] = ""
    return exp


def _save(im: Image.Image, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return str(path)


def labelled_corpus(root: Path) -> tuple[Path, dict[str, str]]:
    """A wearable_area labelled folder; returns (folder, line number as str -> expected reason head ('' kept))."""
    d = root / "labelled"
    (d / "images").mkdir(parents=True)
    (d / "masks").mkdir()
    size = (48, 32)
    good_mask = np.zeros((32, 48), np.uint8)
    good_mask[8:24, 10:30] = 1
    good_mask[12:20, 14:26] = 2
    lines: list[dict] = []
    exp: dict[str, str] = {}

    def add(expect: str, **label) -> None:
        lines.append({"split": "train", **label})
        exp[str(len(lines))] = expect

    photo(10, size).save(d / "images" / "good.png")
    _save(Image.fromarray(good_mask), d / "masks" / "good.png")
    add("", id="shoe/1", image="images/good.png", area_mask="masks/good.png")
    photo(11, size).save(d / "images" / "other.png")
    add("", id="shoe_1", image="images/other.png", area_mask="masks/good.png")  # slugs alike, ids distinct
    add("field 'id': repeats the id of line 1", id="shoe/1", image="images/other.png", area_mask="masks/good.png")
    photo(12, size).save(root / "outside.png")
    add("field 'image': path '../outside.png' leaves the labelled folder", id="out-1", image="../outside.png",
        area_mask="masks/good.png")
    add("field 'image': path '/etc/passwd' leaves the labelled folder", id="out-2", image="/etc/passwd",
        area_mask="masks/good.png")
    grey16 = (np.linspace(0, 65535, 48 * 32).reshape(32, 48)).astype(np.uint16)
    Image.fromarray(grey16).save(d / "images" / "grey16.png")
    add("", id="grey-16bit", image="images/grey16.png", area_mask="masks/good.png")
    Image.fromarray(good_mask.astype(np.uint16) * 128).save(d / "masks" / "mask16.png")
    add("field 'area_mask': mask must be 8-bit", id="mask-16bit", image="images/good.png", area_mask="masks/mask16.png")
    bad_values = good_mask.copy()
    bad_values[0, 0] = 7
    _save(Image.fromarray(bad_values), d / "masks" / "class7.png")
    add("field 'area_mask': mask values [7]", id="mask-class-7", image="images/good.png", area_mask="masks/class7.png")
    (d / "images" / "rotated.jpg").write_bytes(oriented_jpeg(photo(13, size), 6))  # stored 48x32, upright 32x48
    add("field 'area_mask': mask is 48x32, image is 32x48 after its EXIF orientation 6", id="rotated-raw-mask",
        image="images/rotated.jpg", area_mask="masks/good.png")
    _save(Image.fromarray(np.ascontiguousarray(np.rot90(good_mask, -1))), d / "masks" / "upright.png")
    add("", id="rotated-upright-mask", image="images/rotated.jpg", area_mask="masks/upright.png")
    (d / "images" / "bomb.png").write_bytes(png_header(100000, 100000))
    add("field 'image': too large", id="bomb", image="images/bomb.png", area_mask="masks/good.png")
    Image.new("L", (9000, 8000)).save(d / "images" / "huge.png")
    add("field 'image': too large", id="huge", image="images/huge.png", area_mask="masks/good.png")
    add("field 'image': file not found", id="missing", image="images/none.png", area_mask="masks/good.png")
    text = "\n".join(json.dumps(x) for x in lines) + "\n{not json\n"
    exp[str(len(lines) + 1)] = "field '<line>': not valid JSON"
    (d / "labels.jsonl").write_text(text)
    return d, exp
