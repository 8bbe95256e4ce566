"""Every route of the table by name: ``table()`` collects the ``ROUTES`` each noun module declares.

``RemoteClient``'s door (``client/http.py``) is handed ``route`` to look calls up, and
``server/routes.py::mount`` reads entries from here; the noun modules import only ``routes.Route``.
"""

from __future__ import annotations

from llmloop.client.routes import Route


def _collect() -> dict[str, Route]:
    from llmloop.client import (
        audit,
        datasets,
        deployments,
        evaluations,
        feedback,
        keys,
        models,
        monitoring,
        pipelines,
        privacy,
        prompts,
        runs,
        secrets,
        store,
        traces,
        users,
    )

    table: dict[str, Route] = {}
    for module in (
        runs, datasets, prompts, models, evaluations, deployments, traces, feedback, users, keys, audit, secrets, store,
        privacy, pipelines, monitoring,
    ):  # fmt: skip
        for route in module.ROUTES:
            assert route.name not in table, f"route {route.name} declared twice"
            table[route.name] = route
    return table


_table: dict[str, Route] | None = None


def table() -> dict[str, Route]:
    """Every route by name (built once, on first use)."""
    global _table
    if _table is None:
        _table = _collect()
    return _table


def route(name: str) -> Route:
    return table()[name]
