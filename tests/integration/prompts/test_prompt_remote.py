"""``RemoteClient().prompts`` against the real API (in-process): same schemas, same error classes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from llmloop.client import RemoteClient
from llmloop.client.prompts import RemotePrompts
from llmloop.config import Settings
from llmloop.errors import InvalidInput, NotFound
from llmloop.services.prompts.schemas import PromptCreate, RenderRequest


@pytest.fixture
def remote(api: Any) -> Iterator[RemotePrompts]:
    client = RemoteClient(Settings(server_url="http://testserver"))  # type: ignore[call-arg]
    client.http.client.close()
    client.http.client = api  # the TestClient is an httpx.Client bound to the app
    yield client.prompts  # type: ignore[misc]


def test_remote_round_trip(remote: RemotePrompts) -> None:
    spec = {
        "project": "travel",
        "name": "ask",
        "template": "Q: {{ q }}\nA:",
        "variables": {"q": "string"},
        "params": {"max_tokens": 20},
    }
    v1 = remote.create_version(PromptCreate.model_validate({**spec, "message": "one"}))
    v2 = remote.create_version(
        PromptCreate.model_validate({**spec, "template": "Question: {{ q }}\nAnswer:"})
    )
    assert (v1.version, v2.version) == (1, 2)
    assert remote.set_alias("ask", "production", 1, "travel").aliases == ["production"]
    assert remote.get_version("ask@production", "travel").template == "Q: {{ q }}\nA:"
    assert [v.version for v in remote.list_versions("ask", "travel")] == [2, 1]
    assert remote.list_prompts("travel").items[0].aliases == {"production": 1}
    diff = remote.diff_versions("ask@production", "ask@2", "travel")
    assert diff.changed == ["template"] and "+  Answer:" in diff.diff
    assert remote.diff_versions("ask", "1", "travel").from_ref == "ask@2"  # a bare name is the latest
    rendered = remote.render("ask@1", RenderRequest(project="travel", variables={"q": "Why?"}))
    assert rendered.text == "Q: Why?\nA:"
    remote.delete_alias("ask", "production", "travel")
    with pytest.raises(NotFound, match="ask@production"):
        remote.get_version("ask@production", "travel")
    with pytest.raises(InvalidInput, match="missing variable 'q'"):
        remote.render("ask", RenderRequest(project="travel", variables={}))
