"""The route table: every ``/api/v1`` call as ``noun.verb`` → method, path, body and response schemas.

It is the single source of both sides of the REST API: ``llmloop.server.routes.mount`` takes
a route's method, path, response model and permission from here to register the FastAPI
endpoint, and ``RemoteClient`` takes the same entry to make the request and read the answer. A
route therefore cannot exist on one side only (``tests/integration/client/test_route_table.py``
checks the mounted app against this table, and the parity suite calls every entry through both
clients).

Each noun module (``client/runs.py``, ``client/datasets.py``, …) declares its ``ROUTES`` with the
entry defined here; ``client/table.py`` collects them (this module imports no noun, so the nouns
and the HTTP door can import it without a circle).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
_PARAM = re.compile(r"\{(\w+)(?::path)?\}")


@dataclass(frozen=True)
class Route:
    """One REST call. ``path`` is under ``/api/v1``; ``{name:path}`` parameters may hold slashes."""

    name: str
    method: Method
    path: str
    permission: str
    response: type[Any] | None = None  # a schema, or None for no JSON body (204, a byte stream)
    body: type[BaseModel] | None = None  # the JSON body's schema, when the body is JSON
    status: int = 200
    summary: str = ""

    @property
    def noun(self) -> str:
        return self.name.partition(".")[0]

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(_PARAM.findall(self.path))

    def url(self, **params: Any) -> str:
        """The path with its parameters filled in, each quoted (``:path`` ones keep their slashes)."""
        from urllib.parse import quote

        def fill(m: re.Match[str]) -> str:
            value = str(params[m.group(1)])
            return quote(value, safe="/" if m.group(0).endswith(":path}") else "")

        return _PARAM.sub(fill, self.path)
