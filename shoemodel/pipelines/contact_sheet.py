"""A contact sheet of one generate run: inputs (shoe, X_w) on the first row, then X_p and result per pose."""

from __future__ import annotations

import numpy as np
from PIL import Image


def _fit(img: np.ndarray, cell: int) -> np.ndarray:
    im = Image.fromarray(np.ascontiguousarray(img))
    s = cell / max(im.size)  # up or down: small sample-scale images stay visible (nearest when enlarging)
    im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.NEAREST if s > 1 else Image.BILINEAR)
    canvas = Image.new("RGB", (cell, cell), (255, 255, 255))
    canvas.paste(im, ((cell - im.width) // 2, (cell - im.height) // 2))
    return np.asarray(canvas)


def contact_sheet(inputs: list[np.ndarray], poses: list[np.ndarray], images: list[np.ndarray], cell: int = 256,
                  gap: int = 4) -> np.ndarray:
    """Rows: inputs; poses (X_p); results. Each cell is `cell` px square on white, with `gap` px between cells."""
    rows = [inputs, poses, images]
    cols = max(len(r) for r in rows)
    sheet = np.full((len(rows) * (cell + gap) + gap, cols * (cell + gap) + gap, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            y, x = gap + r * (cell + gap), gap + c * (cell + gap)
            sheet[y:y + cell, x:x + cell] = _fit(img, cell)
    return sheet
