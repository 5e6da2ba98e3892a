"""The demo page: upload a shoe photo, write a prompt, choose n / seed / layout, and see what `generate` makes.

It calls the generate pipeline's public functions (`run_generate`, `build_pipeline`), so the page shows what
the command writes: the wearable-area classes WD found, X_w (the shoe pixels kept exactly), the sampled leg
poses and the outputs. The models are loaded once, by the paths of the params file's `generate` section.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from shoemodel.demo.config import DemoConfig
from shoemodel.pipelines.config import GenerateConfig
from shoemodel.pipelines.run_generate import build_pipeline, run_generate

log = logging.getLogger("shoemodel.demo")

#: generate's messages name its command-line flags; on the page they name what the page has instead.
PAGE_WORDS = (
    (" (give --mask)", ": upload its class mask (the 'Class mask 0/1/2' box), or a photo on a plain studio background"),
    ("class mask (--area-mask)", "class mask (the 'Class mask 0/1/2' box)"),
    ("(--area-mask)", "(the 'Class mask 0/1/2' box)"),
)


def page_message(exc: BaseException) -> str:
    """The one line the page (and the log) shows for a refused request, in the page's words."""
    text = " ".join(str(exc).split())
    for flag, words in PAGE_WORDS:
        text = text.replace(flag, words)
    return text


class Generator:
    """Loads the pipeline on first use (one at a time: the models are not shared between threads) and runs it."""

    def __init__(self, gen: GenerateConfig, demo: DemoConfig):
        self.gen, self.demo = gen, demo
        self._pipe: Any = None
        self._lock = threading.Lock()

    def pipeline(self) -> Any:
        if self._pipe is None:
            self._pipe = build_pipeline(self.gen)
        return self._pipe

    def __call__(self, photo: np.ndarray | None, prompt: str, n: float, seed: float, scale: float, rotate: float,
                 tx: float, ty: float, area_mask: str | None = None) -> tuple[Any, ...]:
        """One request -> (classes, X_w, poses, outputs, record) for the page; `area_mask`: a 0/1/2 class mask
        file of the photo, which replaces WD (as `generate --area-mask`)."""
        from PIL import Image

        if photo is None:
            raise ValueError("upload a shoe photo first")
        if not str(prompt).strip():
            raise ValueError("write a prompt (e.g. 'a photo of a person wearing shoes')")
        n = int(n)
        if not 1 <= n <= self.demo.max_n:
            raise ValueError(f"n must be 1..{self.demo.max_n}")
        folder = Path(self.demo.out) / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True, exist_ok=True)
        shoe = folder / "shoe.png"
        Image.fromarray(np.asarray(photo, np.uint8)).convert("RGB").save(shoe)
        cfg = dataclasses.replace(self.gen, n=n, seed=int(seed), out=str(folder),
                                  layout={"scale": float(scale), "rotate": float(rotate), "tx": float(tx), "ty": float(ty)})
        with self._lock:
            record = run_generate(shoe, prompt, folder, cfg, area_mask=area_mask or None, pipeline=self.pipeline())
        files = record["files"]
        return (str(folder / files["classes"]), str(folder / files["x_w"]),
                [str(folder / p) for p in files["poses"]], [str(folder / p) for p in files["images"]],
                _for_page(record))


def _for_page(record: dict[str, Any]) -> dict[str, Any]:
    """The run record for the page's JSON box: model folders as one line each (a bare path would be taken
    for a file to download by gradio's client)."""
    shown = {k: v for k, v in record.items() if k not in ("sw_meta", "models")}
    shown["models"] = [f"{m['stage']}: {m.get('path') or 'random'}" + (f" ({m['note']})" if m.get("note") else "")
                       for m in record.get("models") or [] if m]
    return shown


def build_app(gen: GenerateConfig, demo: DemoConfig, generator: Generator | None = None) -> Any:
    """The Gradio Blocks page; its one API endpoint is `/generate` (as gradio_client calls it)."""
    import gradio as gr

    run = generator or Generator(gen, demo)

    def handle(*args: Any) -> tuple[Any, ...]:
        try:
            return run(*args)
        except (ValueError, FileNotFoundError) as exc:  # bad input or a missing checkpoint: say it on the page,
            message = page_message(exc)  # and one line in the log (a traceback only for an unexpected error)
            log.warning("request refused: %s", message)
            raise gr.Error(message, print_exception=False) from None

    with gr.Blocks(title="ShoeModel: generate") as page:
        gr.Markdown("# ShoeModel\nA shoe photo and a prompt in; people wearing exactly that shoe out "
                    "(the visible shoe pixels are pasted back unchanged).")
        with gr.Row():
            with gr.Column():
                photo = gr.Image(label="Shoe photo", type="numpy", image_mode="RGB")
                prompt = gr.Textbox(label="Prompt", value="a photo of a person wearing shoes")
                with gr.Row():
                    n = gr.Slider(1, demo.max_n, value=min(gen.n, demo.max_n), step=1, label="n (images)")
                    seed = gr.Number(value=gen.seed, precision=0, label="Seed")
                with gr.Accordion("Layout of the shoe on the canvas", open=True):
                    scale = gr.Slider(0.3, 1.5, value=float(gen.layout.get("scale", 1.0)), step=0.05, label="scale")
                    rotate = gr.Slider(-45, 45, value=float(gen.layout.get("rotate", 0.0)), step=1, label="rotate (deg)")
                    tx = gr.Slider(-0.5, 0.5, value=float(gen.layout.get("tx", 0.0)), step=0.01, label="shift x")
                    ty = gr.Slider(-0.5, 0.5, value=float(gen.layout.get("ty", 0.0)), step=0.01, label="shift y")
                area_mask = gr.Image(label="Class mask 0/1/2 (optional; replaces WD)", type="filepath",
                                     image_mode="L")
                go = gr.Button("Generate", variant="primary")
            with gr.Column():
                with gr.Row():
                    classes = gr.Image(label="WD classes (visible blue, wearable yellow)", type="filepath")
                    x_w = gr.Image(label="X_w (kept shoe pixels)", type="filepath")
                poses = gr.Gallery(label="Leg poses (LpS)", columns=4, height="auto")
                outputs = gr.Gallery(label="Outputs", columns=2, height="auto")
                info = gr.JSON(label="Run")
        go.click(handle, [photo, prompt, n, seed, scale, rotate, tx, ty, area_mask], [classes, x_w, poses, outputs, info],
                 api_name="generate")
    return page
