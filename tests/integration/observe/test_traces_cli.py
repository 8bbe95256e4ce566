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


def test_show_lists_the_feedback_in_the_text_view(cli: Any, ctx: Any) -> None:
    """The text view shows what ``--json`` shows: every feedback item, each field it carries."""
    with ll.span("answer", project="cli") as root:
        pass
    ll.flush_traces()
    assert "feedback: none" in cli("traces", "show", root.trace_id).stdout
    ll.feedback(root.trace_id, score=0.0, label="wrong", comment="not in May")
    ll.feedback(root.trace_id, correction="Lisbon is warm in May.\nGo there.")
    ll.feedback(root.trace_id, preferred="the second answer")
    shown = cli("traces", "show", root.trace_id)
    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    at = lines.index("feedback (3):")
    items = lines[at + 1 :]
    assert len(items) == 3 and all(line.startswith("  - ") for line in items)
    scored, corrected, preferred = sorted(items, key=lambda line: ("score" not in line, "preferred" in line))
    assert "score 0" in scored and "label 'wrong'" in scored and "comment 'not in May'" in scored
    assert "correction 'Lisbon is warm in May.\\nGo there.'" in corrected  # one line per item
    assert "preferred 'the second answer'" in preferred
    assert all(" by local at " in line for line in items)
