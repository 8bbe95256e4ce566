"""A protected alias in seconds: a registered dataset, upstream versions on the fake OpenAI server, a suite.

The fake server answers ``echo: <question>``, which is each row's reference, so a version served
by it scores exact_match 1.0. ``flaky`` answers 500 to the next ``fail_times`` requests (set before
a promotion): a version served by it gets 2 of 5 examples wrong by error, so its required
``error_rate <= 0`` gate fails. No weights are loaded; an evaluation takes milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.openai_server import FakeOpenAI

from llmloop.services.data import service as data
from llmloop.services.data.schemas import DatasetAdd
from llmloop.services.registry import service
from llmloop.services.registry.schemas import ModelVersionCreate, UpstreamSpec

PROJECT = "shop"
N = 5
SUITE = f"""
name: release
dataset: {{ref: qa@1}}
prompt: {{template: "{{prompt}}"}}
metrics: [exact_match]
generation: {{batch_size: {N}, max_new_tokens: 16}}
bootstrap: {{n_resamples: 100}}
gates:
  - exact_match >= 0.9
  - error_rate <= 0
  - exact_match not worse than champion by more than 0.05 (95% CI)
"""


@dataclass
class Seeded:
    """``m@1`` (good, on champion), ``m@2`` (flaky), ``m@3`` (good) in PROJECT, champion not yet protected."""

    good: FakeOpenAI
    flaky: FakeOpenAI

    def arm(self, times: int = 2) -> None:
        """The flaky server fails the next ``times`` requests (2: two of the 5 examples of one evaluation)."""
        self.flaky.faults.fail_times = times


def seed(ctx: Any, folder: Path, good: FakeOpenAI, flaky: FakeOpenAI) -> Seeded:
    rows = folder / "qa.jsonl"
    rows.write_text(
        "".join(json.dumps({"prompt": f"item {i}", "completion": f"echo: item {i}"}) + "\n" for i in range(N))
    )
    data.add_version(ctx, spec=DatasetAdd(project=PROJECT, name="qa", path=str(rows)))
    for server, model in ((good, "one"), (flaky, "two"), (good, "three")):
        upstream = UpstreamSpec(base_url=server.url, model=model, max_retries=0)
        service.register_model_version(
            ctx, spec=ModelVersionCreate(project=PROJECT, name="m", upstream=upstream)
        )
    service.promote_model(ctx, ref="m@1", alias="champion", project=PROJECT, reason="first")
    return Seeded(good, flaky)


def champion(ctx: Any) -> int:
    return service.get_model_version(ctx, ref="m@champion", project=PROJECT).version
