"""Task metrics: a Python function that scores one answer, registered by name.

    from llmloop.services.evaluate.metrics import task_metric

    @task_metric("mentions_city")
    def mentions_city(prediction: str, metadata: dict) -> bool:
        return metadata["city"].lower() in prediction.lower()

The function's first parameter is the answer; any of ``reference`` (first reference),
``references`` (all of them), ``metadata`` (the dataset row's metadata) and ``input`` (the
rendered prompt) may follow, by name. It returns a number, a bool (1/0) or None (cannot score).
The corpus score is the mean. An exception on one example leaves that example unscored and is
counted in ``details["errors"]``; if every example raises, the metric fails with the first error.
Installed packages can expose such a function under the ``llmloop.metrics`` entry-point group.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar

from llmloop.errors import InvalidInput
from llmloop.services.evaluate.metrics.base import Metric, MetricInputs, MetricResult

TaskFn = Callable[..., Any]
_KNOWN = ("reference", "references", "metadata", "input")


def _parameter_names(name: str, fn: TaskFn) -> tuple[str, ...]:
    params = list(inspect.signature(fn).parameters.values())
    if not params:
        raise InvalidInput(f"task metric {name!r}: the function must take the answer as its first parameter")
    extra = tuple(p.name for p in params[1:] if p.default is inspect.Parameter.empty)
    unknown = [p for p in extra if p not in _KNOWN]
    if unknown:
        raise InvalidInput(
            f"task metric {name!r}: unknown parameter {unknown[0]!r}; after the answer use any of {', '.join(_KNOWN)}",
            details={"metric": name, "parameter": unknown[0]},
        )
    return extra


def _as_score(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (bool, int, float)):
        return float(value)
    raise InvalidInput(
        f"task metric {name!r} returned {type(value).__name__}; expected a number, bool or None"
    )


class TaskMetric(Metric):
    """Mean of a per-example Python function (see the module docstring)."""

    parameters: ClassVar[tuple[str, ...]] = ()

    def score_one(self, prediction: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def compute(self, inputs: MetricInputs) -> MetricResult:
        self.check_inputs(inputs)
        if "metadata" in self.parameters and inputs.metadata is None:
            raise InvalidInput(
                f"task metric {self.name!r} needs example metadata", details={"metric": self.name}
            )
        n = len(inputs)
        scores: list[float | None] = []
        errors: list[str] = []
        for i, pred in enumerate(inputs.predictions):
            kwargs: dict[str, Any] = {}
            for p in self.parameters:
                if p == "metadata":
                    kwargs[p] = (inputs.metadata or [{}] * n)[i]
                elif p == "input":
                    kwargs[p] = (inputs.inputs or [""] * n)[i]
                elif p in ("reference", "references"):
                    if inputs.references is None:
                        raise InvalidInput(
                            f"task metric {self.name!r} needs references", details={"metric": self.name}
                        )
                    refs = inputs.references[i]
                    kwargs[p] = refs[0] if p == "reference" else refs
            try:
                value = self.score_one(pred, **kwargs)
            except Exception as e:  # one odd row (or a scorer bug on it) must not sink the whole evaluation
                scores.append(None)
                errors.append(f"example {i}: {type(e).__name__}: {getattr(e, 'message', None) or e}")
                continue
            scores.append(_as_score(self.name, value))
        if errors and len(errors) == n:
            raise InvalidInput(
                f"task metric {self.name!r} failed on every example; first: {errors[0]}",
                details={"metric": self.name},
            )
        details: dict[str, Any] = {"errors": len(errors)}
        if errors:
            details["first_error"] = errors[0][:500]
        return self.result_from_scores(scores, details)


def task_metric_class(
    name: str, fn: TaskFn, *, requires_references: bool = False, higher_is_better: bool = True
) -> type[TaskMetric]:
    """A TaskMetric subclass around ``fn``."""
    params = _parameter_names(name, fn)
    needs_refs = requires_references or any(p in ("reference", "references") for p in params)

    def score_one(self: TaskMetric, prediction: str, **kwargs: Any) -> Any:
        return fn(prediction, **kwargs)

    return type(
        f"TaskMetric_{name}",
        (TaskMetric,),
        {
            "name": name,
            "parameters": params,
            "requires_references": needs_refs,
            "higher_is_better": higher_is_better,
            "description": (inspect.getdoc(fn) or f"task metric {name}").split("\n")[0],
            "score_one": score_one,
        },
    )


def task_metric(
    name: str | None = None, *, requires_references: bool = False, higher_is_better: bool = True
) -> Callable[[TaskFn], TaskFn]:
    """Decorator: register ``fn`` as a task metric under ``name`` (default: the function's name)."""

    def decorate(fn: TaskFn) -> TaskFn:
        from llmloop.services.evaluate.metrics.registry import register_metric

        metric_name = name or fn.__name__
        register_metric(
            metric_name,
            task_metric_class(
                metric_name, fn, requires_references=requires_references, higher_is_better=higher_is_better
            ),
        )
        return fn

    return decorate
