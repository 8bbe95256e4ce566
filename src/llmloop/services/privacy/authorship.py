"""Erasure of a person as an author: their account, and their id in every ``created_by``/``actor`` column.

Datasets, prompts, models, deployments and the rest keep who made each version; those objects
belong to the project, not to the person, so erasure keeps them and replaces the id by the same
pseudonym the audit log uses (``erased:<digest>``), so "made by the same person" stays visible
and the person does not. The columns are found from the table metadata, so a table added later
is covered without a line here. The account itself (``users``) is deleted, with its keys, role
bindings and UI sessions (foreign keys ``ON DELETE CASCADE``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.orm import Session

from llmloop.security import audit
from llmloop.services.privacy.registry import Handler, register
from llmloop.store.tables.base import Base
from llmloop.store.tables.security import ApiKeyRow, RoleBindingRow, SessionRow, UserRow

if TYPE_CHECKING:
    from llmloop.context import Context

AUTHOR_COLUMNS = ("created_by", "actor")
_OWN_RULES = frozenset({"audit_events"})  # the audit chain anonymises itself (security.audit.erase_actor)


def pseudonym(subject: str) -> str:
    """What stands for an erased author: stable per person, not reversible to them."""
    return f"{audit.ERASED}{hashlib.sha256(subject.encode()).hexdigest()[:16]}"


def erase_authorship(ctx: Context, session: Session, subject: str) -> int:
    """Delete the account ``subject`` names and put a pseudonym where it is recorded as an author."""
    account = [UserRow.id == subject, UserRow.name == subject]
    ids = list(session.scalars(select(UserRow.id).where(or_(*account))))
    changed = 0
    for row_type in (ApiKeyRow, RoleBindingRow, SessionRow):
        session.execute(delete(row_type).where(row_type.user_id.in_(ids)))
    changed += _count(session, delete(UserRow).where(UserRow.id.in_(ids)))
    alias = pseudonym(subject)
    for table in Base.metadata.sorted_tables:
        if table.name in _OWN_RULES:
            continue
        for name in AUTHOR_COLUMNS:
            if name in table.c:
                changed += _count(
                    session, update(table).where(table.c[name] == subject).values({name: alias})
                )
    return changed


def _count(session: Session, statement: Any) -> int:
    return int(cast("CursorResult[Any]", session.execute(statement)).rowcount or 0)


register(
    Handler(
        kind="authorship",
        description="accounts, and authorship of versions",
        erase=erase_authorship,
        order=1,  # after the areas that find a person's rows by their id
    )
)
