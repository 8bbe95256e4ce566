"""llmloop: LLMOps as one closed, tracked loop.

    import llmloop as ll
    with ll.start_run(project="travel", name="sft-1") as run:
        run.log_params({"lr": 2e-4})
        run.log_metric("loss", 1.23, step=0)

Attributes are loaded lazily so ``import llmloop`` stays fast; heavy libraries
(torch, transformers, FastAPI) are imported only by the features that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llmloop.plugins import load_attribute

__version__ = "0.1.0"

_LAZY: dict[str, tuple[str, str]] = {
    "start_run": ("llmloop.sdk.run", "start_run"),
    "ActiveRun": ("llmloop.sdk.run", "ActiveRun"),
    "get_run": ("llmloop.sdk.run", "get_run"),
    "active_run": ("llmloop.sdk.run", "active_run"),
    "search_runs": ("llmloop.sdk.api", "search_runs"),
    "train": ("llmloop.sdk.train", "train"),
    "sweep": ("llmloop.sdk.train", "sweep"),
    "get_client": ("llmloop.client", "get_client"),
    "datasets": ("llmloop.sdk.datasets", "datasets"),
    "models": ("llmloop.sdk.models", "models"),
    "monitoring": ("llmloop.sdk.monitoring", "monitoring"),
    "get_settings": ("llmloop.config", "get_settings"),
    "metrics": ("llmloop.sdk.metrics", "metrics"),
    "evaluations": ("llmloop.sdk.evaluations", "evaluations"),
    "LlmloopError": ("llmloop.errors", "LlmloopError"),
    "InvalidInput": ("llmloop.errors", "InvalidInput"),
    "NotFound": ("llmloop.errors", "NotFound"),
    "Conflict": ("llmloop.errors", "Conflict"),
    "Unavailable": ("llmloop.errors", "Unavailable"),
    "PermissionDenied": ("llmloop.errors", "PermissionDenied"),
    "Unauthenticated": ("llmloop.errors", "Unauthenticated"),
    "DataCorrupted": ("llmloop.errors", "DataCorrupted"),
    "prompts": ("llmloop.sdk.prompts", "prompts"),
    "span": ("llmloop.services.observe.tracer", "span"),
    "trace": ("llmloop.services.observe.tracer", "trace"),
    "current_span": ("llmloop.services.observe.tracer", "current_span"),
    "flush_traces": ("llmloop.services.observe.tracer", "flush"),
    "feedback": ("llmloop.sdk.feedback", "feedback"),
    "chat": ("llmloop.sdk.chat", "chat"),
    "pipelines": ("llmloop.sdk.pipelines", "pipelines"),
}

__all__ = [
    "ActiveRun",
    "Conflict",
    "DataCorrupted",
    "InvalidInput",
    "LlmloopError",
    "NotFound",
    "PermissionDenied",
    "Unauthenticated",
    "Unavailable",
    "__version__",
    "active_run",
    "chat",
    "current_span",
    "datasets",
    "evaluations",
    "feedback",
    "flush_traces",
    "get_client",
    "get_run",
    "get_settings",
    "metrics",
    "models",
    "monitoring",
    "pipelines",
    "prompts",
    "search_runs",
    "span",
    "start_run",
    "sweep",
    "trace",
    "train",
]

if TYPE_CHECKING:
    from llmloop.client import get_client
    from llmloop.config import get_settings
    from llmloop.errors import (
        Conflict,
        DataCorrupted,
        InvalidInput,
        LlmloopError,
        NotFound,
        PermissionDenied,
        Unauthenticated,
        Unavailable,
    )
    from llmloop.sdk import evaluations, metrics
    from llmloop.sdk.api import search_runs
    from llmloop.sdk.chat import chat
    from llmloop.sdk.datasets import datasets
    from llmloop.sdk.feedback import feedback
    from llmloop.sdk.models import models
    from llmloop.sdk.monitoring import monitoring
    from llmloop.sdk.prompts import prompts
    from llmloop.sdk.run import ActiveRun, active_run, get_run, start_run
    from llmloop.sdk.train import sweep, train
    from llmloop.services.observe.tracer import current_span, span, trace
    from llmloop.services.observe.tracer import flush as flush_traces


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'llmloop' has no attribute {name!r}") from None
    value = load_attribute(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
