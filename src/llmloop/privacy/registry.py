"""The registry of retention/erase handlers that each area contributes.

An area that stores personal or time-bound data (traces, feedback, datasets, runs) writes one
``Handler`` and registers it from a module named in ``HANDLER_MODULES`` (add one line, like
``COMMANDS`` in the CLI). ``llmloop privacy purge`` and ``llmloop privacy erase`` then reach
it without knowing it exists. The hook contract:

- ``purge(ctx, session, project_id, cutoff) -> int``: delete this kind's rows of that project
  older than ``cutoff`` (unix seconds); return how many. Runs inside the purge transaction.
- ``erase(ctx, session, subject) -> int``: remove everything that names ``subject`` (a user id
  as it appears in your rows: ``created_by``, a trace's ``user.id`` attribute, …); for
  immutable objects, write new versions without those rows and keep lineage (datasets);
  return how many rows went. Never log ``subject``.

Both receive the caller's ``Context`` (artifacts may be written before commit) and must not
commit themselves. A handler may leave either hook ``None``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from llmloop.context import Context

PurgeHook = Callable[["Context", Session, str, float], int]
EraseHook = Callable[["Context", Session, str], int]

# modules that call register() when imported; later areas append theirs
HANDLER_MODULES: list[str] = [
    "llmloop.privacy.tracking",
]


@dataclass(frozen=True)
class Handler:
    kind: str  # the retention key, e.g. "runs", "traces", "feedback"
    description: str
    purge: PurgeHook | None = None
    erase: EraseHook | None = None


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
    """Every registered handler, importing ``HANDLER_MODULES`` on first use."""
    global _loaded
    with _lock:
        if not _loaded:
            for module in HANDLER_MODULES:
                importlib.import_module(module)
            _loaded = True
    return dict(sorted(_handlers.items()))
