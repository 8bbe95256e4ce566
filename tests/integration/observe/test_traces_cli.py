"""``llmloop traces list|show`` over traces written by ll.span."""

from __future__ import annotations

import json
from typing import Any

import llmloop as ll
from llmloop.services.observe import semconv, service


def test_list_and_show(cli: Any, ctx: Any) -> None:
    with ll.span("plan", project="cli", attributes={semconv.GEN_AI_REQUEST_MODEL: "tiny"}) as root:
        with ll.span("search"):
            pass
        try:
            with ll.span("answer"):
                raise RuntimeError("no answer")
        except RuntimeError:
            pass
    ll.flush_traces()
    listed = cli("traces", "list", "-p", "cli", "--since", "1h", "--json")
    assert listed.exit_code == 0, listed.stderr
    items = json.loads(listed.stdout)["items"]
    assert [(t["trace_id"], t["status"], t["span_count"], t["model"]) for t in items] == [
        (root.trace_id, "error", 3, "tiny")
    ]
    assert json.loads(cli("traces", "list", "--status", "ok", "--json").stdout)["items"] == []
    shown = cli("traces", "show", root.trace_id, "--json")
    stored = service.get_trace(ctx, trace_id=root.trace_id).model_dump(mode="json")
    assert json.loads(shown.stdout) == {**stored, "feedback": []}  # `traces show` adds the trace's feedback
    tree = cli("traces", "show", root.trace_id).stdout.splitlines()
    assert tree[2].startswith("  - plan") and tree[3].startswith("    - search") and tree[4].endswith(" !")
    bad = cli("traces", "list", "--since", "yesterday")
    assert bad.exit_code == 2 and "--since 'yesterday'" in bad.stderr
    missing = cli("traces", "show", "0" * 32)
    assert (missing.exit_code, missing.stderr) == (2, f"error: trace '{'0' * 32}' not found\n")
