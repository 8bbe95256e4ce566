"""``few_shot.examples_from`` names a registered dataset version; rendering reads its rows."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from llmloop.errors import NotFound, PermissionDenied
from llmloop.security.rbac import Actor
from llmloop.services.data import service as datasets
from llmloop.services.data.schemas import DatasetAdd
from llmloop.services.prompts import service
from llmloop.services.prompts.schemas import PromptCreate, RenderRequest


def _add(ctx: Any, tmp_path: Path, answers: list[str]) -> str:
    path = tmp_path / f"faq{len(answers)}.jsonl"
    rows = [{"prompt": f"question {i}", "completion": a} for i, a in enumerate(answers)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = DatasetAdd(name="faq", path=str(path), project="travel", kind="prompt_completion")
    return datasets.add_version(ctx, spec=spec).version.ref


def _prompt(ctx: Any, examples_from: str) -> Any:
    return service.create_prompt_version(
        ctx,
        spec=PromptCreate.model_validate(
            {
                "project": "travel",
                "name": "faq-bot",
                "messages": [
                    {"role": "system", "content": "Answer briefly."},
                    {"role": "user", "content": "{{ q }}"},
                ],
                "variables": {"q": "string"},
                "few_shot": {
                    "strategy": "fixed",
                    "k": 2,
                    "examples_from": examples_from,
                    "messages": [
                        {"role": "user", "content": "{{ prompt }}"},
                        {"role": "assistant", "content": "{{ completion }}"},
                    ],
                },
            }
        ),
    )


def test_examples_come_from_the_pinned_dataset_version(ctx: Any, tmp_path: Path) -> None:
    assert _add(ctx, tmp_path, ["a0", "a1", "a2"]) == "faq@1"
    assert _add(ctx, tmp_path, ["b0", "b1", "b2", "b3"]) == "faq@2"
    _prompt(ctx, "faq@1")
    out = service.render_prompt(
        ctx, ref="faq-bot", request=RenderRequest(project="travel", variables={"q": "hi"})
    )
    assert [m["content"] for m in out.messages] == [
        "Answer briefly.",
        "question 0",
        "a0",
        "question 1",
        "a1",
        "hi",
    ]

    _prompt(ctx, "faq")  # unpinned: the latest version's rows
    out = service.render_prompt(
        ctx, ref="faq-bot@2", request=RenderRequest(project="travel", variables={"q": "x"})
    )
    assert [e["completion"] for e in out.examples] == ["b0", "b1"]


def test_missing_dataset_and_foreign_reader_are_refused(ctx: Any, tmp_path: Path) -> None:
    _prompt(ctx, "nothing-here@1")
    with pytest.raises(NotFound, match="nothing-here"):
        service.render_prompt(
            ctx, ref="faq-bot", request=RenderRequest(project="travel", variables={"q": "x"})
        )
    _add(ctx, tmp_path, ["a"])
    _prompt(ctx, "faq@1")
    reader = replace(ctx, actor=Actor("someone", roles={"other": "admin"}))
    with pytest.raises((PermissionDenied, NotFound)):
        service.render_prompt(
            reader, ref="faq-bot", request=RenderRequest(project="travel", variables={"q": "x"})
        )
