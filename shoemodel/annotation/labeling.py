"""The Label Studio labeling config of the wearable-area task and its label <-> class-id map.

Only the two foreground classes are brushes; background is whatever is left unpainted.
Colours come from `shoemodel.schemas.classes` so the UI matches the paper's figures.
A keypoint and a rectangle tool with the same two labels are "smart only": they appear when the project's
ML backend (`shoemodel annotate ml-backend` with a SAM checkpoint) is on for interactive pre-annotations,
and send it the prompt; the answer is a brush region. The importer reads brushes only, so a prompt left in
a submitted annotation changes nothing.
"""

from __future__ import annotations

from shoemodel.schemas.classes import CLASS_HEX, VISIBLE, WEARABLE

FROM_NAME = "area"
PROMPT_POINT = "prompt_point"
PROMPT_BOX = "prompt_box"
TO_NAME = "image"
DATA_KEY = "image"
#: Label names in Label Studio -> class ids of the wearable-area schema.
LABELS: dict[str, int] = {"Visible": VISIBLE, "Wearable": WEARABLE}
LABEL_OF: dict[int, str] = {v: k for k, v in LABELS.items()}
#: Painting order when two labels overlap: the later one wins (wearable drawn over visible).
PAINT_ORDER: tuple[int, ...] = (VISIBLE, WEARABLE)


def _labels() -> str:
    return "\n".join(f'    <Label value="{name}" background="{CLASS_HEX[cid]}"/>' for name, cid in LABELS.items())


def _brush_only_config() -> str:
    return (
        "<View>\n"
        f'  <Image name="{TO_NAME}" value="${DATA_KEY}" zoom="true" zoomControl="true"/>\n'
        f'  <BrushLabels name="{FROM_NAME}" toName="{TO_NAME}">\n'
        f"{_labels()}\n"
        "  </BrushLabels>\n"
        "</View>\n"
    )


def label_config() -> str:
    """The XML labeling config: one image, brush labels for visible and wearable area, and the smart-only
    keypoint and rectangle prompts an interactive ML backend answers."""
    smart = 'smart="true" smartOnly="true"'
    return _brush_only_config().replace("</View>\n", (
        f'  <KeyPointLabels name="{PROMPT_POINT}" toName="{TO_NAME}" {smart}>\n{_labels()}\n  </KeyPointLabels>\n'
        f'  <RectangleLabels name="{PROMPT_BOX}" toName="{TO_NAME}" {smart}>\n{_labels()}\n  </RectangleLabels>\n'
        "</View>\n"))


def earlier_label_configs() -> tuple[str, ...]:
    """Configs earlier versions created projects with; such a project is upgraded in place (tags only added)."""
    return (_brush_only_config(),)
