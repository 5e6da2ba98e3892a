"""The shoe prior at inference: shoe probability around one person's feet, from the shipped (or a trained) model.

`ShoePrior.load()` reads the weights that ship in the repository (weights/shoe_prior.safetensors and its card,
weights/card.json): every user has them offline. `probability` crops the feet as training did (crop.py), runs the
tiny UNet and maps the probabilities back onto the image, inside the crop's window only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shoemodel.models.shoe_prior import crop as C
from shoemodel.models.shoe_prior.model import PriorArch, TinyUNet

SHIPPED = Path(__file__).resolve().parent / "weights"
#: The second segmenting prior: the same network on 128 px crops; the segment backend averages its map with the
#: 96 px prior's (weights_128/card.json: on the CCP val split the mean of the two is better than either).
SHIPPED_128 = Path(__file__).resolve().parent / "weights_128"
#: The priors the segment backend averages when curation.segment.prior_weights is empty.
SHIPPED_SEGMENTERS = (SHIPPED, SHIPPED_128)
#: The checker: the same network trained also on leg crops with no shoe (train.shoe_prior.negative_prob), so it says
#: "no shoe" on a leg, a ball or a reflection that pose took for a foot; the quality check runs it (check/card.json).
SHIPPED_CHECK = Path(__file__).resolve().parent / "check"
WEIGHTS_FILE, CARD_FILE = "shoe_prior.safetensors", "card.json"


@dataclass
class PriorMap:
    """Shoe probability on the image window (x1, y1, x2, y2) of one person's feet crop."""

    window: tuple[int, int, int, int]
    prob: np.ndarray  # (y2 - y1, x2 - x1) float32

    def full(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape, np.float32)
        x1, y1, x2, y2 = self.window
        out[y1:y2, x1:x2] = self.prob
        return out


class _PersonMaps:
    """`probability` of one person from the class's `probabilities` (shared by a prior and an ensemble of them)."""

    def probabilities(self, image: np.ndarray, persons: list[tuple[np.ndarray, np.ndarray | None]],
                      views: tuple[tuple[float, bool], ...] = ((1.0, False),)) -> list[PriorMap | None]:
        raise NotImplementedError

    def probability(self, image: np.ndarray, keypoints: np.ndarray, person_box: np.ndarray | None = None) -> PriorMap | None:
        """Shoe probability around this person's feet (None without two foot points)."""
        return self.probabilities(image, [(keypoints, person_box)])[0]


class ShoePrior(_PersonMaps):
    """Tiny UNet + its crop geometry; `version` names the weights (their SHA-256 prefix)."""

    def __init__(self, model: TinyUNet, card: dict, version: str):
        import torch

        # channels-last: the network runs 1.2-1.35x faster on CPU in this layout (benchmarks/curation/shoe_prior_speed.md)
        self.model, self.card, self.version = model.eval().to(memory_format=torch.channels_last), card, version
        self.arch = model.arch

    @classmethod
    def load(cls, folder: str | Path | None = None) -> ShoePrior:
        """The model in `folder` (shoe_prior.safetensors + card.json); the shipped one when None or empty."""
        import hashlib

        from safetensors.torch import load_file

        from shoemodel.models.weights import require_weights

        d = require_weights(folder, "shoe prior weights folder") if folder else SHIPPED
        wpath = d / WEIGHTS_FILE
        if not wpath.exists():
            from shoemodel.models.weights import WeightsNotFound

            raise WeightsNotFound(f"shoe prior: {wpath} not found (train one: shoemodel train shoe-prior)")
        card = json.loads((d / CARD_FILE).read_text())
        model = TinyUNet(PriorArch(**card["arch"]))
        state = {k: v.float() for k, v in load_file(str(wpath)).items()}
        model.load_state_dict(state)
        version = "shoe-prior-" + hashlib.sha256(wpath.read_bytes()).hexdigest()[:12]
        return cls(model, card, version)

    def inputs(self, image: np.ndarray, keypoints: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """(C, S, S) float32 model input of one crop."""
        s = self.arch.size
        img = C.warp(image, matrix, s).astype(np.float32).transpose(2, 0, 1) / 255
        if self.arch.points_channel:
            img = np.concatenate([img, C.points_channel(keypoints, matrix, s)[None]])
        return img

    def crop_probs(self, batch: np.ndarray) -> np.ndarray:
        """(N, C, S, S) inputs -> (N, S, S) probabilities."""
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(batch).contiguous(memory_format=torch.channels_last)
            return torch.sigmoid(self.model(x)[:, 0]).contiguous().numpy()

    def probabilities(self, image: np.ndarray, persons: list[tuple[np.ndarray, np.ndarray | None]],
                      views: tuple[tuple[float, bool], ...] = ((1.0, False),)) -> list[PriorMap | None]:
        """One map per (keypoints, person box) of an image, all crops run as one batch; with several `views`
        ((zoom, flip) of the crop) the map is their mean, on the window of the plain crop."""
        h, w = image.shape[:2]
        squares = [C.crop_square(k, b) for k, b in persons]
        todo = [i for i, sq in enumerate(squares) if sq is not None]
        out: list[PriorMap | None] = [None] * len(persons)
        if not todo:
            return out
        jobs = [(i, C.crop_matrix(squares[i], self.arch.size, z, f)) for i in todo for z, f in views]  # type: ignore[arg-type]
        probs = self.crop_probs(np.stack([self.inputs(image, persons[i][0], m) for i, m in jobs]))
        acc: dict[int, np.ndarray] = {}
        for (i, mat), p in zip(jobs, probs):
            cx, cy, side = squares[i]  # type: ignore[misc]
            x1, y1 = max(int(np.floor(cx - side / 2)), 0), max(int(np.floor(cy - side / 2)), 0)
            x2, y2 = min(int(np.ceil(cx + side / 2)) + 1, w), min(int(np.ceil(cy + side / 2)) + 1, h)
            if x2 <= x1 or y2 <= y1:
                continue
            m = mat.copy()
            m[:, 2] += m[:, :2] @ np.array([x1, y1], np.float32)  # window pixels -> crop pixels
            acc[i] = acc.get(i, 0) + C.to_image(p, m, (y2 - y1, x2 - x1)) / len(views)
            out[i] = PriorMap((x1, y1, x2, y2), acc[i])
        return out


class PriorEnsemble(_PersonMaps):
    """Several priors as one: the mean of their maps. Every member crops the same square (crop.py: the square
    depends on the points and box, not on the model's input size), so the maps share their window."""

    def __init__(self, members: list[ShoePrior]):
        if not members:
            raise ValueError("a prior ensemble needs at least one prior")
        self.members = members
        self.version = " + ".join(m.version for m in members)

    def probabilities(self, image: np.ndarray, persons: list[tuple[np.ndarray, np.ndarray | None]],
                      views: tuple[tuple[float, bool], ...] = ((1.0, False),)) -> list[PriorMap | None]:
        """Per person the mean of the members' maps (each the mean over `views`)."""
        runs = [m.probabilities(image, persons, views) for m in self.members]
        out: list[PriorMap | None] = []
        for maps in zip(*runs):
            if any(pm is None for pm in maps):
                out.append(None)
                continue
            out.append(PriorMap(maps[0].window, sum(pm.prob for pm in maps) / len(maps)))  # type: ignore[union-attr]
        return out
