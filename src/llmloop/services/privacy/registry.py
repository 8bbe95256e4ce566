"""The registry of retention/erase handlers that each area contributes.

An area that stores personal or time-bound data (traces, feedback, datasets, runs) writes one
``Handler`` and registers it from a module imported in ``_load_builtin_handlers`` (add one line). ``llmloop privacy purge`` and ``llmloop privacy erase`` then reach
it without knowing it exists. The hook contract:

- ``purge(ctx, session, project_id, cutoff) -> int``: delete this kind's rows of that project
  older than ``cutoff`` (unix seconds); return how many. Runs inside the purge transaction.
- ``erase(ctx, session, subject) -> int``: remove everything that names ``subject`` (a user id
  as it appears in your rows: ``created_by``, a trace's ``user.id`` attribute, …); for
  immutable objects, write new versions without those rows and keep lineage (datasets);
  return how many rows went. Never log ``subject``.

Both receive the caller's ``Context`` (artifacts may be written before commit) and must not
commit themselves. A handler may leave either hook ``None``.

A kind whose rows are derived from another kind's rows (online scores and quoted examples of
traces) names that kind in ``follows``: it has no retention of its own (``retention set`` refuses
it); its ``purge`` hook runs, in the same transaction and just before the followed kind's, with
the project and cutoff that kind is purged with, so it still finds the rows about to go and
nothing derived from them outlives them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from llmloop.context import Context

PurgeHook = Callable[["Context", Session, str, float], int]
EraseHook = Callable[["Context", Session, str], int]


@dataclass(frozen=True)
class Handler:
    kind: str  # the retention key, e.g. "runs", "traces", "feedback"
    description: str
    purge: PurgeHook | None = None
    erase: EraseHook | None = None
    order: int = 0  # erase hooks run by (order, kind): a hook that rewrites ids others search by goes last
    follows: str | None = None  # the retention kind this kind's rows derive from (see the module docstring)


_handlers: dict[str, Handler] = {}
_loaded = False
_lock = threading.Lock()


def register(handler: Handler) -> Handler:
    """Add (or replace, for tests) the handler of ``handler.kind``."""
    _handlers[handler.kind] = handler
    return handler


def unregister(kind: str) -> None:
    _handlers.pop(kind, None)


def handlers() -> dict[str, Handler]:
    """Every registered handler, importing the built-in ones on first use."""
    global _loaded
    with _lock:
        if not _loaded:
            _load_builtin_handlers()
            _loaded = True
    return dict(sorted(_handlers.items()))


def followers(kind: str) -> list[Handler]:
    """The handlers whose rows derive from ``kind``'s, with a purge hook, in (order, kind) order."""
    found = [h for h in handlers().values() if h.follows == kind and h.purge is not None]
    return sorted(found, key=lambda h: (h.order, h.kind))


def _load_builtin_handlers() -> None:
    """Import the modules whose import registers a handler (they import this module back)."""
    from llmloop.services.privacy import authorship, monitoring, traces, tracking  # noqa: F401
