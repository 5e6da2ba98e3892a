"""Keypoint definitions: the single source of truth for names, indices and flips.

The shoe-leg set keeps 12 keypoints, COCO-WholeBody indices 11-22 (body 11-16, foot 17-22).
Left and right are the person's own sides, so a horizontal image flip must swap them.
"""

from __future__ import annotations

import numpy as np

#: The 12 shoe-leg keypoints in storage order.
KEYPOINT_NAMES: tuple[str, ...] = (
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_big_toe",
    "left_small_toe",
    "left_heel",
    "right_big_toe",
    "right_small_toe",
    "right_heel",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)

#: COCO-WholeBody (133-point) index of each of the 12 keypoints.
WHOLEBODY_INDEX: tuple[int, ...] = tuple(range(11, 23))

#: LpS phase 1: 8 foot keypoints, 4 per foot (ankle, big toe, small toe, heel), as indices into the 12.
FOOT_INDICES: tuple[int, ...] = (4, 6, 7, 8, 5, 9, 10, 11)
FOOT_NAMES: tuple[str, ...] = tuple(KEYPOINT_NAMES[i] for i in FOOT_INDICES)

#: LpS phase 2: the 6 leg keypoints it generates (hips, knees, ankles), as indices into the 12.
LEG_INDICES: tuple[int, ...] = (0, 1, 2, 3, 4, 5)

#: Left/right pairs within the 12 keypoints.
FLIP_PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (2, 3), (4, 5), (6, 9), (7, 10), (8, 11))

#: Skeleton edges (index pairs into the 12) with an RGB colour each, for drawing X_p.
SKELETON: tuple[tuple[int, int], ...] = (
    (0, 1),  # pelvis
    (0, 2), (2, 4),  # left thigh, calf
    (1, 3), (3, 5),  # right thigh, calf
    (4, 8), (8, 6), (6, 7), (7, 4),  # left foot: ankle-heel-big toe-small toe-ankle
    (5, 11), (11, 9), (9, 10), (10, 5),  # right foot
)
SKELETON_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255),
    (255, 85, 0), (255, 170, 0),
    (0, 85, 255), (0, 170, 255),
    (255, 0, 0), (255, 0, 85), (255, 0, 170), (255, 0, 255),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255),
)
KEYPOINT_COLORS: tuple[tuple[int, int, int], ...] = (
    (255, 128, 0), (0, 128, 255),
    (255, 200, 0), (0, 200, 255),
    (255, 255, 0), (0, 255, 255),
    (255, 0, 0), (255, 0, 128), (200, 0, 255),
    (0, 255, 0), (0, 255, 128), (0, 200, 128),
)


def _flip_permutation(n: int, pairs: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    perm = list(range(n))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


#: Index permutation applied after a horizontal flip: new[i] = old[FLIP_PERMUTATION[i]].
FLIP_PERMUTATION: tuple[int, ...] = _flip_permutation(NUM_KEYPOINTS, FLIP_PAIRS)

#: The same for the 8 foot keypoints (left foot block <-> right foot block).
FOOT_FLIP_PERMUTATION: tuple[int, ...] = (4, 5, 6, 7, 0, 1, 2, 3)


def flip_keypoints(kpts: np.ndarray, width: float, permutation: tuple[int, ...] = FLIP_PERMUTATION) -> np.ndarray:
    """Mirror keypoints (N, >=2) horizontally in an image of `width` and swap left/right.

    Missing points (visibility 0 when a third column exists) keep x = y = 0.
    """
    out = np.asarray(kpts, dtype=np.float32).copy()
    if out.shape[0] != len(permutation):
        raise ValueError(f"flip_keypoints: got {out.shape[0]} keypoints, permutation has {len(permutation)}")
    present = out[:, 2] > 0 if out.shape[1] > 2 else np.ones(len(out), bool)
    out[present, 0] = (width - 1) - out[present, 0]
    return out[list(permutation)]


def wholebody_to_shoeleg(wholebody: np.ndarray) -> np.ndarray:
    """Pick the 12 shoe-leg keypoints (12, C) out of a COCO-WholeBody (133, C) array."""
    wb = np.asarray(wholebody)
    if wb.shape[0] < 23:
        raise ValueError(f"expected >= 23 whole-body keypoints, got {wb.shape[0]}")
    return wb[list(WHOLEBODY_INDEX)].astype(np.float32)
