"""A prefetching loader for a part's rows: the next batches are decoded in threads while the model runs on this one.

JPEG decode (libjpeg releases the GIL) and a model's own preprocessing (resize, normalise, stack) run in a
small thread pool, `depth` batches ahead, so the model never waits for pixels once the pipeline is full.
A row whose bytes do not decode (or whose referenced source file changed since ingest) yields its exception in
place of the image: the stage records it as failed (`failure_reason`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from shoemodel.curation.stage_io import decode_rgb
from shoemodel.curation.storage import SourceChanged, row_image_bytes


@dataclass
class Batch:
    """One batch of rows, their decoded RGB images (or the decode error), and what `prepare` made of them."""

    rows: list[dict[str, Any]]
    images: list[Any]  # np.ndarray (H, W, 3) uint8, or the Exception decoding raised
    prepared: Any = None


def _decode(row: dict[str, Any]) -> Any:
    try:
        return decode_rgb(row_image_bytes(row))
    except Exception as exc:  # noqa: BLE001 - recorded per row by the stage
        return exc


def failure_reason(exc: Exception, detail: bool = False) -> str:
    """The failed row's reason for an image that could not be had: a changed source says so (and names the
    file) as its own reason head; anything else is a decode error."""
    if isinstance(exc, SourceChanged):
        return str(exc)
    return f"decode: {type(exc).__name__}: {exc}" if detail else f"decode: {exc}"


def _load(rows: list[dict[str, Any]], prepare: Callable[[list[Any]], Any] | None) -> Batch:
    images = [_decode(r) for r in rows]
    prepared = prepare(images) if prepare is not None else None
    return Batch(rows, images, prepared)


def batches(rows: Sequence[dict[str, Any]], batch_size: int, threads: int = 2, depth: int = 2,
            prepare: Callable[[list[Any]], Any] | None = None) -> Iterator[Batch]:
    """Yield `rows` in batches of `batch_size`, decoded (and `prepare`d) up to `depth` batches ahead in `threads`.

    `threads=0` decodes in line (the per-image reference path). Order is kept.
    """
    size = max(1, int(batch_size))
    chunks = [list(rows[i: i + size]) for i in range(0, len(rows), size)]
    if threads <= 0 or len(chunks) <= 1:
        for c in chunks:
            yield _load(c, prepare)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="curation-decode") as pool:
        pending: deque[Future[Batch]] = deque()
        it = iter(chunks)
        for c in it:
            pending.append(pool.submit(_load, c, prepare))
            if len(pending) > depth:
                break
        while pending:
            batch = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_load, nxt, prepare))
            yield batch


def map_batches(rows: Sequence[dict[str, Any]], batch_size: int, threads: int, run: Callable[[Batch], list[Any]],
                prepare: Callable[[list[Any]], Any] | None = None) -> list[Any]:
    """`run` on each prefetched batch of `rows`, its outputs joined in order: a stage's row function."""
    out: list[Any] = []
    for b in batches(rows, batch_size, threads, prepare=prepare):
        out += run(b)
    return out


def ok_indices(images: list[Any]) -> list[int]:
    """Positions of the images that decoded."""
    return [i for i, im in enumerate(images) if isinstance(im, np.ndarray)]


def pin(tensor: Any, device: str) -> Any:
    """Page-locked host memory for a tensor bound for a GPU (its copy then overlaps compute); as is on the CPU."""
    if device.startswith("cuda"):
        return tensor.pin_memory()
    return tensor
