"""The Label Studio labeling config of the wearable-area task and its label <-> class-id map.

Only the two foreground classes are brushes; background is whatever is left unpainted.
Colours come from `shoemodel.schemas.classes` so the UI matches the paper's figures.
"""

from __future__ import annotations

from shoemodel.schemas.classes import CLASS_HEX, VISIBLE, WEARABLE

FROM_NAME = "area"
TO_NAME = "image"
DATA_KEY = "image"
#: Label names in Label Studio -> class ids of the wearable-area schema.
LABELS: dict[str, int] = {"Visible": VISIBLE, "Wearable": WEARABLE}
LABEL_OF: dict[int, str] = {v: k for k, v in LABELS.items()}
#: Painting order when two labels overlap: the later one wins (wearable drawn over visible).
PAINT_ORDER: tuple[int, ...] = (VISIBLE, WEARABLE)


def label_config() -> str:
    """The XML labeling config: one image, brush labels for visible and wearable area."""
    labels = "\n".join(
        f'    <Label value="{name}" background="{CLASS_HEX[cid]}"/>' for name, cid in LABELS.items()
    )
    return (
        "<View>\n"
        f'  <Image name="{TO_NAME}" value="${DATA_KEY}" zoom="true" zoomControl="true"/>\n'
        f'  <BrushLabels name="{FROM_NAME}" toName="{TO_NAME}">\n'
        f"{labels}\n"
        "  </BrushLabels>\n"
        "</View>\n"
    )
