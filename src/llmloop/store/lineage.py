"""Lineage edges between any two entities, and walks over them.

Entities are named by ``(type, id)``: ``("run", "ab12…")``, ``("dataset_version", "travel@3")``.
Every service records its edges here so a model version can be traced back to the exact
data, prompt, config and evaluation behind it, and forward to what it served.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from llmloop.store.tables.core import LineageRow


@dataclass(frozen=True)
class Edge:
    src_type: str
    src_id: str
    relation: str
    dst_type: str
    dst_id: str


def add_edge(session: Session, edge: Edge) -> None:
    """Record an edge once; adding the same edge again is a no-op."""
    exists = session.scalar(
        select(LineageRow.id).where(
            LineageRow.src_type == edge.src_type,
            LineageRow.src_id == edge.src_id,
            LineageRow.relation == edge.relation,
            LineageRow.dst_type == edge.dst_type,
            LineageRow.dst_id == edge.dst_id,
        )
    )
    if exists is None:
        session.add(LineageRow(**edge.__dict__))


def edges_of(session: Session, entity_type: str, entity_id: str) -> list[Edge]:
    """Edges that start or end at an entity."""
    rows = session.scalars(
        select(LineageRow)
        .where(
            or_(
                (LineageRow.src_type == entity_type) & (LineageRow.src_id == entity_id),
                (LineageRow.dst_type == entity_type) & (LineageRow.dst_id == entity_id),
            )
        )
        .order_by(LineageRow.id)
    )
    return [Edge(r.src_type, r.src_id, r.relation, r.dst_type, r.dst_id) for r in rows]


def upstream(session: Session, entity_type: str, entity_id: str, *, max_depth: int = 20) -> list[Edge]:
    """Every edge reachable by walking backwards (towards sources) from an entity, breadth first."""
    seen: set[tuple[str, str]] = {(entity_type, entity_id)}
    frontier = [(entity_type, entity_id)]
    out: list[Edge] = []
    for _ in range(max_depth):
        nxt: list[tuple[str, str]] = []
        for t, i in frontier:
            for r in session.scalars(
                select(LineageRow)
                .where(LineageRow.dst_type == t, LineageRow.dst_id == i)
                .order_by(LineageRow.id)  # in the order recorded, on every backend
            ):
                out.append(Edge(r.src_type, r.src_id, r.relation, r.dst_type, r.dst_id))
                key = (r.src_type, r.src_id)
                if key not in seen:
                    seen.add(key)
                    nxt.append(key)
        if not nxt:
            break
        frontier = nxt
    return out
