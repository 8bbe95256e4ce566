"""``llmloop serve`` as a real process: the official openai client (sync and async, streaming and not)
through a deployment made with the CLI, then feedback and its export from the CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from tests.fakes.openai_server import serving


def _llmloop(env: dict[str, str], *args: str) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "llmloop", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if "--json" in args else out.stdout


@pytest.mark.slow
def test_live_gateway_with_openai_client_feedback_and_export(live_server: Any, tmp_path: Path) -> None:
    env = {**live_server.env, "LLMLOOP_SERVER_URL": live_server.url}
    with serving() as up:
        made = _llmloop(
            env, "deploy", "create", "bot", "--model", "echo-live", "--upstream", up.url, "--json"
        )
        assert made["revision"] == 1
        assert [d["name"] for d in _llmloop(env, "deploy", "list", "--json")["items"]] == ["bot"]

        client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="x", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="bot", messages=[{"role": "user", "content": "what is 2+2"}], user="carol"
        )
        assert raw.parse().choices[0].message.content == "echo: what is 2+2"
        trace_id = raw.headers["x-llmloop-trace-id"]
        stream = client.chat.completions.create(
            model="bot",
            messages=[{"role": "user", "content": "stream me"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: stream me"
        assert chunks[-1].usage is not None

        async def run_async() -> str:
            aclient = openai.AsyncOpenAI(base_url=f"{live_server.url}/v1", api_key="x", max_retries=0)
            s = await aclient.chat.completions.create(
                model="bot", messages=[{"role": "user", "content": "async live"}], stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in s if c.choices])
            done = await aclient.completions.create(model="bot", prompt="p")
            await aclient.close()
            return text + "|" + done.choices[0].text

        assert asyncio.run(run_async()) == "echo: async live|echo: p"
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="nobody", messages=[{"role": "user", "content": "x"}])

    r = httpx.post(
        f"{live_server.url}/api/v1/feedback",
        json={"trace_id": trace_id, "score": 0.0, "correction": "4", "comment": "wrong"},
    )
    assert r.status_code == 201, r.text
    shown = _llmloop(env, "traces", "show", trace_id, "--json")
    assert shown["user_id"] == "carol" and shown["feedback"][0]["correction"] == "4"
    listed = _llmloop(env, "traces", "list", "--model", "bot", "--json")["items"]
    assert len(listed) >= 3  # every request became a trace

    rolled = _llmloop(
        env, "deploy", "create", "bot", "--model", "other", "--upstream", "http://127.0.0.1:9/v1", "--json"
    )
    assert rolled["revision"] == 2
    assert _llmloop(env, "deploy", "rollback", "bot", "--json")["spec"]["targets"][0]["model"] == "echo-live"

    live_server.proc.terminate()
    live_server.proc.wait(timeout=20)
    local = {k: v for k, v in env.items() if k != "LLMLOOP_SERVER_URL"}
    sft = _llmloop(local, "feedback", "export", "--as", "sft", "--out", str(tmp_path / "sft.jsonl"), "--json")
    pref = _llmloop(
        local, "feedback", "export", "--as", "preference", "-o", str(tmp_path / "p.jsonl"), "--json"
    )
    assert sft["rows"] == pref["rows"] == 1 and sft["trace_ids"] == [trace_id]
    assert sft["dataset_version"] is None  # no --dataset: a file only
    # The loop closes here: feedback becomes the next version of a training dataset, traced back.
    registered = _llmloop(
        local,
        "feedback",
        "export",
        "--as",
        "sft",
        "-o",
        str(tmp_path / "s2.jsonl"),
        "--dataset",
        "fixes",
        "--json",
    )
    assert registered["dataset_version"] == "fixes@1"
    shown_ds = _llmloop(local, "data", "show", "fixes", "--json")
    assert shown_ds["version"]["rows"] == 1 and shown_ds["version"]["kind"] == "chat"
    row = json.loads((tmp_path / "sft.jsonl").read_text())
    assert row["messages"][-1] == {"role": "assistant", "content": "4"}
    assert row["messages"][0]["content"] == "what is 2+2"
    pair = json.loads((tmp_path / "p.jsonl").read_text())
    assert pair["chosen"][0]["content"] == "4" and pair["rejected"][0]["content"] == "echo: what is 2+2"


@pytest.mark.slow
def test_clean_shutdown_loses_no_trace(live_server: Any) -> None:
    """uvicorn re-raises SIGTERM (skipping atexit); the app's shutdown still writes every queued span."""
    import sqlite3

    with serving() as up:
        spec = {"targets": [{"model": "e", "upstream": up.url}]}
        assert (
            httpx.post(f"{live_server.url}/api/v1/deployments", json={"name": "d", "spec": spec}).status_code
            == 201
        )
        with httpx.Client(base_url=live_server.url) as http:
            for i in range(40):
                body = {"model": "d", "messages": [{"role": "user", "content": f"m{i}"}]}
                assert http.post("/v1/chat/completions", json=body).status_code == 200
        live_server.proc.terminate()
        live_server.proc.wait(timeout=30)
    db = sqlite3.connect(Path(live_server.env["LLMLOOP_HOME"]) / "llmloop.db")
    rows = db.execute("SELECT count(*), sum(span_count) FROM traces WHERE name = 'gateway chat'").fetchone()
    db.close()
    assert tuple(rows) == (40, 120)
