"""Charts drawn as SVG on the server: bar charts (with confidence intervals), parallel coordinates
(a sweep's trials) and the lineage graph.

Server-drawn SVG needs no script, works under the page's strict CSP (presentation attributes,
no ``style``), prints, and is testable as text. Time series are the one exception: they are
drawn in the browser by uPlot (``static/app.js``) from the JSON the page embeds. Every label is
escaped; values come from the services and are plain numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

BAR_W, GAP, LABEL_W, CHART_W = 18, 6, 150, 520


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    low: float | None = None  # confidence interval, drawn as a whisker when both ends are known
    high: float | None = None


def bars(items: Sequence[Bar], *, title: str, unit: str = "") -> Markup:
    """Horizontal bars, one per item, scaled to the largest value (or CI end)."""
    if not items:
        return Markup(f'<p class="empty">{escape(title)}: nothing to draw</p>')
    top = max(max(b.value, b.high or 0.0) for b in items) or 1.0
    span = CHART_W - LABEL_W - 70
    height = len(items) * (BAR_W + GAP) + 24
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {CHART_W} {height}" width="{CHART_W}" height="{height}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="14" class="chart-title">{escape(title)}</text>',
    ]
    for i, b in enumerate(items):
        y = 24 + i * (BAR_W + GAP)
        w = max(0.0, b.value) / top * span
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 13}" text-anchor="end">{escape(b.label[:24])}</text>')
        parts.append(f'<rect class="bar" x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_W}"/>')
        if b.low is not None and b.high is not None:
            x0, x1 = LABEL_W + max(0.0, b.low) / top * span, LABEL_W + max(0.0, b.high) / top * span
            mid = y + BAR_W / 2
            parts.append(f'<line class="ci" x1="{x0:.1f}" y1="{mid}" x2="{x1:.1f}" y2="{mid}"/>')
            for x in (x0, x1):
                parts.append(
                    f'<line class="ci" x1="{x:.1f}" y1="{y + 3}" x2="{x:.1f}" y2="{y + BAR_W - 3}"/>'
                )
        text = f"{b.value:.4g}{unit}"
        parts.append(f'<text x="{LABEL_W + w + 6:.1f}" y="{y + 13}">{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


PAR_W, PAR_H, PAR_PAD = 560, 220, 34


def parallel(
    rows: Sequence[dict[str, float]], axes: Sequence[str], *, title: str, best: int | None = None
) -> Markup:
    """Parallel coordinates: one vertical axis per key (its own min..max), one line per row; the row at
    ``best`` drawn on top and marked. A row missing a key skips that axis."""
    if not rows or len(axes) < 2:
        return Markup(f'<p class="empty">{escape(title)}: nothing to draw</p>')
    step = (PAR_W - 2 * PAR_PAD) / (len(axes) - 1)
    span = {
        a: (min(r[a] for r in rows if a in r), max(r[a] for r in rows if a in r))
        for a in axes
        if any(a in r for r in rows)
    }
    top, bottom = 28, PAR_H - 22

    def y(axis: str, value: float) -> float:
        lo, hi = span[axis]
        return bottom - (value - lo) / (hi - lo) * (bottom - top) if hi > lo else (top + bottom) / 2

    parts = [
        f'<svg class="chart parallel" role="img" viewBox="0 0 {PAR_W} {PAR_H}" width="{PAR_W}" height="{PAR_H}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="14" class="chart-title">{escape(title)}</text>',
    ]
    for i, axis in enumerate(axes):
        x = PAR_PAD + i * step
        parts.append(f'<line class="axis" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}"/>')
        parts.append(f'<text x="{x:.1f}" y="{PAR_H - 6}" text-anchor="middle">{escape(axis[-22:])}</text>')
        if axis in span:
            lo, hi = span[axis]
            parts.append(f'<text x="{x + 3:.1f}" y="{top - 4}">{hi:.3g}</text>')
            parts.append(f'<text x="{x + 3:.1f}" y="{bottom + 11}">{lo:.3g}</text>')
    order = [i for i in range(len(rows)) if i != best] + ([best] if best is not None else [])
    for i in order:
        points = " ".join(
            f"{PAR_PAD + j * step:.1f},{y(a, rows[i][a]):.1f}" for j, a in enumerate(axes) if a in rows[i]
        )
        cls = "trial best" if i == best else "trial"
        parts.append(f'<polyline class="{cls}" fill="none" points="{points}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    label: str


# the loop's order, left to right: where a kind of node stands in the graph
COLUMNS = [
    "dataset_version",
    "prompt_version",
    "run",
    "model_version",
    "evaluation",
    "deployment",
    "trace",
    "feedback",
]
NODE_W, NODE_H, COL_W, ROW_H = 150, 30, 190, 44


def lineage(edges: Sequence[Edge], links: dict[str, str], *, focus: str) -> Markup:
    """A layered graph: one column per kind of object (``kind:id`` nodes), edges as lines, nodes as links."""
    nodes: dict[str, None] = {focus: None}
    for e in edges:
        nodes.setdefault(e.src)
        nodes.setdefault(e.dst)
    kinds = {n: n.split(":", 1)[0] for n in nodes}
    used = [k for k in COLUMNS if k in kinds.values()] + sorted(
        {k for k in kinds.values() if k not in COLUMNS}
    )
    place: dict[str, tuple[float, float]] = {}
    rows: dict[str, int] = {}
    for n in nodes:
        col = used.index(kinds[n])
        row = rows.get(kinds[n], 0)
        rows[kinds[n]] = row + 1
        place[n] = (10 + col * COL_W, 10 + row * ROW_H)
    width = 20 + len(used) * COL_W
    height = 20 + max(rows.values(), default=1) * ROW_H
    parts = [
        f'<svg class="lineage" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
        "<title>lineage</title>",
    ]
    for e in edges:
        (x0, y0), (x1, y1) = place[e.src], place[e.dst]
        parts.append(
            f'<line class="edge" x1="{x0 + NODE_W}" y1="{y0 + NODE_H / 2}" x2="{x1}" y2="{y1 + NODE_H / 2}">'
            f"<title>{escape(e.label)}</title></line>"
        )
    for n, (x, y) in place.items():
        kind, _, ident = n.partition(":")
        cls = "node focus" if n == focus else "node"
        box = (
            f'<rect class="{cls}" x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="4"/>'
            f'<text x="{x + 6}" y="{y + 19}">{escape(kind[:5])} {escape(ident[:16])}</text>'
        )
        href = links.get(n)
        parts.append(f'<a href="{escape(href)}">{box}</a>' if href else box)
    parts.append("</svg>")
    return Markup("".join(parts))
