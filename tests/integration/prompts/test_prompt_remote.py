"""The SDK's remote backend against the real API (in-process): same schemas, same error classes."""

from __future__ import annotations

from typing import Any

import pytest

from llmloop.config import Settings
from llmloop.errors import InvalidInput, NotFound
from llmloop.sdk.prompts import RemoteBackend
from llmloop.sdk.remote import RemoteClient
from llmloop.services.prompts.schemas import PromptCreate, RenderRequest


@pytest.fixture
def remote(api: Any) -> RemoteBackend:
    settings = Settings(server_url="http://testserver")
    client = RemoteClient(settings)
    client.http = api  # the TestClient is an httpx.Client bound to the app
    return RemoteBackend(settings, client=client)


def test_remote_round_trip(remote: RemoteBackend) -> None:
    spec = {
        "project": "travel",
        "name": "ask",
        "template": "Q: {{ q }}\nA:",
        "variables": {"q": "string"},
        "params": {"max_tokens": 20},
    }
    v1 = remote.create(PromptCreate.model_validate({**spec, "message": "one"}))
    v2 = remote.create(PromptCreate.model_validate({**spec, "template": "Question: {{ q }}\nAnswer:"}))
    assert (v1.version, v2.version) == (1, 2)
    assert remote.set_alias("travel", "ask", "production", 1).aliases == ["production"]
    assert remote.get("travel", "ask@production").template == "Q: {{ q }}\nA:"
    assert [v.version for v in remote.versions("travel", "ask")] == [2, 1]
    assert remote.list("travel").items[0].aliases == {"production": 1}
    diff = remote.diff("travel", "ask@production", "ask@2")
    assert diff.changed == ["template"] and "+  Answer:" in diff.diff
    rendered = remote.render("ask@1", RenderRequest(project="travel", variables={"q": "Why?"}))
    assert rendered.text == "Q: Why?\nA:"
    remote.delete_alias("travel", "ask", "production")
    with pytest.raises(NotFound, match="ask@production"):
        remote.get("travel", "ask@production")
    with pytest.raises(InvalidInput, match="missing variable 'q'"):
        remote.render("ask", RenderRequest(project="travel", variables={}))
