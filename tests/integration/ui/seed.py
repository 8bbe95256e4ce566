"""One project with something on every page, in about a second: what the UI tests look at.

Project ``shop`` (``tests/integration/registry/protected.py``): dataset ``qa`` (two versions), model ``m`` with
three upstream versions on fake OpenAI servers (``m@1`` champion; ``m@2`` on the flaky server),
plus two runs with loss curves, prompt ``greet`` in two versions, two evaluations to compare, a
weighted deployment, traces whose root spans carry a question and an answer, and a two-step
pipeline run twice (the second run served from the cache).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fakes.openai_server import FakeOpenAI
from tests.integration.registry.protected import PROJECT, Seeded, seed

from llmloop.services.data import service as data
from llmloop.services.data.schemas import DatasetAdd
from llmloop.services.evaluate import service as eval_service
from llmloop.services.evaluate.suite import load_suite
from llmloop.services.observe import semconv
from llmloop.services.observe import service as trace_service
from llmloop.services.observe.schemas import SpanRecord
from llmloop.services.pipelines.definition import parse_definition
from llmloop.services.pipelines.runner import RunOptions, run_pipeline
from llmloop.services.prompts import service as prompts_service
from llmloop.services.prompts.schemas import PromptCreate
from llmloop.services.serve import service as deploy_service
from llmloop.services.serve.gateway import SHADOW
from llmloop.services.serve.schemas import DeploymentCreate, DeploymentSpec, TargetSpec
from llmloop.services.tracking import service as tracking
from llmloop.services.tracking.schemas import MetricPoint, RunBatch, RunCreate

__all__ = ["PROJECT", "Loop", "record_pair", "seed_loop"]


@dataclass
class Loop:
    models: Seeded
    runs: list[str] = field(default_factory=list)
    evaluations: list[str] = field(default_factory=list)
    traces: list[str] = field(default_factory=list)
    pipelines: list[str] = field(default_factory=list)  # the same two-step pipeline run twice


def judge(batch: list[list[dict[str, str]]], **params: Any) -> list[str]:
    """The seeded suite's LLM judge: a rationale, then a score (so the pages have rationales to show)."""
    out = []
    for messages in batch:
        answer = messages[-1]["content"].split("Assistant's answer:")[1].split("Rate the answer")[0]
        out.append(
            "It repeats the item back, which is what was asked.\nScore: 4"
            if "echo" in answer
            else "It answers 'nope' and helps with nothing.\nScore: 1"
        )
    return out


def seed_loop(ctx: Any, folder: Path, good: FakeOpenAI, flaky: FakeOpenAI, traces: int = 3) -> Loop:
    loop = Loop(models=seed(ctx, folder, good, flaky))
    more = folder / "qa2.jsonl"
    more.write_text(
        (folder / "qa.jsonl").read_text() + '{"prompt": "item 9", "completion": "echo: item 9"}\n'
    )
    data.add_version(ctx, spec=DatasetAdd(project=PROJECT, name="qa", path=str(more)))  # qa@2: one row more
    now = time.time()
    for i, lr in enumerate(("0.01", "0.001")):
        run = tracking.create_run(ctx, spec=RunCreate(project=PROJECT, name=f"sft-{i}", params={"lr": lr}))
        points = [
            MetricPoint(key="loss", value=2.0 / (s + 1 + i), step=s, timestamp=now + s) for s in range(6)
        ]
        tracking.log_batch(ctx, run_id=run.id, batch=RunBatch(metrics=points, end_status="finished"))
        loop.runs.append(run.id)
    for text in ("hi {{ who }}", "hello {{ who }}, welcome"):
        prompts_service.create_prompt_version(
            ctx,
            spec=PromptCreate(
                project=PROJECT, name="greet", template=text, variables={"who": {"type": "string"}}
            ),
        )
    (folder / "suite.yaml").write_text(
        "name: qa\ndataset: {ref: qa@1}\nmetrics:\n  - exact_match\n"
        "  - {metric: llm_judge, key: helpful, options: {judge: 'py:tests.integration.ui.seed:judge'}}\n"
    )
    for answer in ("echo: item", "nope"):
        evaluation = eval_service.run_suite(
            ctx,
            suite=load_suite(folder / "suite.yaml"),
            model=lambda batch, a=answer, **p: [f"{a} {i}" if a != "nope" else a for i in range(len(batch))],
            project=PROJECT,
        )
        loop.evaluations.append(evaluation.id)
    targets = [TargetSpec(model="m@champion", weight=0.9), TargetSpec(model="m@3", weight=0.1)]
    deploy_service.create_deployment(
        ctx,
        spec=DeploymentCreate(
            name="chat", project=PROJECT, spec=DeploymentSpec(policy="weighted", targets=targets)
        ),
    )
    for i in range(traces):
        trace_id = uuid.uuid4().hex
        root = SpanRecord(
            trace_id=trace_id,
            span_id=trace_id[:16],
            project=PROJECT,
            name="chat",
            start_time=now + i,
            end_time=now + i + 0.2,
            status_code="ok",
            attributes={
                "llmloop.input": f"Where to go in spring? ({i})",
                "llmloop.output": f"Try Lisbon ({i})",
            },
        )
        child = SpanRecord(
            trace_id=trace_id,
            span_id=trace_id[16:],
            parent_span_id=trace_id[:16],
            project=PROJECT,
            name="generate",
            start_time=now + i + 0.05,
            end_time=now + i + 0.15,
        )
        trace_service.record_spans(ctx, spans=[root, child])
        loop.traces.append(trace_id)
    pipeline = parse_definition(
        {
            "name": "encode",
            "project": PROJECT,
            "steps": [
                {"name": "pack", "kind": "json:dumps", "inputs": {"obj": ["item", 1]}},
                {"name": "unpack", "kind": "json:loads", "inputs": {"s": "steps.pack.value"}},
            ],
        }
    )
    for _ in range(2):
        run = run_pipeline(ctx, defn=pipeline, options=RunOptions(executor="inline"))
        loop.pipelines.append(run.id)
    return loop


def record_pair(ctx: Any, question: str, served: str, shadow: str, at: float) -> str:
    """A trace shaped as the gateway records a request mirrored to a shadow target: the served answer
    on the root span, the shadow's on a child marked ``llmloop.shadow`` (a pairwise review item)."""
    trace_id = uuid.uuid4().hex
    messages = json.dumps([{"role": "user", "content": question}])
    root = SpanRecord(
        trace_id=trace_id,
        span_id=trace_id[:16],
        project=PROJECT,
        name="chat m@champion",
        start_time=at,
        end_time=at + 0.3,
        status_code="ok",
        attributes={
            semconv.GEN_AI_INPUT_MESSAGES: messages,
            semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "content": served}]),
        },
    )
    mirror = SpanRecord(
        trace_id=trace_id,
        span_id=trace_id[16:],
        parent_span_id=trace_id[:16],
        project=PROJECT,
        name="shadow m@3",
        start_time=at + 0.01,
        end_time=at + 0.2,
        status_code="ok",
        attributes={
            SHADOW: True,
            semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "content": shadow}]),
        },
    )
    trace_service.record_spans(ctx, spans=[root, mirror])
    return trace_id
