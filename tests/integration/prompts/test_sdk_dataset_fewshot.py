"""``ll.prompts`` renders few-shot prompts whose examples come from a dataset, locally and against a server.

The SDK renders in the caller's process, so its ``Prompt`` takes the example source from the
client it was fetched through: the datasets service in-process, the server's datasets over
``/api/v1`` remotely. A chain built on such a prompt renders the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import LiveServer

import llmloop as ll
from llmloop.client import get_client
from llmloop.config import reset_settings
from llmloop.errors import NotFound
from llmloop.services.prompts.fewshot import ExampleSet
from llmloop.services.prompts.schemas import RenderRequest

PROJECT = "verify"
EXPECTED = ["Answer briefly.", "question 0", "a0", "question 1", "a1", "x"]


def _seed(tmp_path: Path, *, examples_from: str = "faq@1") -> None:
    path = tmp_path / "faq.jsonl"
    rows = [{"prompt": f"question {i}", "completion": f"a{i}"} for i in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ll.datasets.add("faq", path, project=PROJECT)
    ll.prompts.create(
        "qa-ds",
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "{{ question }}"},
        ],
        variables={"question": "string"},
        few_shot={
            "strategy": "fixed",
            "k": 2,
            "examples_from": examples_from,
            "messages": [
                {"role": "user", "content": "{{ prompt }}"},
                {"role": "assistant", "content": "{{ completion }}"},
            ],
        },
        project=PROJECT,
    )


def _renders_with_examples() -> None:
    prompt = ll.prompts.get("qa-ds", project=PROJECT)
    assert [m["content"] for m in prompt.render(question="x")] == EXPECTED
    detail = prompt.format({"question": "x"})
    assert [e["completion"] for e in detail.examples] == ["a0", "a1"]
    served = get_client().prompts.render("qa-ds", RenderRequest(project=PROJECT, variables={"question": "x"}))
    assert served.messages == detail.messages  # the SDK renders what the CLI and REST render

    seen: list[list[dict[str, str]]] = []

    def generate(messages: list[dict[str, str]], **params: Any) -> str:
        seen.append(messages)
        return "Lisbon"

    chain = ll.prompts.Chain(
        "ask", [ll.prompts.PromptStep("answer", prompt)], generate=generate, project=PROJECT
    )
    assert chain.run(question="x").output == "Lisbon"
    assert [m["content"] for m in seen[0]] == EXPECTED


def test_local_client_renders_dataset_examples(isolated_home: Path, tmp_path: Path) -> None:
    _seed(tmp_path)
    _renders_with_examples()


def test_remote_client_renders_dataset_examples(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(tmp_path)  # on the server's store (the same home), then every read goes through the server
    monkeypatch.setenv("LLMLOOP_SERVER_URL", live_server.url)
    reset_settings()
    assert get_client().remote
    _renders_with_examples()


def test_a_missing_dataset_is_named_and_a_given_source_wins(isolated_home: Path, tmp_path: Path) -> None:
    _seed(tmp_path, examples_from="nothing-here@1")
    prompt = ll.prompts.get("qa-ds", project=PROJECT)
    with pytest.raises(NotFound, match="nothing-here"):
        prompt.render(question="x")
    own = ExampleSet(key="mine", rows=[{"prompt": "p", "completion": "c"}])
    given = prompt.format({"question": "x"}, example_source=lambda ref: own)
    assert [m["content"] for m in given.messages] == ["Answer briefly.", "p", "c", "x"]
