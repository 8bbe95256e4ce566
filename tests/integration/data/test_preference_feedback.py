"""Preference feedback on served traffic becomes a dataset DPO trains on (issue 18, item 1).

The gateway records a chat, a reviewer prefers another answer, ``llmloop feedback export --as
preference --dataset prefs`` writes the pair in TRL's conversational form and registers it, and
training reads that version and a hand-written file in the standard (string) form as the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.server_thread import ServerThread

from llmloop.services.observe.tracer import writer_for
from llmloop.services.train.config import DatasetSpec
from llmloop.services.train.data import load_dataset, preference_rows, require_kind


def _served_and_judged(api: Any, ctx: Any) -> str:
    """One chat through a deployment, and a reviewer's preferred answer for it; the trace id."""
    with ServerThread(FakeOpenAI().app, free_port()) as up:
        spec = {"targets": [{"model": "echo-1", "upstream": f"{up.url}/v1"}]}
        assert api.post("/api/v1/deployments", json={"name": "bot", "spec": spec}).status_code == 201
        r = api.post(
            "/v1/chat/completions",
            json={"model": "bot", "messages": [{"role": "user", "content": "Quiet beach?"}]},
        )
        assert r.status_code == 200, r.text
    trace_id = str(r.headers["x-llmloop-trace-id"])
    writer_for(ctx).flush()
    fb = api.post("/api/v1/feedback", json={"trace_id": trace_id, "preferred": "Menorca."})
    assert fb.status_code == 201, fb.text
    return trace_id


def test_preference_feedback_becomes_a_dataset_that_dpo_reads(
    api: Any, ctx: Any, cli: Any, tmp_path: Path
) -> None:
    trace_id = _served_and_judged(api, ctx)
    out = tmp_path / "p.jsonl"
    res = cli("feedback", "export", "--as", "preference", "-o", str(out), "--dataset", "prefs", "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["dataset_version"] == "prefs@1"
    shown = json.loads(cli("data", "show", "prefs", "--json").stdout)["version"]
    assert (shown["kind"], shown["rows"]) == ("preference", 1)

    registered = load_dataset(ctx, DatasetSpec(ref="prefs"), key="data.train", project="default")
    require_kind(registered, "dpo")
    standard = tmp_path / "standard.jsonl"
    standard.write_text(
        json.dumps({"prompt": "Quiet beach?", "chosen": "Menorca.", "rejected": "echo: Quiet beach?"}) + "\n"
    )
    local = load_dataset(ctx, DatasetSpec(path=str(standard)), key="data.train", project="default")
    for chat in (True, False):  # with a chat template the conversational form; without, strings
        assert preference_rows(registered, chat=chat, system_prompt=None) == preference_rows(
            local, chat=chat, system_prompt=None
        )
    (pair,) = preference_rows(registered, chat=True, system_prompt="Be brief.")
    assert pair == {
        "prompt": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Quiet beach?"},
        ],
        "chosen": [{"role": "assistant", "content": "Menorca."}],
        "rejected": [{"role": "assistant", "content": "echo: Quiet beach?"}],
    }
    assert json.loads(registered.rows[0]["metadata"]) == {"trace_id": trace_id}  # lineage in the row too
