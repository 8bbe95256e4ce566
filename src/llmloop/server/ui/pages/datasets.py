"""``/datasets``: datasets, a version's profile as charts, and its rows a page at a time."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from llmloop.server.ui.charts import Bar, bars
from llmloop.server.ui.render import View, page
from llmloop.services.data.schemas import Profile

router = APIRouter()
ROWS_PER_PAGE = 25


def profile_charts(profile: Profile) -> dict[str, Any]:
    """The profile drawn: token lengths per field, PII found, languages, duplicates (HTML only)."""
    lengths = []
    for name, f in profile.fields.items():
        t = f.tokens
        lengths += [Bar(f"{name} p50", t.p50), Bar(f"{name} p90", t.p90), Bar(f"{name} max", t.max)]
    languages = [Bar(k, v * 100) for k, v in sorted((profile.languages or {}).items(), key=lambda kv: -kv[1])]
    dup = profile.duplicates
    return {
        "lengths": bars(lengths, title="tokens per field"),
        "pii": bars([Bar(k, v) for k, v in sorted(profile.pii.items())], title="PII found (rows)"),
        "languages": bars(languages[:10], title="languages", unit=" %"),
        "duplicates": bars(
            [Bar("exact duplicate rows", dup.exact_rows), Bar("near duplicate rows", dup.near_rows)],
            title="duplicates",
        ),
    }


@page(router, "/datasets", "datasets.html", "datasets:read")
def datasets(view: View) -> dict[str, Any]:
    return {"datasets": view.client.datasets.list_datasets(view.project)}


def _charts(data: dict[str, Any]) -> dict[str, Any]:
    return profile_charts(data["show"].version.profile)


@page(router, "/datasets/{name}", "dataset.html", "datasets:read", extras=_charts)
def dataset(
    view: View,
    name: str,
    version: str | None = None,
    offset: int = Query(0, ge=0),
    q: str = "",
    a: int | None = None,
    b: int | None = None,
) -> dict[str, Any]:
    """One version (the latest unless ``version``), its profile and the rows from ``offset``.

    Rows page by row number, the version's own stable key (versions are immutable): the next
    page starts where this one ended, and no count beyond the version's known size is made.
    ``q`` searches the whole version from ``offset`` (the data service's ``get_rows``, which says
    what matches and bounds the rows one page reads); ``next_offset`` resumes the search there.
    ``a`` and ``b`` diff two versions.
    """
    ref = f"{name}@{version}" if version else name
    shown = view.client.datasets.show_dataset(ref, view.project)
    rows = view.client.datasets.get_rows(
        f"{name}@{shown.version.version}", view.project, offset=offset, limit=ROWS_PER_PAGE, q=q or None
    )
    diff = view.client.datasets.diff_versions(f"{name}@{a}", f"{name}@{b}", view.project) if a and b else None
    return {
        "show": shown,
        "rows": rows.items,
        "offset": offset,
        "next_offset": rows.next_offset,
        "scanned": rows.scanned,
        "q": q,
        "diff": diff,
    }
