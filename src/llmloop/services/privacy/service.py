"""Retention per project, purge of data past it, and erasure of one person's data, through the registry.

Retention lives in the project's settings (``{"retention_days": {"runs": 90, "traces": 30}}``).
``purge`` and ``erase_subject`` each run in one transaction and are audited; the erasure's
audit row names only a digest of the subject, and the subject's name is blanked from earlier
audit rows without breaking the chain (see ``security.audit.erase_actor``). The audit log is
tamper-evident, so erasure never deletes or rewrites a hashed field: the actor column is outside
the hash and becomes ``erased:<digest>``; targets and payloads name objects by id, not people.
Artifact blobs that only the erased rows referred to are deleted after the transaction commits.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from sqlalchemy import select

from llmloop.errors import InvalidInput
from llmloop.refs import validate_name
from llmloop.security import audit
from llmloop.security.integrity import referenced_blobs, remove_unreferenced
from llmloop.services.privacy.registry import followers, handlers
from llmloop.services.privacy.schemas import EraseReport, PurgeReport, RetentionPolicy
from llmloop.store.projects import project_id
from llmloop.store.tables.base import now
from llmloop.store.tables.core import ProjectRow

if TYPE_CHECKING:
    from llmloop.context import Context

DAY_S = 86400.0


def _days(row: ProjectRow) -> dict[str, int]:
    value = (row.settings or {}).get("retention_days") or {}
    return {str(k): int(v) for k, v in value.items()} if isinstance(value, dict) else {}


def get_retention(ctx: Context, *, project: str) -> RetentionPolicy:
    validate_name(project, what="project")
    ctx.require("projects:read", project)
    with ctx.db.session() as s:
        row = s.get(ProjectRow, project_id(s, project))
        assert row is not None
        return RetentionPolicy(project=project, days=_days(row))


def set_retention(ctx: Context, *, project: str, kind: str, days: int | None) -> RetentionPolicy:
    """Keep ``kind`` data of ``project`` for ``days`` (None: forever)."""
    validate_name(project, what="project")
    known = handlers()
    if kind in known and known[kind].follows is not None:
        raise InvalidInput(
            f"{kind!r} has no retention of its own: it is purged with the {known[kind].follows!r} it was "
            f"derived from; set the retention of {known[kind].follows!r}",
            details={"field": "kind"},
        )
    if kind not in known or known[kind].purge is None:
        purgeable = sorted(k for k, h in known.items() if h.purge is not None and h.follows is None)
        raise InvalidInput(
            f"no retention for {kind!r}; known kinds: {', '.join(purgeable)}", details={"field": "kind"}
        )
    if days is not None and days < 1:
        raise InvalidInput("retention needs at least 1 day", details={"field": "days"})
    ctx.require("privacy:admin", project)
    with ctx.db.session() as s:
        row = s.get(ProjectRow, project_id(s, project, create=True))
        assert row is not None
        before = _days(row)
        after = dict(before)
        if days is None:
            after.pop(kind, None)
        else:
            after[kind] = days
        row.settings = {**(row.settings or {}), "retention_days": after}
        s.flush()
        audit.record(s, ctx, "privacy.retention", f"project:{project}", before, after, project=project)
        return RetentionPolicy(project=project, days=after)


def purge(ctx: Context, *, at: float | None = None) -> PurgeReport:
    """Delete, in every project with a retention policy, what is older than it allows.

    Each purged kind first runs the hooks of the kinds that follow it (what monitoring derived from
    traces), so the report and the project's audit entry count those rows under their own kinds.
    """
    ctx.require("privacy:admin", "*")
    t = now() if at is None else at
    known = handlers()
    report = PurgeReport(at=t)
    with ctx.db.session() as s:
        for row in s.scalars(select(ProjectRow).order_by(ProjectRow.name)):
            for kind, days in sorted(_days(row).items()):
                hook = known[kind].purge if kind in known else None
                if hook is None or known[kind].follows is not None:
                    continue
                cutoff = t - days * DAY_S
                steps = [*((h.kind, h.purge) for h in followers(kind)), (kind, hook)]
                for name, purge_hook in steps:
                    assert purge_hook is not None  # followers() keeps only handlers with one
                    n = purge_hook(ctx, s, row.id, cutoff)
                    report.deleted.setdefault(row.name, {})[name] = n
                    report.total += n
            if row.name in report.deleted:
                audit.record(
                    s,
                    ctx,
                    "privacy.purge",
                    f"project:{row.name}",
                    after=report.deleted[row.name],
                    project=row.name,
                )
    return report


def subject_digest(subject: str) -> str:
    return hashlib.sha256(subject.encode()).hexdigest()[:16]


def erase_subject(ctx: Context, *, subject: str) -> EraseReport:
    """Remove every row that names ``subject`` through each area's handler; anonymise the audit trail."""
    ctx.require("privacy:admin", "*")
    if not subject or len(subject) > 256:
        raise InvalidInput("give the user id to erase (1-256 characters)", details={"field": "user_id"})
    report = EraseReport(subject_digest=subject_digest(subject))
    blobs_before = referenced_blobs(ctx)
    with ctx.db.session() as s:
        for handler in sorted(handlers().values(), key=lambda h: (h.order, h.kind)):
            if handler.erase is not None:
                report.removed[handler.kind] = handler.erase(ctx, s, subject)
        report.audit_events_anonymised = audit.erase_actor(s, subject)
        audit.record(
            s, ctx, "privacy.erase", f"subject:{report.subject_digest}", after={"removed": report.removed}
        )
    # blobs only the erased rows referred to (a run's artifacts): removed once the rows are gone for good
    report.artifacts_removed = len(remove_unreferenced(ctx, blobs_before))
    return report
