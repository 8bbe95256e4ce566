"""The built-in pipeline step kinds: thin wrappers over the typed client, one function per kind.

Each takes a ``StepCall`` (its inputs as bare references such as ``travel@3``, its config, the
project) and returns its outputs by the names ``services/pipelines/kinds.py`` declares. They go
through ``get_client()`` like any other caller, so a gate on a protected alias, a permission or
an audit event holds for a pipeline step exactly as for ``llmloop models promote``. The worker
(``executors/worker.py``) loads them by name, in the step's own process.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from llmloop.client.base import get_client
from llmloop.errors import InvalidInput
from llmloop.executors.base import StepCall


def _path(call: StepCall, key: str) -> str:
    if key not in call.config:
        raise InvalidInput(f"step {call.step!r}: config.{key} is required", details={"key": f"config.{key}"})
    p = Path(str(call.config[key])).expanduser()
    if not p.is_absolute() and call.base_dir is not None:
        p = Path(call.base_dir) / p
    return str(p)


def _project(call: StepCall) -> str:
    return str(call.config.get("project") or call.project)


def ingest(call: StepCall) -> dict[str, Any]:
    from llmloop.services.data.schemas import DatasetAdd, validated

    fields = {k: v for k, v in call.config.items() if k not in ("path", "project")}
    spec = validated(DatasetAdd, **fields, path=_path(call, "path"), project=_project(call))
    result = get_client().datasets.add_version(spec)
    return {"dataset": f"dataset:{result.version.ref}"}


def split(call: StepCall) -> dict[str, Any]:
    from llmloop.services.data.schemas import SplitSpec, validated

    spec = validated(SplitSpec, **{k: v for k, v in call.config.items() if k != "project"})
    result = get_client().datasets.split_version(call.inputs["data"], spec, project=_project(call))
    out: dict[str, Any] = {"dataset": f"dataset:{result.versions[0].ref}"}
    if spec.into == "datasets":  # one version per non-empty split, named NAME-SPLIT
        for version in result.versions:
            out[str(version.options.get("split"))] = f"dataset:{version.ref}"
    return out


def train(call: StepCall) -> dict[str, Any]:
    from llmloop.services.train.config import parse_config

    raw: dict[str, Any] = {"project": _project(call), **call.config}
    data = dict(raw.get("data") or {})
    data["train"] = {"ref": call.inputs["data"]}
    if "eval" in call.inputs:
        data["eval"] = {"ref": call.inputs["eval"]}
    raw["data"] = data
    if "model" in call.inputs:
        raw["model"] = {**dict(raw.get("model") or {}), "base": call.inputs["model"]}
    base = Path(call.base_dir) if call.base_dir else None
    config = parse_config(raw, source=f"steps.{call.step}.config", base_dir=base)
    result = get_client().train.train(config, teacher=None, callbacks=(), progress=False)
    if result.model_version is None:
        raise InvalidInput(f"step {call.step!r}: training registered no model (register_model: false?)")
    return {"model": f"model:{result.model_version}", "run": result.run_id}


def evaluate(call: StepCall) -> dict[str, Any]:
    result = get_client().evaluations.run_suite(
        _path(call, "suite"),
        model=call.inputs["model"],
        project=_project(call),
        limit=call.config.get("limit"),
    )
    metrics = {k: a.score for k, a in result.metrics.items()}
    return {"evaluation": f"evaluation:{result.id}", "metrics": metrics}


def gate(call: StepCall) -> dict[str, Any]:
    verdict = get_client().evaluations.gate_suite(
        _path(call, "suite"),
        candidate=call.inputs["candidate"],
        baseline=call.inputs.get("baseline"),
        project=_project(call),
        allow_missing_baseline=bool(call.config.get("allow_missing_baseline", False)),
    )
    if not verdict.passed and call.config.get("fail_on_block", True):
        failed = [r.rule for r in verdict.results if r.status == "fail" and r.required]
        raise InvalidInput(f"gate blocked {call.inputs['candidate']}: {', '.join(failed)}")
    return {"passed": verdict.passed, "evaluation": f"evaluation:{verdict.candidate_evaluation_id}"}


def promote(call: StepCall) -> dict[str, Any]:
    alias = call.config.get("alias")
    if not alias:
        raise InvalidInput(f"step {call.step!r}: config.alias is required", details={"key": "config.alias"})
    result = get_client().models.promote(
        call.inputs["model"], str(alias), project=_project(call), reason=str(call.config.get("reason", ""))
    )
    if not result.promoted:
        raise InvalidInput(f"promotion of {call.inputs['model']} to {alias!r} was refused by its gates")
    return {"model": f"model:{result.ref}"}


def _deploy(call: StepCall, targets: list[dict[str, Any]], policy: str) -> dict[str, Any]:
    from llmloop.services.data.schemas import validated
    from llmloop.services.serve.schemas import DeploymentCreate, DeploymentSpec

    name = call.config.get("name")
    if not name:
        raise InvalidInput(f"step {call.step!r}: config.name is required", details={"key": "config.name"})
    spec = validated(DeploymentSpec, policy=policy, targets=targets)
    created = get_client().deployments.create_deployment(
        DeploymentCreate(
            name=str(name), project=_project(call), spec=spec, message=f"pipeline step {call.step}"
        )
    )
    return {"deployment": f"{created.name}@{created.revision}"}


def deploy(call: StepCall) -> dict[str, Any]:
    return _deploy(call, [{"model": call.inputs["model"]}], "single")


def canary(call: StepCall) -> dict[str, Any]:
    weight = float(call.config.get("weight", 0.1))
    stable = call.inputs.get("stable") or call.config.get("stable")
    if not stable or not 0 < weight < 1:
        raise InvalidInput(f"step {call.step!r}: a canary needs a stable model and 0 < config.weight < 1")
    targets = [{"model": stable, "weight": 1 - weight}, {"model": call.inputs["model"], "weight": weight}]
    return _deploy(call, targets, "weighted")


def export_feedback(call: StepCall) -> dict[str, Any]:
    from llmloop.services.serve.schemas import FeedbackExportRequest

    dataset = call.config.get("dataset")
    if not dataset:
        raise InvalidInput(
            f"step {call.step!r}: config.dataset is required", details={"key": "config.dataset"}
        )
    request = FeedbackExportRequest(
        kind=call.config.get("kind", "sft"),
        project=_project(call),
        dataset=str(dataset),
        approved_min_score=call.config.get("approved_min_score"),
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = get_client().feedback.export(request, Path(tmp) / "rows.jsonl")
    if result.dataset_version is None:
        raise InvalidInput(f"step {call.step!r}: no feedback to export")
    return {"dataset": f"dataset:{result.dataset_version}", "rows": result.rows}
