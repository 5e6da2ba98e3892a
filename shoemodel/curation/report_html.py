"""The curation report as one self-contained HTML page: no script, no CDN, images inline as data: URIs.

Why one file: it is mailed, attached to a ticket or opened on a laptop without the run's folders or a network.
Read top to bottom: the funnel per stage (photos and persons), counts per reason, a thumbnail grid per reason
(person box, keypoints, mask outline) with every name, the quality histogram with the worst kept records, and
every failed file by name with its error.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from shoemodel.curation.ledger import DROPPED, FAILED, PERSONS, PHOTOS
from shoemodel.curation.report import STAGE_ORDER, Example, ReportData

CSS = """
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:16px 0 6px} .muted{color:#777} table{border-collapse:collapse}
td,th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top} th{background:#f6f6f6}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:12px;vertical-align:middle} .kept{background:#2e9d49} .dropped{background:#e0a030}
.failed{background:#d33c3c} .grid{display:flex;flex-wrap:wrap;gap:8px}
.tile{width:164px;font-size:11px;word-break:break-all} .tile img{display:block;border:1px solid #ccc}
.ok{color:#2e9d49;font-weight:600} .bad{color:#d33c3c;font-weight:600} code{font-size:12px}
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def _img(jpeg: bytes | None) -> str:
    if not jpeg:
        return ""
    return f'<img alt="" src="data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}">'


def _funnel(totals: dict[str, Any]) -> str:
    top = max([t.get(k, {}).get("in", 0) for t in totals.values() for k in (PHOTOS, PERSONS)] + [1])
    rows = []
    for stage in STAGE_ORDER:
        for kind in (PHOTOS, PERSONS):
            c = totals.get(stage, {}).get(kind)
            if not c:
                continue
            d, f = sum(c["dropped"].values()), sum(c["failed"].values())
            bars = "".join(f'<span class="bar {cls}" style="width:{max(0, round(360 * n / top))}px"></span>'
                           for cls, n in (("kept", c["kept"]), ("dropped", d), ("failed", f)))
            ok = c["in"] == c["kept"] + d + f
            rows.append(f"<tr><td>{_e(stage)}</td><td>{kind}</td><td class=n>{c['in']}</td><td class=n>{c['kept']}</td>"
                        f"<td class=n>{d}</td><td class=n>{f}</td><td>{bars}</td>"
                        f"<td class={'ok' if ok else 'bad'}>{'adds up' if ok else 'DOES NOT ADD UP'}</td></tr>")
    return ("<table><tr><th>stage</th><th></th><th>in</th><th>kept</th><th>dropped</th><th>failed</th>"
            "<th><span class='bar kept' style='width:10px'></span> kept <span class='bar dropped' style='width:10px'>"
            "</span> dropped <span class='bar failed' style='width:10px'></span> failed</th><th>in = kept + dropped + failed</th>"
            "</tr>" + "".join(rows) + "</table>")


def _reasons(totals: dict[str, Any]) -> str:
    rows = []
    for stage in STAGE_ORDER:
        for kind in (PHOTOS, PERSONS):
            c = totals.get(stage, {}).get(kind)
            for outcome in (DROPPED, FAILED):
                for reason, n in sorted((c or {}).get(outcome, {}).items(), key=lambda t: -t[1]):
                    anchor = _anchor(stage, outcome, reason)
                    rows.append(f"<tr><td>{_e(stage)}</td><td>{kind}</td><td class='{outcome}-t'>{outcome}</td>"
                                f"<td><a href='#{anchor}'>{_e(reason)}</a></td><td class=n>{n}</td></tr>")
    if not rows:
        return "<p class=muted>Nothing was dropped or failed.</p>"
    return "<table><tr><th>stage</th><th></th><th>outcome</th><th>reason</th><th>count</th></tr>" + "".join(rows) + "</table>"


def _anchor(stage: str, outcome: str, reason: str) -> str:
    import re

    return "r-" + re.sub(r"[^a-z0-9]+", "-", f"{stage}-{outcome}-{reason}".lower()).strip("-")


def _caption(ex: Example) -> str:
    who = Path(ex.source_uri).name + ("" if ex.person is None else f" · person {ex.person}")
    nums = ""
    if ex.value is not None:
        nums = f"<br>value {ex.value:.3g}" + ("" if ex.threshold is None else f", threshold {ex.threshold:.3g}")
    if ex.quality is not None and ex.outcome == "kept":
        nums += f"<br>quality {ex.quality:.3f}"
    detail = f"<br><span class=muted>{_e(ex.detail)}</span>" if ex.detail else ""
    return f"<b>{_e(who)}</b>{nums}{detail}"


def _grid(examples: list[Example]) -> str:
    return "<div class=grid>" + "".join(f"<div class=tile>{_img(ex.thumb)}{_caption(ex)}</div>" for ex in examples) + "</div>"


def _per_reason(data: ReportData) -> str:
    out = []
    counts = {(s, o, r): n for s, t in data.totals.items() for k in (PHOTOS, PERSONS)
              for o in (DROPPED, FAILED) for r, n in t.get(k, {}).get(o, {}).items()}
    for stage in STAGE_ORDER:
        for (s, outcome, reason), exs in data.examples.items():
            if s != stage:
                continue
            names = data.names.get((s, outcome, reason), [])
            total = sum(n for (s2, o2, r2), n in counts.items() if (s2, o2, r2) == (s, outcome, reason))
            more = f" <span class=muted>(first {len(names)} of {total} listed)</span>" if total > len(names) else ""
            out.append(f"<h3 id='{_anchor(s, outcome, reason)}'>{_e(stage)} · {outcome} · {_e(reason)} "
                       f"<span class=muted>({total})</span></h3>{_grid(exs)}"
                       f"<details><summary>all names{more}</summary><pre>{_e(chr(10).join(names))}</pre></details>")
    return "".join(out) or "<p class=muted>Nothing was dropped or failed.</p>"


def _histogram(data: ReportData) -> str:
    top = max(data.hist + [1])
    w, h, n = 600, 160, len(data.hist)
    bars = "".join(f'<rect x="{i * w / n + 1:.1f}" y="{h - 20 - (h - 30) * v / top:.1f}" width="{w / n - 2:.1f}" '
                   f'height="{(h - 30) * v / top:.1f}" fill="#3b73c4"><title>{i / n:.2f}-{(i + 1) / n:.2f}: {v}</title></rect>'
                   for i, v in enumerate(data.hist))
    ticks = "".join(f'<text x="{x * w:.0f}" y="{h - 4}" font-size="11" text-anchor="middle">{x:.1f}</text>'
                    for x in (0.0, 0.25, 0.5, 0.75, 1.0))
    return (f'<p>{data.kept_total} kept records by {_e(data.quality_label)}; tallest bin {top}.</p>'
            f'<svg width="{w + 20}" height="{h}" viewBox="-10 0 {w + 20} {h}" role="img">{bars}'
            f'<line x1="0" y1="{h - 20}" x2="{w}" y2="{h - 20}" stroke="#999"/>{ticks}</svg>')


def _failed(data: ReportData) -> str:
    if not data.failed:
        return "<p class=muted>No file failed.</p>"
    rows = "".join(f"<tr><td>{_e(ex.stage)}</td><td><code>{_e(ex.source_uri)}</code>"
                   f"{'' if ex.person is None else f' (person {ex.person})'}</td><td>{_e(ex.detail or ex.reason)}</td></tr>"
                   for ex in data.failed)
    more = (f"<p class=muted>{data.failed_total - len(data.failed)} more not listed.</p>"
            if data.failed_total > len(data.failed) else "")
    return "<table><tr><th>stage</th><th>file</th><th>error</th></tr>" + rows + "</table>" + more


def _headline(totals: dict[str, Any]) -> str:
    """One sentence: files in, records out, and how many photos and persons were dropped or failed on the way."""
    files = totals.get("ingest", {}).get(PHOTOS, {}).get("in", 0)
    records = totals.get("build", {}).get(PERSONS, {}).get("kept")
    lost = {k: {o: sum(sum(t.get(k, {}).get(o, {}).values()) for t in totals.values()) for o in (DROPPED, FAILED)}
            for k in (PHOTOS, PERSONS)}
    out = f"{files} files in" + (f", {records} records in the set" if records is not None else "")
    return (f"<p><b>{out}.</b> Photos dropped {lost[PHOTOS][DROPPED]}, failed {lost[PHOTOS][FAILED]}; persons dropped "
            f"{lost[PERSONS][DROPPED]}, failed {lost[PERSONS][FAILED]} (inside kept photos too).</p>")


def render(data: ReportData, title: str = "Curation report") -> str:
    """The whole page."""
    worst = _grid(data.worst) if data.worst else "<p class=muted>No kept record.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>
<body><h1>{_e(title)}</h1><p class=muted>{_e(data.work_dir)}</p>{_headline(data.totals)}
<h2>Funnel</h2>{_funnel(data.totals)}
<h2>Counts per reason</h2>{_reasons(data.totals)}
<h2>Dropped and failed, per reason</h2>{_per_reason(data)}
<h2>Quality of the kept records</h2>{_histogram(data)}
<h3>The {len(data.worst)} worst kept records</h3>{worst}
<h2>Failed files</h2>{_failed(data)}
</body></html>
"""


def write_report(work_dir: str | Path, out_html: str | Path, out_root: str | Path | None = None, per_reason: int = 6,
                 worst: int = 24, thumb: int = 160) -> ReportData:
    """Gather, draw the thumbnails and write the page atomically; returns what it showed."""
    from shoemodel.curation.report import draw_thumbnails, gather
    from shoemodel.store.atomic import atomic_write_text

    data = gather(work_dir, out_root, per_reason=per_reason, worst=worst)
    draw_thumbnails(data, thumb)
    atomic_write_text(out_html, render(data, f"Curation report: {Path(out_root or work_dir).name}"))
    return data
