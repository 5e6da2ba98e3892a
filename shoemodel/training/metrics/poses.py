"""Plausibility and distribution metrics for generated leg poses (LpS phase 2).

Poses are (N, 6, 3) leg keypoints in LEG_INDICES order (L hip, R hip, L knee, R knee, L ankle, R ankle)
with x, y in isotropic units (pixels / max image side) and a presence flag; missing points give NaN
geometry and are skipped.
"""

from __future__ import annotations

import numpy as np

#: (hip, knee, ankle) positions within the 6 leg points, per side.
LEG_CHAINS: tuple[tuple[int, int, int], ...] = ((0, 2, 4), (1, 3, 5))
#: Ankle position of each side within the 8 foot points (FOOT_INDICES order).
FOOT_ANKLES: tuple[int, int] = (0, 4)


def _seg(p: np.ndarray, a: int, b: int) -> np.ndarray:
    ok = (p[:, a, 2] > 0) & (p[:, b, 2] > 0)
    d = np.linalg.norm(p[:, a, :2] - p[:, b, :2], axis=-1)
    return np.where(ok, d, np.nan)


def bone_ratios(leg6: np.ndarray) -> np.ndarray:
    """Thigh / calf length per side, (N, 2); NaN where a point is missing or the calf has zero length."""
    p = np.asarray(leg6, dtype=np.float64)
    cols = []
    for hip, knee, ankle in LEG_CHAINS:
        thigh, calf = _seg(p, hip, knee), _seg(p, knee, ankle)
        with np.errstate(divide="ignore", invalid="ignore"):
            cols.append(np.where(calf > 1e-9, thigh / calf, np.nan))
    return np.stack(cols, axis=1)


def knee_angles(leg6: np.ndarray) -> np.ndarray:
    """Angle hip-knee-ankle in degrees per side, (N, 2) (180 = straight leg); NaN where missing."""
    p = np.asarray(leg6, dtype=np.float64)
    cols = []
    for hip, knee, ankle in LEG_CHAINS:
        ok = (p[:, hip, 2] > 0) & (p[:, knee, 2] > 0) & (p[:, ankle, 2] > 0)
        u = p[:, hip, :2] - p[:, knee, :2]
        v = p[:, ankle, :2] - p[:, knee, :2]
        nu, nv = np.linalg.norm(u, axis=1), np.linalg.norm(v, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cos = np.clip((u * v).sum(1) / (nu * nv), -1, 1)
        ang = np.degrees(np.arccos(cos))
        cols.append(np.where(ok & (nu > 1e-9) & (nv > 1e-9), ang, np.nan))
    return np.stack(cols, axis=1)


def within_range(values: np.ndarray, reference: np.ndarray, q: tuple[float, float] = (1.0, 99.0)) -> float:
    """Fraction of finite `values` inside the [q0, q1] percentile range of finite `reference` values."""
    v = np.asarray(values, dtype=np.float64).ravel()
    r = np.asarray(reference, dtype=np.float64).ravel()
    v, r = v[np.isfinite(v)], r[np.isfinite(r)]
    if v.size == 0 or r.size == 0:
        return float("nan")
    lo, hi = np.percentile(r, q)
    return float(((v >= lo) & (v <= hi)).mean())


def mmd_rbf(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None, scales: tuple[float, ...] = (0.5, 1.0, 2.0)) -> float:
    """Unbiased squared MMD between samples x (n, d) and y (m, d) with a sum of RBF kernels.

    The base bandwidth defaults to the median pairwise distance of the pooled sample, so pass an
    explicit `bandwidth` when comparing several candidates against the same reference.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    if len(x) < 2 or len(y) < 2:
        raise ValueError("mmd_rbf needs at least 2 samples on each side")
    z = np.concatenate([x, y])
    d2 = np.maximum(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1), 0)
    if bandwidth is None:
        bandwidth = median_bandwidth(x, y)
    k = sum(np.exp(-d2 / (2 * (s * bandwidth) ** 2)) for s in scales)
    n, m = len(x), len(y)
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())


def median_bandwidth(x: np.ndarray, y: np.ndarray) -> float:
    """Median pairwise Euclidean distance of the pooled samples (the usual RBF heuristic)."""
    z = np.concatenate([np.asarray(x, np.float64).reshape(len(x), -1), np.asarray(y, np.float64).reshape(len(y), -1)])
    d = np.sqrt(np.maximum(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1), 0))
    iu = np.triu_indices(len(z), 1)
    med = float(np.median(d[iu]))
    return med if med > 0 else 1.0


def diversity(samples: np.ndarray) -> float:
    """Mean pairwise distance between the N samples drawn for the same condition, averaged over conditions.

    samples: (M conditions, N samples, D).
    """
    s = np.asarray(samples, dtype=np.float64)
    s = s.reshape(s.shape[0], s.shape[1], -1)
    if s.shape[1] < 2:
        return 0.0
    d = np.sqrt(((s[:, :, None, :] - s[:, None, :, :]) ** 2).sum(-1))
    n = s.shape[1]
    return float(d.sum(axis=(1, 2)).mean() / (n * (n - 1)))


def ankle_agreement(leg6: np.ndarray, foot8: np.ndarray, threshold: float) -> float:
    """Fraction of (sample, side) pairs, among those where the given foot ankle is present, whose
    generated ankle is present and within `threshold` of it."""
    p = np.asarray(leg6, dtype=np.float64)
    f = np.asarray(foot8, dtype=np.float64)
    hits, total = 0, 0
    for (_, _, ankle), fa in zip(LEG_CHAINS, FOOT_ANKLES, strict=True):
        given = f[:, fa, 2] > 0
        gen = p[:, ankle, 2] > 0
        d = np.linalg.norm(p[:, ankle, :2] - f[:, fa, :2], axis=-1)
        total += int(given.sum())
        hits += int((given & gen & (d <= threshold)).sum())
    return float(hits / total) if total else float("nan")
