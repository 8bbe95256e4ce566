"""Deployments: create a revision, read one, list, roll back. Revisions are immutable.

``create_deployment`` writes revision N+1 of the name (creating the deployment at 1);
``rollback_deployment`` writes a new revision whose spec copies an older one, so the log of
what served when is never rewritten.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from llmloop.context import Context
from llmloop.errors import NotFound
from llmloop.refs import validate_name
from llmloop.services.serve.schemas import Deployment, DeploymentCreate, DeploymentPage, DeploymentSpec
from llmloop.store.projects import project_id
from llmloop.store.tables.base import now
from llmloop.store.tables.core import ProjectRow
from llmloop.store.tables.deployments import DeploymentRevisionRow, DeploymentRow


def _deployment(row: DeploymentRow, rev: DeploymentRevisionRow, project: str) -> Deployment:
    return Deployment(
        name=row.name,
        project=project,
        revision=rev.revision,
        latest_revision=row.latest_revision,
        spec=DeploymentSpec.model_validate(rev.spec),
        message=rev.message,
        created_at=rev.created_at,
        created_by=rev.created_by,
    )


def _write_revision(
    ctx: Context, s: Session, *, project: str, name: str, spec: DeploymentSpec, message: str
) -> Deployment:
    pid = project_id(s, project, create=True)
    row = s.scalar(
        select(DeploymentRow)
        .where(DeploymentRow.project_id == pid, DeploymentRow.name == name)
        .with_for_update()
    )
    if row is None:
        row = DeploymentRow(
            id=uuid.uuid4().hex, project_id=pid, name=name, latest_revision=0, created_at=now()
        )
        s.add(row)
    row.latest_revision += 1
    row.updated_at = now()
    s.flush()
    rev = DeploymentRevisionRow(
        id=uuid.uuid4().hex,
        deployment_id=row.id,
        revision=row.latest_revision,
        spec=spec.model_dump(mode="json"),
        message=message,
        created_at=now(),
        created_by=ctx.actor.id,
    )
    s.add(rev)
    s.flush()
    return _deployment(row, rev, project)


def create_deployment(ctx: Context, *, spec: DeploymentCreate) -> Deployment:
    """A new revision of deployment ``spec.name`` (the first one creates it)."""
    project = spec.project or ctx.settings.default_project
    validate_name(spec.name, what="deployment")
    ctx.require("deployments:write", project)
    with ctx.db.session() as s:
        return _write_revision(ctx, s, project=project, name=spec.name, spec=spec.spec, message=spec.message)


def _find(s: Session, project: str, name: str) -> DeploymentRow:
    validate_name(project, what="project")
    row = s.scalar(
        select(DeploymentRow)
        .join(ProjectRow, ProjectRow.id == DeploymentRow.project_id)
        .where(ProjectRow.name == project, DeploymentRow.name == name)
    )
    if row is None:
        raise NotFound(
            f"deployment {name!r} not found in project {project!r}",
            details={"deployment": name, "project": project},
        )
    return row


def _revision(s: Session, row: DeploymentRow, revision: int) -> DeploymentRevisionRow:
    rev = s.scalar(
        select(DeploymentRevisionRow).where(
            DeploymentRevisionRow.deployment_id == row.id, DeploymentRevisionRow.revision == revision
        )
    )
    if rev is None:
        raise NotFound(
            f"deployment {row.name!r} has no revision {revision}",
            details={"deployment": row.name, "revision": revision},
        )
    return rev


def get_deployment(
    ctx: Context, *, name: str, project: str | None = None, revision: int | None = None
) -> Deployment:
    project = project or ctx.settings.default_project
    ctx.require("deployments:read", project)
    with ctx.db.session() as s:
        row = _find(s, project, name)
        return _deployment(row, _revision(s, row, revision or row.latest_revision), project)


def list_deployment_revisions(ctx: Context, *, name: str, project: str | None = None) -> list[Deployment]:
    project = project or ctx.settings.default_project
    ctx.require("deployments:read", project)
    with ctx.db.session() as s:
        row = _find(s, project, name)
        revs = s.scalars(
            select(DeploymentRevisionRow)
            .where(DeploymentRevisionRow.deployment_id == row.id)
            .order_by(DeploymentRevisionRow.revision.desc())
        )
        return [_deployment(row, r, project) for r in revs]


def list_deployments(ctx: Context, *, project: str | None = None) -> DeploymentPage:
    project = project or ctx.settings.default_project
    ctx.require("deployments:read", project)
    with ctx.db.session() as s:
        try:
            pid = project_id(s, project)
        except NotFound:
            return DeploymentPage(items=[])
        rows = s.execute(
            select(DeploymentRow, DeploymentRevisionRow)
            .join(
                DeploymentRevisionRow,
                (DeploymentRevisionRow.deployment_id == DeploymentRow.id)
                & (DeploymentRevisionRow.revision == DeploymentRow.latest_revision),
            )
            .where(DeploymentRow.project_id == pid)
            .order_by(DeploymentRow.name)
        ).all()
        return DeploymentPage(items=[_deployment(d, r, project) for d, r in rows])


def rollback_deployment(
    ctx: Context, *, name: str, project: str | None = None, to_revision: int | None = None
) -> Deployment:
    """A new revision copying ``to_revision`` (default: the one before the latest)."""
    project = project or ctx.settings.default_project
    ctx.require("deployments:write", project)
    with ctx.db.session() as s:
        row = _find(s, project, name)
        target = to_revision if to_revision is not None else row.latest_revision - 1
        if target < 1:
            raise NotFound(
                f"deployment {name!r} has no earlier revision to roll back to",
                details={"deployment": name, "revision": target},
            )
        old = _revision(s, row, target)
        spec = DeploymentSpec.model_validate(old.spec)
        return _write_revision(
            ctx, s, project=project, name=name, spec=spec, message=f"rollback to revision {target}"
        )
