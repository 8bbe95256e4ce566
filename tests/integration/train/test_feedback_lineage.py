"""Lineage you can walk: a model trained on production feedback goes back, node by node, through
its run, the exported preference dataset, the feedback and the traces it came from, the version
and deployment revision that served them, and that version's own run, to the original data.

The whole loop runs for real on the tiny model: register data → SFT (registers ``picker@1``) →
deploy it → chats through the gateway (traces) → preferences on them → ``feedback export --as
preference --dataset prefs`` → DPO from ``picker@1`` (registers ``picker-dpo@1``) → walk.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

import llmloop as ll
from llmloop.context import local_context
from llmloop.server.app import create_app
from llmloop.services.registry.schemas import LineageNode

QUESTIONS = [("Pick one: sun or rain?", "sun"), ("Pick one: lake or hill?", "lake")]


def _index(node: LineageNode, out: dict[tuple[str, str], LineageNode]) -> dict[tuple[str, str], LineageNode]:
    """Each entity's node where the tree shows it in full."""
    if not node.repeated:
        out[(node.type, node.id)] = node
    for child in node.children:
        _index(child, out)
    return out


class Walk:
    """Steps from a node to its sources by (type, relation), following a ``repeated`` node to where
    the tree shows it in full, so the test walks the chain the user reads."""

    def __init__(self, root: LineageNode) -> None:
        self.full = _index(root, {})

    def sources(self, node: LineageNode, type_: str, relation: str) -> list[LineageNode]:
        found = [c for c in node.children if (c.type, c.relation) == (type_, relation)]
        assert found, f"{node.type} {node.label}: no {type_} via {relation} in " + str(
            [(c.type, c.relation, c.label) for c in node.children]
        )
        return [self.full[(c.type, c.id)] for c in found]

    def source(self, node: LineageNode, type_: str, relation: str) -> LineageNode:
        (only,) = self.sources(node, type_, relation)
        return only


def _serve_and_judge(ctx: Any) -> list[str]:
    """Chats with ``picker@1`` through deployment ``bot``; a preferred answer on each trace (the
    feedback route flushes the span writer first, so each trace is stored before its feedback)."""
    trace_ids = []
    with TestClient(create_app(ctx)) as api:
        spec = {"targets": [{"model": "picker@1"}]}
        assert api.post("/api/v1/deployments", json={"name": "bot", "spec": spec}).status_code == 201
        for question, better in QUESTIONS:
            r = api.post(
                "/v1/chat/completions",
                json={"model": "bot", "messages": [{"role": "user", "content": question}], "max_tokens": 4},
            )
            assert r.status_code == 200, r.text
            trace_id = str(r.headers["x-llmloop-trace-id"])
            fb = api.post("/api/v1/feedback", json={"trace_id": trace_id, "preferred": better})
            assert fb.status_code == 201, fb.text
            trace_ids.append(trace_id)
    return trace_ids


def test_a_model_trained_on_feedback_walks_back_to_the_data_behind_the_version_that_served_it(
    tiny_config: Callable[..., dict[str, Any]], data_dir: Path, cli: Any, tmp_path: Path
) -> None:
    picks = ll.datasets.add("picks", data_dir / "train.jsonl").ref
    sft = ll.train(tiny_config(name="picker", data={"train": picks, "eval": None}, training={"max_steps": 1}))
    assert sft.model_version == "picker@1"
    trace_ids = _serve_and_judge(local_context())

    out = tmp_path / "prefs.jsonl"
    exported = cli("feedback", "export", "--as", "preference", "-o", str(out), "--dataset", "prefs", "--json")
    assert exported.exit_code == 0, exported.stderr
    assert json.loads(exported.stdout)["dataset_version"] == "prefs@1"
    dpo = ll.train(
        tiny_config(
            name="picker-dpo",
            method="dpo",
            model={"base": "picker@1"},
            data={"train": "prefs@1", "eval": None},
            training={"max_steps": 1, "batch_size": 2},
        )
    )
    assert dpo.model_version == "picker-dpo@1"

    tree = ll.models.lineage("picker-dpo@1").tree
    assert tree is not None and (tree.type, tree.label, tree.relation) == (
        "model_version",
        "picker-dpo@1",
        None,
    )
    walk = Walk(tree)
    run = walk.source(tree, "run", "produced")
    assert run.label == "picker-dpo" and run.id == dpo.run_id
    assert walk.source(run, "model_version", "base_model").label == "picker@1"  # DPO started from it
    prefs = walk.source(run, "dataset_version", "train_data")
    assert prefs.label == "prefs@1"
    feedback = walk.sources(prefs, "feedback", "exported_to")
    assert [f.label for f in feedback] == ["preferred answer"] * 2
    traces = [walk.source(f, "trace", "feedback") for f in feedback]
    assert sorted(t.id for t in traces) == sorted(trace_ids)
    for trace in traces:
        assert trace.label == "bot"  # the deployment that routed it
        assert walk.source(trace, "deployment_revision", "routed").label == "bot rev 1"
        assert walk.source(trace, "model_version", "served").label == "picker@1"
    served = walk.source(traces[0], "model_version", "served")
    first_run = walk.source(served, "run", "produced")
    assert first_run.label == "picker" and first_run.id == sft.run_id
    original = walk.source(first_run, "dataset_version", "train_data")
    assert original.label == picks == "picks@1" and original.children == []  # the original data

    text = cli("models", "lineage", "picker-dpo@1")
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].startswith("model_version picker-dpo@1")
    for needle in (
        "produced: run picker-dpo",
        "train_data: dataset_version prefs@1",
        "exported_to: feedback preferred answer",
        "feedback: trace bot",
        "routed: deployment_revision bot rev 1",
        "served: model_version picker@1",
        "train_data: dataset_version picks@1",
    ):
        assert any(needle in line for line in lines), needle
    as_json = json.loads(cli("models", "lineage", "picker-dpo@1", "--json").stdout)
    assert as_json["tree"]["label"] == "picker-dpo@1" and as_json["ref"] == "picker-dpo@1"
