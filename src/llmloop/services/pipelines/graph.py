"""A pipeline's steps drawn: a terminal tree and a standalone SVG (no Graphviz needed).

Both lay the steps out by depth (the longest chain of dependencies before each); the tree hangs
each step under its first dependency and names any other ones (``also after: a, b``), so a
diamond reads without repeating a subtree. ``states`` (step -> state) colours a run's graph.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from llmloop.services.pipelines.definition import PipelineDef, dependencies, topological

_COLOURS = {
    "finished": "#c8e6c9",
    "cached": "#bbdefb",
    "running": "#fff9c4",
    "failed": "#ffcdd2",
    "skipped": "#eeeeee",
    "pending": "#ffffff",
}


def depths(defn: PipelineDef) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in topological(defn):
        deps = dependencies(defn.step(name))
        out[name] = 1 + max((out[d] for d in deps), default=-1)
    return out


def _parents(defn: PipelineDef, name: str) -> list[str]:
    order = topological(defn)
    return sorted(dependencies(defn.step(name)), key=order.index)


def tree_lines(defn: PipelineDef, states: Mapping[str, str] | None = None) -> list[str]:
    """``pipeline NAME`` then one line per step, children indented under their first dependency."""
    order = topological(defn)
    children: dict[str, list[str]] = {n: [] for n in order}
    roots: list[str] = []
    for name in order:
        parents = _parents(defn, name)
        (children[parents[0]] if parents else roots).append(name)
    lines = [f"pipeline {defn.name}"]

    def label(name: str) -> str:
        s = defn.step(name)
        extra = _parents(defn, name)[1:]
        state = f" [{states[name]}]" if states and name in states else ""
        after = f"  (also after: {', '.join(extra)})" if extra else ""
        return f"{name} ({s.kind}){state}{after}"

    def walk(names: list[str], prefix: str) -> None:
        for i, name in enumerate(names):
            last = i == len(names) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label(name)}")
            walk(children[name], prefix + ("    " if last else "│   "))

    walk(roots, "")
    return lines


def to_svg(defn: PipelineDef, states: Mapping[str, str] | None = None, *, inline: bool = False) -> str:
    """Boxes in columns by depth, an arrow per dependency; ``inline`` leaves out the XML namespace a
    file needs and a page does not (a URL the web UI's pages never carry)."""
    level = depths(defn)
    columns: dict[int, list[str]] = {}
    for name in topological(defn):
        columns.setdefault(level[name], []).append(name)
    box_w, box_h, gap_x, gap_y, pad = 180, 44, 70, 24, 20
    pos = {
        name: (pad + d * (box_w + gap_x), pad + i * (box_h + gap_y))
        for d, names in columns.items()
        for i, name in enumerate(names)
    }
    width = pad * 2 + len(columns) * (box_w + gap_x) - gap_x
    height = pad * 2 + max(len(n) for n in columns.values()) * (box_h + gap_y) - gap_y
    ns = "" if inline else ' xmlns="http://www.w3.org/2000/svg"'
    parts = [
        f'<svg{ns} width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
        f"<title>pipeline {escape(defn.name)}</title>",
        '<defs><marker id="arrow" markerWidth="10" markerHeight="7" refX="10" refY="3.5" orient="auto">'
        '<polygon points="0 0, 10 3.5, 0 7" fill="#555"/></marker></defs>',
    ]
    for name, (x, y) in pos.items():
        for dep in dependencies(defn.step(name)):
            dx, dy = pos[dep]
            parts.append(
                f'<line x1="{dx + box_w}" y1="{dy + box_h / 2}" x2="{x}" y2="{y + box_h / 2}" '
                'stroke="#555" marker-end="url(#arrow)"/>'
            )
    for name, (x, y) in pos.items():
        state = (states or {}).get(name, "pending")
        fill = _COLOURS.get(state, "#ffffff")
        kind = defn.step(name).kind
        parts.append(f'<g class="step" data-step="{escape(name)}" data-state="{escape(state)}">')
        parts.append(
            f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="{fill}" stroke="#333"/>'
        )
        parts.append(f'<text x="{x + 8}" y="{y + 18}" font-weight="bold">{escape(name)}</text>')
        parts.append(f'<text x="{x + 8}" y="{y + 34}" fill="#555">{escape(kind[:28])}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
