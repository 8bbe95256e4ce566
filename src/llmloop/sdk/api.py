"""Module-level SDK functions beyond runs themselves."""

from __future__ import annotations

from llmloop.client import get_client
from llmloop.services.tracking.schemas import Run, RunSearch


def search_runs(
    project: str | None = None,
    filter: str | None = None,
    order_by: list[str] | None = None,
    limit: int = 100,
) -> list[Run]:
    """Runs matching ``filter`` (see ``llmloop.services.tracking.search``), newest first unless ordered."""
    page = get_client().runs.search_runs(
        RunSearch(project=project, filter=filter, order_by=order_by or [], limit=limit)
    )
    return page.items
