"""``ll.monitoring``: drift tests, monitor passes, alerts and triggers from Python.

    import llmloop as ll
    result = ll.monitoring.drift(reference=last_month, current=today)    # method="auto": MMD on MiniLM
    print(result.p_value, result.drifted, [e.text for e in result.examples])
    ll.monitoring.apply("monitoring.yaml")                               # monitors, alert rules, triggers
    run = ll.monitoring.run(project="travel")                            # one pass; alerts fire or resolve

Every call goes through ``llmloop.client.get_client().monitoring``, so the same code works on the
embedded store and against a server (``LLMLOOP_SERVER_URL``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmloop.services.monitor.schemas import (
    Alert,
    AlertRule,
    Applied,
    DriftMethod,
    DriftRequest,
    DriftResult,
    MonitoringConfig,
    MonitorRun,
    MonitorRunRequest,
    OnlineEvaluator,
    OnlineEvaluatorCreate,
    OnlineRun,
    OnlineRunRequest,
    OnlineScore,
    SilenceRequest,
    Timeline,
    TriggerDecision,
    TriggerRunRequest,
)

if TYPE_CHECKING:
    from llmloop.client.monitoring import Monitoring as MonitoringApi


def _api() -> MonitoringApi:
    from llmloop.client import get_client

    return get_client().monitoring


def load_config(path: str | Path) -> MonitoringConfig:
    """A monitoring YAML file, validated; errors name the file and the key path."""
    import yaml

    from llmloop.errors import InvalidInput
    from llmloop.validation import format_validation_error

    p = Path(path)
    try:
        data: Any = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise InvalidInput(f"cannot read {p}: {e.strerror}", details={"file": str(p)}) from e
    except yaml.YAMLError as e:
        raise InvalidInput(f"{p} is not valid YAML: {e}", details={"file": str(p)}) from e
    from pydantic import ValidationError

    try:
        return MonitoringConfig.model_validate(data)
    except ValidationError as e:
        raise format_validation_error(
            e, where=str(p), model=MonitoringConfig, details={"file": str(p)}
        ) from e


class Monitoring:
    def drift(
        self,
        reference: Sequence[str],
        current: Sequence[str],
        method: DriftMethod = "auto",
        *,
        alpha: float = 0.05,
        permutations: int | None = None,
        seed: int = 0,
    ) -> DriftResult:
        """Test whether ``current`` texts come from the same distribution as ``reference`` ones."""
        request = DriftRequest(
            reference=list(reference), current=list(current), method=method, alpha=alpha,
            permutations=permutations, seed=seed,
        )  # fmt: skip
        return _api().drift(request)

    def apply(self, config: str | Path | MonitoringConfig) -> Applied:
        """Create or replace the monitors, alert rules and triggers of a file (all or none)."""
        return _api().apply(config if isinstance(config, MonitoringConfig) else load_config(config))

    def run(
        self, project: str | None = None, monitor: str | None = None, now: float | None = None
    ) -> MonitorRun:
        """One pass over the monitors: what a scheduled job calls."""
        return _api().run(MonitorRunRequest(project=project, monitor=monitor, now=now))

    def online(self, spec: OnlineEvaluatorCreate | dict[str, Any]) -> OnlineEvaluator:
        """Create or replace an online evaluator (a changed spec is a new version, scored anew)."""
        body = spec if isinstance(spec, OnlineEvaluatorCreate) else OnlineEvaluatorCreate.model_validate(spec)
        return _api().create_online(body)

    def online_evaluators(self, project: str = "default") -> list[OnlineEvaluator]:
        return _api().list_online(project)

    def delete_online(self, name: str, project: str = "default") -> None:
        """Remove an online evaluator and the scores it stored (the audit log keeps its spec)."""
        _api().delete_online(project, name)

    def run_online(
        self, project: str | None = None, evaluator: str | None = None, now: float | None = None
    ) -> OnlineRun:
        """One online-evaluation pass: sampled traces not yet scored get their scores."""
        return _api().run_online(OnlineRunRequest(project=project, evaluator=evaluator, now=now))

    def online_scores(self, trace_id: str, project: str = "default") -> list[OnlineScore]:
        """The online scores stored on one trace."""
        return _api().online_scores(project, trace_id)

    def alerts(self, project: str = "default", status: str | None = None) -> list[Alert]:
        return _api().list_alerts(project, status)

    def ack(self, alert_id: str) -> Alert:
        return _api().ack(alert_id)

    def silence(self, rule: str, for_s: float, project: str = "default") -> AlertRule:
        return _api().silence(rule, SilenceRequest(project=project, for_s=for_s))

    def dry_run(self, trigger: str, project: str = "default") -> TriggerDecision:
        return _api().dry_run(trigger, TriggerRunRequest(project=project))

    def timeline(self, ref: str, project: str | None = None) -> Timeline:
        """A model version's life (evaluations, alias moves, traffic, feedback, drift, alerts), oldest first."""
        return _api().timeline(ref, project)


monitoring = Monitoring()
