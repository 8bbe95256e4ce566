"""Search over a version's rows (``client.datasets.get_rows(q=...)``), through the local client and
through a real ``llmloop serve`` with the HTTP client, over one store.

The version is 9,000 chat rows, read in batches of 8,192, and one call scans at most 5,000 rows, so a
search crosses a batch boundary and stops at the scan bound.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tests.conftest import serving_llmloop

from llmloop.client import LocalClient, RemoteClient
from llmloop.config import Settings
from llmloop.errors import InvalidInput
from llmloop.services.data.schemas import DatasetAdd

ENV = {"LLMLOOP_DATA_SEARCH_SCAN_ROWS": "5000"}
ROWS = 9000
# Where "needle" is, and how: user turn, assistant turn, metadata only, both sides of the batch
# boundary, the last row.
NEEDLES = {0: "user", 37: "assistant", 70: "metadata", 8191: "assistant", 8192: "user", 8999: "user"}
SPELLINGS = ["Needle", "NEEDLE", "needle", "nEEdle"]


def _row(i: int) -> dict[str, Any]:
    user, answer, note = f"question {i}", f"answer {i}", f"note {i}"
    where = NEEDLES.get(i)
    spelled = SPELLINGS[i % len(SPELLINGS)]
    if where == "user":
        user += f" about a {spelled}"
    elif where == "assistant":
        answer += f" with a {spelled}"
    elif where == "metadata":
        note += f" {spelled}"
    if i == 50:
        user = "École d'été"
    if i == 60:
        user = "version a.b"
    if i == 61:
        user = "version axb"
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return {"messages": messages, "note": note, "id": i}  # extra fields: metadata (and the record path)


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The local and the HTTP client over one home holding ``notes@1``; both read with ``ENV``."""
    home = tmp_path_factory.mktemp("search-home")
    source = home / "notes.jsonl"
    source.write_text("".join(json.dumps(_row(i)) + "\n" for i in range(ROWS)))
    with pytest.MonkeyPatch.context() as mp:
        for key, value in ENV.items():
            mp.setenv(key, value)
        local = LocalClient(Settings(home=home))  # type: ignore[call-arg]
        local.datasets.add_version(DatasetAdd(name="notes", path=str(source)))
        with serving_llmloop(home, ENV) as server:
            remote = RemoteClient(Settings(home=home, server_url=server.url))  # type: ignore[call-arg]
            try:
                yield {"local": local, "remote": remote}
            finally:
                remote.http.close()


@pytest.fixture(params=["local", "remote"])
def client(request: pytest.FixtureRequest, clients: dict[str, Any]) -> Any:
    return clients[request.param]


def _ids(items: list[dict[str, Any]]) -> list[int]:
    return [r["metadata"]["id"] for r in items]


def test_the_version_is_stored_in_small_batches(clients: dict[str, Any]) -> None:
    local = clients["local"]
    batches = list(local.datasets.iter_batches(local.datasets.get_version("notes@1")))
    assert [b.num_rows for b in batches] == [8192, 808]  # so the searches below cross batches


def test_paging_a_search_returns_every_match_once_across_batches_and_scan_bounds(client: Any) -> None:
    pages = []
    offset: int | None = 0
    while offset is not None:
        page = client.datasets.get_rows("notes@1", offset=offset, limit=2, q="needle")
        pages.append((page.offset, _ids(page.items), page.next_offset, page.scanned))
        offset = page.next_offset
    assert pages == [
        (0, [0, 37], 38, 38),  # row 0 and an assistant turn: the page is full at row 37
        (38, [70], 5038, 5000),  # the scan bound ends this page short; 70 matched on metadata only
        (5038, [8191, 8192], 8193, 3155),  # the last row of the first batch and the first of the next
        (8193, [8999], None, 807),  # the last row, then the end
    ]
    assert sorted(i for _, ids, _, _ in pages for i in ids) == sorted(NEEDLES)


def test_a_search_page_holds_the_rows_as_stored(client: Any) -> None:
    page = client.datasets.get_rows("notes@1", offset=30, limit=1, q="needle")
    assert page.q == "needle" and page.total == ROWS
    assert page.items == [
        {"messages": [{"role": "user", "content": "question 37"},
                      {"role": "assistant", "content": "answer 37 with a NEEDLE"}],
         "metadata": {"id": 37, "note": "note 37"}}
    ]  # fmt: skip


def test_case_is_folded_beyond_ascii_and_q_is_literal_text(client: Any) -> None:
    assert _ids(client.datasets.get_rows("notes@1", q="ÉCOLE D'ÉTÉ", limit=5).items) == [50]
    assert _ids(client.datasets.get_rows("notes@1", offset=40, q="a.b", limit=5).items) == [60]
    assert client.datasets.get_rows("notes@1", q="user", limit=5).items == []  # roles are not searched


def test_no_match_scans_to_the_end_in_bounded_steps(client: Any) -> None:
    steps = []
    offset: int | None = 0
    while offset is not None:
        page = client.datasets.get_rows("notes@1", offset=offset, limit=25, q="haystack only")
        steps.append((len(page.items), page.next_offset, page.scanned))
        offset = page.next_offset
    assert steps == [(0, 5000, 5000), (0, None, 4000)]


def test_plain_paging_says_where_the_next_page_begins(client: Any) -> None:
    page = client.datasets.get_rows("notes@1", offset=8190, limit=5)
    assert (_ids(page.items), page.next_offset, page.scanned, page.q) == ([*range(8190, 8195)], 8195, 5, None)
    last = client.datasets.get_rows("notes@1", offset=8995, limit=50)
    assert (_ids(last.items), last.next_offset, last.scanned) == ([*range(8995, 9000)], None, 5)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"offset": -1, "q": "needle"}, "offset"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_input_names_the_field(client: Any, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        client.datasets.get_rows("notes@1", **kwargs)
    assert err.value.details["field"] in (field, f"query.{field}")  # the route's own bounds say where


def test_the_route_reads_q_and_names_a_bad_one(api: Any) -> None:
    body = "".join(json.dumps(_row(i)) + "\n" for i in range(20)).encode()
    assert (
        api.post("/api/v1/datasets/n/versions", params={"filename": "n.jsonl"}, content=body).status_code
        == 201
    )
    page = api.get("/api/v1/datasets/n/versions/1/rows", params={"q": "NEEDLE", "limit": 5}).json()
    assert ([r["metadata"]["id"] for r in page["items"]], page["next_offset"], page["scanned"]) == (
        [0],
        None,
        20,
    )
    r = api.get("/api/v1/datasets/n/versions/1/rows", params={"q": ""})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "q"
    r = api.get("/api/v1/datasets/n/versions/1/rows", params={"q": "needle", "offset": -3})
    assert r.status_code == 400 and "offset" in r.json()["error"]["details"]["field"]


def test_a_lone_surrogate_is_bad_input_not_a_crash(clients: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as err:  # only Python code can pass one: HTTP carries UTF-8
        clients["local"].datasets.get_rows("notes@1", q="a\ud800")
    assert err.value.details == {"field": "q"}
