"""A contact sheet of one generate run: inputs (shoe, canvas, classes, X_w) on the first row, then X_p and
the result per pose, and a caption band with the run's sizes, models and per-stage confidence."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def _fit(img: np.ndarray, cell: int) -> np.ndarray:
    im = Image.fromarray(np.ascontiguousarray(img))
    s = cell / max(im.size)  # up or down: small sample-scale images stay visible (nearest when enlarging)
    im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.NEAREST if s > 1 else Image.BILINEAR)
    canvas = Image.new("RGB", (cell, cell), (255, 255, 255))
    canvas.paste(im, ((cell - im.width) // 2, (cell - im.height) // 2))
    return np.asarray(canvas)


def contact_sheet(inputs: list[np.ndarray], poses: list[np.ndarray], images: list[np.ndarray], cell: int = 256,
                  gap: int = 4, caption: list[str] | None = None) -> np.ndarray:
    """Rows: inputs; poses (X_p); results. Each cell is `cell` px square on white, with `gap` px between cells;
    `caption` lines (sizes, models, confidence) are written in a band below."""
    rows = [inputs, poses, images]
    cols = max(len(r) for r in rows)
    line_h = 14
    band = (len(caption) * line_h + gap) if caption else 0
    sheet = np.full((len(rows) * (cell + gap) + gap + band, cols * (cell + gap) + gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            y, x = gap + r * (cell + gap), gap + c * (cell + gap)
            sheet[y:y + cell, x:x + cell] = _fit(img, cell)
    if caption:
        im = Image.fromarray(sheet)
        draw = ImageDraw.Draw(im)
        top = len(rows) * (cell + gap) + gap
        for i, line in enumerate(caption):
            warn = "!!" in line or "unsure" in line
            draw.text((gap, top + i * line_h), line, fill=(200, 0, 0) if warn else (0, 0, 0))
        sheet = np.asarray(im)
    return sheet
