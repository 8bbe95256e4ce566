"""``/admin``: users and their roles, API keys, the audit log and whether its hash chain verifies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from llmloop.server.ui.render import View, page

router = APIRouter()


@page(router, "/admin", "admin.html", "users:read")
def admin(view: View, action: str | None = None) -> dict[str, Any]:
    """Admins only (``users:read`` is an admin permission); ``action`` filters the audit log."""
    c = view.client
    return {
        "users": c.users.list_users(),
        "keys": c.keys.list_keys(include_revoked=True),
        "events": c.audit.list_events(action=action or None, limit=50),
        "verify": c.audit.verify_chain(),
        "action": action or "",
    }
