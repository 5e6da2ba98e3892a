"""Read the user's shoe photo the way they see it, and refuse a bad one before any model loads.

EXIF orientation is applied (a phone photo shot sideways is upright here, as in every viewer); an alpha
channel is the shoe's foreground (transparent product PNGs) and the photo is composited on white there;
16-bit images are scaled, not clipped. A photo larger than `max_side` is reduced on load (JPEG decodes at
a reduced scale, so memory stays bounded) and the caller says so; one above `max_pixels` is refused from
its header, before decoding.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError


class InputError(ValueError):
    """A user input that cannot be used; the message names the file and the reason (one line)."""


@dataclass
class Photo:
    """An upright photo: RGB at `size` (the photo's own pixels unless `capped`), and its alpha foreground."""

    rgb: np.ndarray
    alpha: np.ndarray | None  # bool (H, W): opaque pixels, when the file has a non-trivial alpha channel
    path: Path
    original_size: tuple[int, int]  # (w, h) after EXIF orientation, before any cap
    transposed: bool  # EXIF orientation was applied
    capped: bool  # reduced to max_side on load

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]


@contextmanager
def _pixel_limit(max_pixels: int) -> Iterator[None]:
    """PIL's bomb guard set to our own limit (we check the header ourselves and say "too large")."""
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def _open(path: Path, what: str) -> Image.Image:
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if not path.is_file():
        raise InputError(f"{what} is not a file: {path}")
    try:
        return Image.open(path)
    except (UnidentifiedImageError, ImportError):  # ImportError: an opener plugged in by another library
        raise InputError(f"{what} is not an image (cannot identify its format): {path}") from None
    except OSError as exc:
        raise InputError(f"{what} is truncated or corrupt: {path}: {exc}") from None


def _to_uint8(im: Image.Image) -> Image.Image:
    """8-bit RGB / RGBA of any PIL mode; 16/32-bit greys scaled by their range, not clipped at 255."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        return Image.fromarray(np.clip(a / top * 255.0 + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        return im.convert("RGBA")
    return im.convert("RGB")


def load_photo(path: str | Path, max_side: int = 4096, max_pixels: int = 250_000_000, what: str = "shoe photo") -> Photo:
    """The photo upright, 8-bit, at most `max_side` on its long side; InputError for anything unusable."""
    path = Path(path)
    with _pixel_limit(max_pixels):
        im = _open(path, what)
        with im:
            w, h = im.size
            if w * h > max_pixels:
                raise InputError(f"{what} too large: {path} is {w}x{h} = {w * h / 1e6:.0f} MP > generate.max_pixels "
                                 f"{max_pixels / 1e6:.0f} MP")
            if min(w, h) < 8:
                raise InputError(f"{what} too small: {path} is {w}x{h} (min side 8 px)")
            orientation = im.getexif().get(0x0112, 1) or 1
            capped = max(w, h) > max_side
            if capped and im.format == "JPEG":  # decode at 1/2, 1/4 or 1/8 scale: bounded memory
                im.draft("RGB", (max(1, w * max_side // max(w, h)), max(1, h * max_side // max(w, h))))
            try:
                im.load()
            except (OSError, SyntaxError, ValueError) as exc:
                raise InputError(f"{what} is truncated or corrupt: {path}: {exc}") from None
            up = ImageOps.exif_transpose(im) if orientation != 1 else im
            ow, oh = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
            up = _to_uint8(up)
            if max(up.size) > max_side:
                up.thumbnail((max_side, max_side), Image.LANCZOS)
    arr = np.asarray(up)
    alpha = None
    if arr.shape[-1] == 4:
        a = arr[..., 3].astype(np.float32) / 255.0
        rgb = np.clip(arr[..., :3] * a[..., None] + 255.0 * (1 - a[..., None]) + 0.5, 0, 255).astype(np.uint8)
        rgb[a == 1.0] = arr[..., :3][a == 1.0]  # opaque pixels are the file's own values, exactly
        if (arr[..., 3] < 255).any():
            alpha = arr[..., 3] >= 128
            if not alpha.any():
                raise InputError(f"no shoe found in {path}: the alpha channel is fully transparent")
        arr = rgb
    if arr.std() < 1.0 and alpha is None:
        raise InputError(f"no shoe found in {path}: the image is one plain colour")
    return Photo(np.ascontiguousarray(arr), alpha, path, (ow, oh), orientation != 1, capped)


def load_user_mask(path: str | Path, size: tuple[int, int], what: str) -> np.ndarray:
    """A mask file (upright like the photo) as uint8 (H, W) at size=(w, h), nearest; InputError if unusable."""
    path = Path(path)
    im = _open(path, what)
    with im:
        try:
            up = ImageOps.exif_transpose(im)
            up = up.convert("L") if up.mode not in ("L", "P", "1") else up
            arr = np.asarray(up.convert("L") if up.mode == "1" else up)
        except (OSError, SyntaxError, ValueError) as exc:
            raise InputError(f"{what} is truncated or corrupt: {path}: {exc}") from None
    mw, mh = arr.shape[1], arr.shape[0]
    if abs(mw / mh - size[0] / size[1]) > 0.02:
        raise InputError(f"{what} {path} is {mw}x{mh}, the upright photo is {size[0]}x{size[1]} (after EXIF "
                         "orientation): draw the mask on the upright photo")
    if (mw, mh) != tuple(size):
        arr = np.asarray(Image.fromarray(arr).resize(tuple(size), Image.NEAREST))
    return arr


def working_copy(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """A reduced copy (long side <= max_side) for the foreground and WD; the photo itself is kept."""
    h, w = rgb.shape[:2]
    if max(w, h) <= max_side:
        return rgb
    s = max_side / max(w, h)
    return np.asarray(Image.fromarray(rgb).resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS))
