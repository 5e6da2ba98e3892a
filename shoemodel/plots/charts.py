"""The chart kinds the project's plots need, drawn with matplotlib's Agg backend: a PNG per chart, no display,
no network (DVC's own HTML loads vega from a CDN and shows a blank page offline)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from shoemodel.store.atomic import atomic_path  # noqa: E402


def _save(fig: plt.Figure, path: str | Path, dpi: int) -> Path:
    path = Path(path)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return path


def lines(path: str | Path, series: Mapping[str, tuple[Sequence[float], Sequence[float]]], title: str,
          xlabel: str, ylabel: str, *, dpi: int = 100, logy: bool = False, markers: bool = False) -> Path:
    """One line per series (x, y): loss against step, a metric against the annotation round (`markers`:
    whole-number x ticks, one per point)."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if markers:
        ax.xaxis.get_major_locator().set_params(integer=True)
    for name, (x, y) in series.items():
        ax.plot(x, y, marker="o" if markers else None, label=name)
    if logy and all(min(y) > 0 for _, y in series.values() if len(y)):
        ax.set_yscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend()
    return _save(fig, path, dpi)


def histograms(path: str | Path, groups: Mapping[str, Sequence[float]], title: str, xlabel: str,
               bins: int | Sequence[float] = 20, dpi: int = 100) -> Path:
    """Overlaid histograms of one per-record value, one per group (split), on shared bins."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    values = [np.asarray(v, dtype=float) for v in groups.values()]
    everything = np.concatenate(values) if values else np.zeros(0)
    if isinstance(bins, int) and everything.size:
        lo, hi = float(everything.min()), float(everything.max())
        bins = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    for name, v in zip(groups, values):  # as fractions, so a small split reads beside a big one
        ax.hist(v, bins=bins, weights=np.full(v.size, 1 / max(v.size, 1)), histtype="step", linewidth=1.8,
                label=f"{name} ({v.size})")
    ax.set(title=title, xlabel=xlabel, ylabel="fraction of records")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path, dpi)


def bars(path: str | Path, groups: Mapping[str, Mapping[str, float]], title: str, ylabel: str, *,
         colors: Mapping[str, str] | None = None, dpi: int = 100, ylim: tuple[float, float] | None = None,
         horizontal: bool = False) -> Path:
    """Grouped bars: categories on the axis, one bar per group in each (e.g. per-class IoU per method).

    `colors` maps a group, or with a single group each category, to its colour (a class's own colour).
    """
    names = list(groups)
    categories = list(dict.fromkeys(c for g in groups.values() for c in g))
    width = 0.8 / max(len(names), 1)
    pos = np.arange(len(categories))
    tall = horizontal and len(categories) > 6
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(categories) + 1.5) if tall else (6, 3.6))
    for i, name in enumerate(names):
        values = [groups[name].get(c, np.nan) for c in categories]
        color = [(colors or {}).get(c) for c in categories] if len(names) == 1 and colors else (colors or {}).get(name)
        kw = {"label": name, "color": color, "edgecolor": "black", "linewidth": 0.5}
        if horizontal:
            ax.barh(pos + i * width - 0.4 + width / 2, values, height=width, **kw)
        else:
            ax.bar(pos + i * width - 0.4 + width / 2, values, width=width, **kw)
    if horizontal:
        ax.set_yticks(pos, categories)
        ax.invert_yaxis()
        ax.set(title=title, xlabel=ylabel)
        if ylim:
            ax.set_xlim(*ylim)
    else:
        ax.set_xticks(pos, categories, rotation=30 if max(map(len, categories), default=0) > 8 else 0, ha="right")
        ax.set(title=title, ylabel=ylabel)
        if ylim:
            ax.set_ylim(*ylim)
    ax.grid(alpha=0.3, axis="x" if horizontal else "y")
    if len(names) > 1:
        ax.legend()
    return _save(fig, path, dpi)
