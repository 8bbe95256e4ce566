"""The step kinds a pipeline may name: what each takes, what it gives, and the function that runs it.

Inputs and outputs are typed store references (``dataset``, ``model``, ``evaluation``,
``prompt``) or plain ``value``s. The definition checker (``definition.py``) refuses a pipeline
whose wiring does not fit these signatures before any step runs.

A built-in kind runs a thin wrapper over the typed client, ``llmloop.client.steps``; the worker
loads it by its ``module:function`` name through ``llmloop.plugins`` (the one door for names),
so this service never imports the client layer. A user's function ``module:function`` is a kind
too: its inputs take any type, its outputs are what the step declares (default one ``value``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

RefType = Literal["dataset", "model", "evaluation", "prompt", "value"]
REF_TYPES: tuple[RefType, ...] = ("dataset", "model", "evaluation", "prompt", "value")
STEPS_MODULE = "llmloop.client.steps"


@dataclass(frozen=True)
class Port:
    type: RefType
    required: bool = True


@dataclass(frozen=True)
class StepKind:
    """One built-in kind; ``outputs`` may depend on the step's config (a split's named parts)."""

    name: str
    summary: str
    inputs: Mapping[str, Port]
    outputs: Callable[[Mapping[str, Any]], dict[str, RefType]]
    function: str = ""  # in llmloop.client.steps; default: the name with _ for -

    @property
    def target(self) -> str:
        return f"{STEPS_MODULE}:{self.function or self.name.replace('-', '_')}"


def _fixed(**outputs: RefType) -> Callable[[Mapping[str, Any]], dict[str, RefType]]:
    return lambda _config: dict(outputs)


def _split_outputs(config: Mapping[str, Any]) -> dict[str, RefType]:
    out: dict[str, RefType] = {"dataset": "dataset"}
    if config.get("into") == "datasets":
        fractions = config.get("fractions") or {"train": 0.8, "validation": 0.1, "test": 0.1}
        out.update(dict.fromkeys((str(k) for k in fractions), "dataset"))
    return out


KINDS: dict[str, StepKind] = {
    k.name: k
    for k in (
        StepKind("ingest", "Register a file as a dataset version (data add).", {}, _fixed(dataset="dataset")),
        StepKind(
            "split",
            "Split a dataset version (data split); into=datasets gives one output per split.",
            {"data": Port("dataset")},
            _split_outputs,
        ),
        StepKind(
            "train",
            "Fine-tune (sft or dpo) with the train service; data goes to data.train, model to model.base.",
            {"data": Port("dataset"), "model": Port("model", required=False), "eval": Port("dataset", False)},
            _fixed(model="model", run="value"),
        ),
        StepKind(
            "eval",
            "Run an evaluation suite on a model.",
            {"model": Port("model")},
            _fixed(evaluation="evaluation", metrics="value"),
            function="evaluate",
        ),
        StepKind(
            "gate",
            "Gate a candidate against a baseline with a suite; a blocked gate fails the step.",
            {"candidate": Port("model"), "baseline": Port("model", required=False)},
            _fixed(passed="value", evaluation="evaluation"),
        ),
        StepKind(
            "promote",
            "Move a model alias (behind its gates).",
            {"model": Port("model")},
            _fixed(model="model"),
        ),
        StepKind(
            "deploy",
            "Create a deployment revision serving one model.",
            {"model": Port("model")},
            _fixed(deployment="value"),
        ),
        StepKind(
            "canary",
            "A weighted deployment revision: the model takes `weight` of traffic beside `stable`.",
            {"model": Port("model"), "stable": Port("model", required=False)},
            _fixed(deployment="value"),
        ),
        StepKind(
            "export-feedback",
            "Feedback as training rows, registered as the next version of a dataset.",
            {},
            _fixed(dataset="dataset", rows="value"),
        ),
    )
}


def is_function(kind: str) -> bool:
    """A user's ``module:function`` rather than a built-in kind."""
    return ":" in kind
