"""Projects are namespaces and the unit of access control; every service resolves names here."""

from __future__ import annotations

import uuid

from sqlalchemy import exc, select
from sqlalchemy.orm import Session

from llmloop.errors import NotFound
from llmloop.refs import validate_name
from llmloop.store.tables.core import ProjectRow


def project_id(session: Session, name: str, *, create: bool = False) -> str:
    """The id of project ``name``; created on first write when ``create`` is set."""
    validate_name(name, what="project")
    pid = session.scalar(select(ProjectRow.id).where(ProjectRow.name == name))
    if pid is not None:
        return pid
    if not create:
        raise NotFound(f"project {name!r} not found", details={"project": name})
    new_id = uuid.uuid4().hex
    try:
        with (
            session.begin_nested()
        ):  # a savepoint: losing a creation race must not spoil the caller's transaction
            session.add(ProjectRow(id=new_id, name=name, description="", settings={}))
    except exc.IntegrityError:
        pid = session.scalar(select(ProjectRow.id).where(ProjectRow.name == name))
        if pid is None:
            raise
        return pid
    return new_id


def project_name(session: Session, pid: str) -> str:
    name = session.scalar(select(ProjectRow.name).where(ProjectRow.id == pid))
    if name is None:
        raise NotFound(f"project id {pid!r} not found")
    return name


def list_projects(session: Session) -> list[str]:
    return list(session.scalars(select(ProjectRow.name).order_by(ProjectRow.name)))
