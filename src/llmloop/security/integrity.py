"""``verify_store``: re-hash every artifact and find what crashes left behind, the check behind ``llmloop store verify``.

It sits beside the audit chain's check (``security.audit.verify_chain``): both prove nothing
was changed behind the services' back, and both report damage as a verdict, not an error.

Leftovers are of two kinds: temp files of uploads whose process died before the rename, and
blobs that no row refers to (an upload that finished but was never linked, or whose owner was
deleted). Both are reported; ``repair`` removes them, but never what may still be in use: a
temp file whose writer is alive on this host, or anything younger than ``GRACE_S`` (an upload
links its blob only after writing it).

"Refers to" is decided by reading every value of every table for 64-hex digests, rather than
by a list of the columns that hold blob hashes today: a table added later that stores one in a
JSON manifest still protects its blobs, and the worst a false match can do is keep a blob.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING

from sqlalchemy import select

from llmloop.security import audit
from llmloop.security.schemas import StoreVerifyReport
from llmloop.store.artifacts import Leftover
from llmloop.store.tables.base import Base

if TYPE_CHECKING:
    from llmloop.context import Context

GRACE_S = 3600.0
_DIGEST = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


def referenced_blobs(ctx: Context) -> set[str]:
    """Every 64-hex digest written anywhere in the metadata store: the blobs something refers to."""
    found: set[str] = set()
    with ctx.db.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, (str, dict, list)):
                        found.update(_DIGEST.findall(value if isinstance(value, str) else json.dumps(value)))
    return found


def _stale(item: Leftover) -> bool:
    """A leftover no upload can still be writing: its writer (on this host) is gone, or it is old."""
    if item.age_s > GRACE_S:
        return True
    if item.pid is None or item.pid == os.getpid():
        return False
    try:
        os.kill(item.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def verify_store(ctx: Context, *, repair: bool = False) -> StoreVerifyReport:
    """Read every blob back against its hash and list leftovers; ``repair`` removes the stale ones.

    Global admins only: it reads everything (and repair deletes).
    """
    ctx.require("store:verify", "*")
    store = ctx.artifacts
    report = store.verify()
    referenced = referenced_blobs(ctx)
    leftovers = store.leftovers()
    orphans = [sha for sha in store.iter_hashes() if sha not in referenced]
    removed: list[str] = []
    if repair:
        for item in leftovers:
            if _stale(item):
                store.remove_leftover(item.path)
                removed.append(item.path)
        for sha in orphans:
            if sha not in report.corrupted and store.age_s(sha) > GRACE_S:
                store.delete(sha)
                removed.append(sha)
        with ctx.db.session() as s:  # a repair deletes: it is a mutation like any other, so audited
            audit.record(
                s, ctx, "store.repair", "store", after={"removed": len(removed), "items": removed[:100]}
            )
    return StoreVerifyReport(
        ok=report.ok,
        checked=report.checked,
        bytes_checked=report.bytes_checked,
        corrupted=report.corrupted,
        temp_files=[item.path for item in leftovers],
        orphans=orphans,
        removed=removed,
    )


def remove_unreferenced(ctx: Context, candidates: set[str]) -> list[str]:
    """Delete those of ``candidates`` that nothing refers to any more (after an erasure committed)."""
    referenced = referenced_blobs(ctx)
    gone = sorted(sha for sha in candidates if sha not in referenced and ctx.artifacts.exists(sha))
    for sha in gone:
        ctx.artifacts.delete(sha)
    return gone
