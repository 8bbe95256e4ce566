"""Turn 2's watch over production: a drift monitor, its alert, and the trigger that starts the next turn.

The quickstart writes ``monitoring.yaml`` beside its data and applies it, so what runs is a file a
user can read and copy:

* monitor ``travel-input-drift``: what the deployment is asked (the user turn of each trace in the
  window) against what the champion was trained on, as it is served: turn 1's train rows rendered by
  the champion's own prompt (dataset ``travel-served-reference``). Method ``auto``: MMD on MiniLM
  embeddings with a permutation p-value, and length, classifier and topic tests as second opinions.
  Its alpha is its false-alarm budget (0.05 a day) spread over the tests a day holds (one an hour),
  so testing every hour does not cry wolf.
* alert rule ``travel-drift-alert``: fires when that monitor finds drift; the alert quotes the texts
  that drove it and the traces they came from.
* trigger ``travel-drift-retrain``: on drift, start ``learn.yaml`` (export the feedback → SFT from the
  champion → evaluate against it → gates → canary). It has no cool-down so that the quickstart can
  be run again at once; a production policy sets one, and the budget caps starts at 20 a day.

A trigger that does not start (no drift found, a budget spent) ends turn 2 with its reasons:
``TriggerWaited``, and nothing is trained.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import llmloop as ll
from llmloop.errors import LlmloopError
from llmloop.examples.travel import write_jsonl
from llmloop.examples.travel.loop import LoopSettings
from llmloop.services.monitor.schemas import Alert, MonitorRun, TriggerDecision, TriggerRunRequest

REFERENCE_DATASET = "travel-served-reference"
MONITOR = "travel-input-drift"
RULE = "travel-drift-alert"
TRIGGER = "travel-drift-retrain"
WINDOW_S = 86_400.0  # the traffic of the last day
INTERVAL_S = 3600.0  # how often ``llmloop serve``'s scheduler would run it (sets the alpha budget)


class TriggerWaited(LlmloopError):
    """The trigger did not start the next turn; its decision says why."""


def user_turn(prompt: Any, record: dict[str, Any]) -> str:
    """What the deployment is asked for one row: the user turn of the prompt the champion serves."""
    names = record.get("option_names") or record["metadata"]["option_names"]
    return str(
        [
            m["content"]
            for m in prompt.render(input=record["input"], option_names=names)
            if m["role"] == "user"
        ][-1]
    )


def register_reference(settings: LoopSettings, prompt: Any, data: str) -> str:
    """``travel-served-reference``: turn 1's train rows as the champion is asked them (same content: same version)."""
    rows = ll.datasets.get(data, project=settings.project).iter_rows(split="train")
    path = settings.folder / "data" / f"{REFERENCE_DATASET}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(path, ({"text": user_turn(prompt, record)} for record in rows))
    return ll.datasets.add(REFERENCE_DATASET, path, schema="text", project=settings.project).ref


def config(project: str, deployment: str, reference: str, learn: Path) -> dict[str, Any]:
    """The monitoring YAML's content: the monitor, its alert rule, the trigger that runs ``learn``."""
    return {
        "monitors": [
            {
                "name": MONITOR,
                "project": project,
                "deployment": deployment,
                "window_s": WINDOW_S,
                "interval_s": INTERVAL_S,
                "drift": {
                    "field": "input",
                    "method": "auto",
                    "reference": {"dataset": reference, "column": "text"},
                },
            }
        ],
        "alerts": [
            {"name": RULE, "project": project, "monitor": MONITOR, "drifted": True, "severity": "warning"}
        ],
        "triggers": [
            {
                "name": TRIGGER,
                "project": project,
                "when": {"drift": MONITOR},
                "pipeline": str(learn.resolve()),
                "cooldown_s": 0,
                "budget": {"max_starts": 20, "period_s": 86_400},
            }
        ],
    }


def apply(folder: Path, content: dict[str, Any]) -> Path:
    path = folder / "monitoring.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False), encoding="utf-8")
    ll.monitoring.apply(path)
    return path


@dataclass
class Watched:
    """One monitor pass over the traffic, the alert it raised, and what the trigger decided."""

    run: MonitorRun
    alert: Alert | None
    decision: TriggerDecision

    @property
    def learn_run(self) -> str:
        """The id of the pipeline run the trigger started (its outcome reads ``started FILE: STATUS ID``)."""
        return self.decision.outcome.rsplit(" ", 1)[-1]


Starter = Callable[[Any, str, str], str]


@contextmanager
def starting_with(starter: Starter) -> Iterator[None]:
    """While the block runs, triggers start their pipeline with ``starter`` (the quickstart: in this
    process, its progress on this terminal)."""
    from llmloop.services.monitor.triggers import set_pipeline_starter

    before = set_pipeline_starter(starter)
    try:
        yield
    finally:
        set_pipeline_starter(before)


def watch(project: str) -> Watched:
    """Run the monitor, read the alert it fired (or that is still firing), and let the trigger decide;
    ``TriggerWaited`` when it does not start the next turn."""
    run = ll.monitoring.run(project=project, monitor=MONITOR)
    firing = [a for a in ll.monitoring.alerts(project, status="firing") if a.rule == RULE]
    decision = ll.get_client().monitoring.fire(TRIGGER, TriggerRunRequest(project=project))
    if decision.action != "start" or not decision.outcome.startswith("started"):
        why = "; ".join([r.why for r in decision.reasons] + decision.blocked_by + [decision.outcome])
        raise TriggerWaited(
            f"turn 2 stops here: trigger {TRIGGER} did not start the next turn ({why.strip('; ')})",
            details={"trigger": TRIGGER, "decision": decision.model_dump(mode="json")},
        )
    return Watched(run, firing[0] if firing else None, decision)
