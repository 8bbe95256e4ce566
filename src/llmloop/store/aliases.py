"""Movable aliases for any versioned kind (dataset, model, prompt), and reference resolution.

One resolver serves every service: ``NAME`` → latest version, ``NAME@3`` → version 3,
``NAME@champion`` → whatever the alias points at now.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from llmloop.errors import NotFound
from llmloop.refs import Ref, validate_alias
from llmloop.store.tables.base import now
from llmloop.store.tables.core import AliasRow


def set_alias(
    session: Session, *, project_id: str, kind: str, name: str, alias: str, version: int
) -> int | None:
    """Point ``alias`` at ``version``; returns the version it pointed at before (None if new)."""
    validate_alias(alias)
    row = session.get(AliasRow, (project_id, kind, name, alias))
    if row is None:
        session.add(AliasRow(project_id=project_id, kind=kind, name=name, alias=alias, version=version))
        return None
    before = row.version
    row.version = version
    row.updated_at = now()
    return before


def remove_alias(session: Session, *, project_id: str, kind: str, name: str, alias: str) -> None:
    session.execute(
        delete(AliasRow).where(
            AliasRow.project_id == project_id,
            AliasRow.kind == kind,
            AliasRow.name == name,
            AliasRow.alias == alias,
        )
    )


def aliases_of(session: Session, *, project_id: str, kind: str, name: str) -> dict[str, int]:
    rows = session.scalars(
        select(AliasRow).where(
            AliasRow.project_id == project_id, AliasRow.kind == kind, AliasRow.name == name
        )
    )
    return {r.alias: r.version for r in rows}


def resolve_version(
    session: Session,
    ref: Ref,
    *,
    project_id: str,
    kind: str,
    latest: Callable[[], int | None],
) -> int:
    """The version number a reference means; ``latest`` gives the newest version of the name."""
    if ref.version is not None:
        return ref.version
    if ref.alias is not None:
        row = session.get(AliasRow, (project_id, kind, ref.name, ref.alias))
        if row is None:
            raise NotFound(f"{kind} alias {ref} not found", details={"ref": str(ref)})
        return row.version
    version = latest()
    if version is None:
        raise NotFound(f"{kind} {ref.name!r} not found", details={"ref": str(ref)})
    return version
