"""Rows of monitoring: monitors and their results, alert rules, alerts and their notifications,
triggers and what they decided, and the embedding cache the drift tests share.

Results, alerts and notifications are written by a scheduled pass, not by a person, so they are not
in the audit log's ``AUDITED`` set; what people create and change (monitors, rules, triggers, an
acknowledgement, a silence) is audited by the service that writes it.

Embeddings are keyed by the sha256 of the text and the model that embedded it, so a text seen in
many windows (or in the reference and the current window) is embedded once.

Cache epochs hold the generation an erasure or a purge bumps in its transaction; every process checks
it before serving monitoring data from memory or writing data derived from traces (``monitor.epoch``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from llmloop.store.tables.base import Base, now


class EmbeddingRow(Base):
    __tablename__ = "monitor_embeddings"

    content_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float32


class CacheEpochRow(Base):
    __tablename__ = "monitor_cache_epochs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # "monitoring"
    generation: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[float] = mapped_column(Float(precision=53), default=now)


class MonitorRow(Base):
    __tablename__ = "monitors"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float(precision=53), default=now)
    updated_at: Mapped[float] = mapped_column(Float(precision=53), default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))


class MonitorResultRow(Base):
    __tablename__ = "monitor_results"
    __table_args__ = (Index("ix_monitor_results_monitor_ran", "monitor_id", "ran_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    ran_at: Mapped[float] = mapped_column(Float(precision=53))
    window_start: Mapped[float] = mapped_column(Float(precision=53))
    window_end: Mapped[float] = mapped_column(Float(precision=53))
    status: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float(precision=53))
    p_value: Mapped[float | None] = mapped_column(Float(precision=53))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)  # the MonitorResult as served


class AlertRuleRow(Base):
    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    monitor_id: Mapped[str] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    pending_since: Mapped[float | None] = mapped_column(Float(precision=53))  # condition true since
    silenced_until: Mapped[float | None] = mapped_column(Float(precision=53))
    created_at: Mapped[float] = mapped_column(Float(precision=53), default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_rule_status", "rule_id", "status"),
        Index("ix_alerts_project_fired", "project_id", "fired_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    rule_id: Mapped[str] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))  # firing | resolved
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float(precision=53))
    trace_ids: Mapped[list[str]] = mapped_column(JSON)
    silenced: Mapped[bool] = mapped_column(Boolean)
    fired_at: Mapped[float] = mapped_column(Float(precision=53))
    resolved_at: Mapped[float | None] = mapped_column(Float(precision=53))
    acked_at: Mapped[float | None] = mapped_column(Float(precision=53))
    acked_by: Mapped[str | None] = mapped_column(String(128))


class AlertNotificationRow(Base):
    __tablename__ = "alert_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(16))  # fired | resolved
    target: Mapped[str] = mapped_column(String(512))  # scheme://host only: a webhook's path may be a token
    format: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Float(precision=53), default=now)


class TriggerRow(Base):
    __tablename__ = "monitor_triggers"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float(precision=53), default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))


class TriggerEventRow(Base):
    __tablename__ = "monitor_trigger_events"
    __table_args__ = (Index("ix_monitor_trigger_events_trigger_at", "trigger_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trigger_id: Mapped[str] = mapped_column(ForeignKey("monitor_triggers.id", ondelete="CASCADE"))
    at: Mapped[float] = mapped_column(Float(precision=53))
    started: Mapped[bool] = mapped_column(Boolean)
    decision: Mapped[dict[str, Any]] = mapped_column(JSON)  # the TriggerDecision as served


class OnlineEvaluatorRow(Base):
    """An online evaluation's definition; ``version`` goes up when its spec changes, so a changed
    rubric or metric scores the traffic again instead of keeping the old config's scores."""

    __tablename__ = "online_evaluators"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float(precision=53), default=now)
    updated_at: Mapped[float] = mapped_column(Float(precision=53), default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))


class OnlineScoreRow(Base):
    """One online score on one trace: the unique key makes a trace scored once per metric and
    evaluator version, whichever pass (or two concurrent passes) gets there first."""

    __tablename__ = "online_scores"
    __table_args__ = (
        UniqueConstraint("evaluator_id", "version", "metric", "trace_id"),
        Index("ix_online_scores_trace", "trace_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evaluator_id: Mapped[str] = mapped_column(ForeignKey("online_evaluators.id", ondelete="CASCADE"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    metric: Mapped[str] = mapped_column(String(128))
    trace_id: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float(precision=53))  # None: the judge answered garbage
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[float] = mapped_column(Float(precision=53), default=now)
