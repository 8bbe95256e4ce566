"""A lineage tree as text: one line per entity, its relation to the parent first, box-drawing rails.

A long run of siblings of one kind (a dataset exported from 500 traces' feedback) shows its first
``keep`` entries and one ``… and N more`` line: the JSON twin (``--json``) has every node.
"""

from __future__ import annotations

from itertools import groupby

from llmloop.services.registry.schemas import LineageNode


def _name(n: LineageNode) -> str:
    short = n.id if len(n.id) <= 16 else n.id[:12] + "…"
    text = f"{n.type} {n.label} ({short})" if n.label and n.label != n.id else f"{n.type} {short}"
    return text + ("  (shown above)" if n.repeated else "")


def _shown(children: list[LineageNode], keep: int) -> list[LineageNode | str]:
    out: list[LineageNode | str] = []
    for (kind, relation), run in groupby(children, key=lambda c: (c.type, c.relation)):
        group = list(run)
        out += group[:keep]
        if len(group) > keep:
            out.append(f"… and {len(group) - keep} more {kind} ({relation})")
    return out


def tree_lines(root: LineageNode, *, keep: int = 3) -> list[str]:
    lines = [_name(root)]

    def walk(node: LineageNode, rail: str) -> None:
        items = _shown(node.children, keep)
        for i, item in enumerate(items):
            last = i == len(items) - 1
            branch = "└── " if last else "├── "
            if isinstance(item, str):
                lines.append(rail + branch + item)
                continue
            lines.append(f"{rail}{branch}{item.relation}: {_name(item)}")
            walk(item, rail + ("    " if last else "│   "))

    walk(root, "")
    return lines
