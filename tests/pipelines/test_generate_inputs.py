"""`generate` refuses bad inputs with one line and exit 2, before any model loads."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image


def _png_header_only(path, w, h):
    """A PNG whose header claims w x h (a decompression bomb's header; no real pixel data)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


@pytest.fixture
def run_cli(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import shoemodel.pipelines.run_generate as rg
    from shoemodel.cli import app

    def no_models(cfg):
        raise AssertionError("a model was loaded before the inputs were checked")

    monkeypatch.setattr(rg, "build_pipeline", no_models)

    def run(shoe, *extra):
        return CliRunner().invoke(app, ["generate", "--shoe", str(shoe), "--prompt", "p", "--out", str(tmp_path / "o"),
                                        "--set", "generate.wd=null", *map(str, extra)])
    return run


def _one_line_error(result, *words):
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_missing_file(tmp_path, run_cli):
    _one_line_error(run_cli(tmp_path / "nope.jpg"), "shoe photo not found", "nope.jpg")


def test_a_folder(tmp_path, run_cli):
    _one_line_error(run_cli(tmp_path), "shoe photo is not a file")


def test_not_an_image(tmp_path, run_cli):
    p = tmp_path / "notes.jpg"
    p.write_text("hello")
    _one_line_error(run_cli(p), "is not an image", "notes.jpg")


def test_truncated_jpeg(tmp_path, run_cli, product):
    p = tmp_path / "cut.jpg"
    Image.fromarray(product.image).resize((256, 256)).save(p, quality=95)
    p.write_bytes(p.read_bytes()[:600])
    _one_line_error(run_cli(p), "truncated or corrupt", "cut.jpg")


def test_plain_white_image_says_no_shoe(tmp_path, run_cli):
    p = tmp_path / "white.png"
    Image.new("RGB", (64, 64), (255, 255, 255)).save(p)
    _one_line_error(run_cli(p), "no shoe found in", "white.png")


def test_white_with_noise_still_has_no_shoe(tmp_path, run_cli):
    """JPEG-like grain on an empty studio backdrop is not a shoe (the background remover's verdict)."""
    rng = np.random.default_rng(0)
    p = tmp_path / "empty.png"
    Image.fromarray(np.clip(240 + rng.integers(-3, 4, (64, 64, 3)), 0, 255).astype(np.uint8)).save(p)
    _one_line_error(run_cli(p), "no shoe found in", "empty.png")


def test_fully_transparent_png(tmp_path, run_cli, product):
    p = tmp_path / "clear.png"
    rgba = np.dstack([product.image, np.zeros(product.image.shape[:2], np.uint8)])
    Image.fromarray(rgba, "RGBA").save(p)
    _one_line_error(run_cli(p), "no shoe found in", "fully transparent")


def test_bomb_header_is_too_large_before_decoding(tmp_path, run_cli):
    p = tmp_path / "bomb.png"
    _png_header_only(p, 100_000, 100_000)
    _one_line_error(run_cli(p), "too large", "10000 MP")


def test_mask_drawn_on_the_sideways_photo(tmp_path, run_cli, product):
    photo = tmp_path / "shoe.png"
    Image.fromarray(product.image[:, :40]).save(photo)  # 40 x 48
    mask = tmp_path / "mask.png"
    Image.fromarray((product.area_mask[:40, :] > 0).astype(np.uint8) * 255).save(mask)  # 48 x 40: the other way
    _one_line_error(run_cli(photo, "--mask", mask), "mask (--mask)", "upright photo")


def test_missing_mask_and_bad_class_values(tmp_path, run_cli, product):
    photo = tmp_path / "shoe.png"
    Image.fromarray(product.image).save(photo)
    _one_line_error(run_cli(photo, "--mask", tmp_path / "none.png"), "mask (--mask) not found")
    bad = tmp_path / "classes.png"
    Image.fromarray(np.full(product.area_mask.shape, 7, np.uint8)).save(bad)
    _one_line_error(run_cli(photo, "--area-mask", bad), "holds value 7")


def test_bad_size_setting(tmp_path, run_cli, product):
    photo = tmp_path / "shoe.png"
    Image.fromarray(product.image).save(photo)
    _one_line_error(run_cli(photo, "--size", "0"), "generate.size must be at least 8")


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    from shoemodel.pipelines.photo_input import load_photo

    a = np.zeros((32, 32), np.uint16)
    a[8:24, 8:24] = 65535
    a[:, :4] = 32768
    p = tmp_path / "deep.png"
    Image.fromarray(a).save(p)
    rgb = load_photo(p).rgb
    assert rgb.shape == (32, 32, 3) and rgb[16, 16, 0] == 255 and rgb[0, 0, 0] == 128 and rgb[0, 5, 0] == 0


def test_huge_jpeg_is_decoded_reduced_with_bounded_memory(tmp_path, product):
    """A 36 MP JPEG read for a 1024 px working size: peak memory far below one full decode (108 MB)."""
    import subprocess
    import sys

    p = tmp_path / "huge.jpg"
    Image.fromarray(product.image).resize((6000, 6000), Image.NEAREST).save(p, quality=80)
    code = ("import resource, sys\n"
            "from shoemodel.pipelines.photo_input import load_photo\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            f"ph = load_photo({str(p)!r}, max_side=1024)\n"
            "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "print(ph.size, ph.original_size, ph.capped, (after - before) // 1024)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[:4] == ["(1024,", "1024)", "(6000,", "6000)"] and out[4] == "True"
    assert int(out[5]) < 50, f"peak memory grew by {out[5]} MB"


@pytest.mark.parametrize("args, message", [
    (["-n", "0"], "generate.n (-n) must be >= 1, got 0"),
    (["--size", "0"], "generate.size must be at least 8 px, got 0"),
    (["--set", "generate.steps=0"], "generate.steps must be >= 1, got 0"),
])
def test_out_of_range_numbers_are_one_line_errors(tmp_path, args, message):
    from typer.testing import CliRunner

    from shoemodel.cli import app

    photo = tmp_path / "shoe.png"
    Image.new("RGB", (16, 16)).save(photo)
    r = CliRunner().invoke(app, ["generate", "--shoe", str(photo), "--prompt", "p", "--out", str(tmp_path / "o"), *args])
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert r.exit_code == 2 and lines == [f"error: {message}"], r.output
    assert not (tmp_path / "o").exists()


def test_demo_page_messages_name_the_page_not_cli_flags(tmp_path):
    """generate's messages name its flags (--mask, --area-mask); the demo page has boxes instead, and says so."""
    from shoemodel.demo.app import page_message
    from shoemodel.pipelines.run_generate import GenerateConfig, prepare_inputs

    empty, classes = tmp_path / "empty.png", tmp_path / "classes.png"
    grain = np.random.default_rng(0).integers(-3, 4, (64, 64, 3))
    Image.fromarray(np.clip(240 + grain, 0, 255).astype(np.uint8)).save(empty)  # a backdrop, no shoe
    Image.fromarray(np.full((64, 64), 7, np.uint8)).save(classes)  # 7: no such class
    for kwargs in ({}, {"area_mask": classes}):
        with pytest.raises(ValueError) as err:
            prepare_inputs(empty, GenerateConfig(), **kwargs)
        assert "--" in str(err.value)  # the command's message names a flag ...
        shown = page_message(err.value)
        assert "--" not in shown and "'Class mask 0/1/2' box" in shown, shown  # ... the page names its box
