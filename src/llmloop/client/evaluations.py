"""``client.evaluations``: not ported to the client yet (see issue 13)."""

from __future__ import annotations

from llmloop.client.routes import Route

ROUTES: list[Route] = []
