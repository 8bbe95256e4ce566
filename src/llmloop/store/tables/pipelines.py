"""Rows of pipelines: one row per pipeline run, one per step of it, and the stored schedules.

A pipeline run shares its id with the tracking run that is the parent of its steps' runs, so
``llmloop runs show`` and ``llmloop pipeline status`` name the same thing. A step row holds the
cache key its outputs were produced under (``cache_key``) and the parts of that key
(``key_parts``), so a later miss can say which part changed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from llmloop.store.tables.base import Base, now


class PipelineRunRow(Base):
    __tablename__ = "pipeline_runs"
    __table_args__ = (Index("ix_pipeline_runs_project_name", "project_id", "name"),)

    id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="running")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    definition_sha256: Mapped[str] = mapped_column(String(64))
    executor: Mapped[str] = mapped_column(String(256), default="local")
    host: Mapped[str | None] = mapped_column(String(256))
    pid: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[float] = mapped_column(Float, default=now)
    ended_at: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(128))


class PipelineStepRow(Base):
    __tablename__ = "pipeline_steps"
    __table_args__ = (UniqueConstraint("pipeline_run_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pipeline_run_id: Mapped[str] = mapped_column(ForeignKey("pipeline_runs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    cache: Mapped[str | None] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text, default="")
    cache_key: Mapped[str | None] = mapped_column(String(64), index=True)
    key_parts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[float | None] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)


class ScheduleRow(Base):
    """A stored trigger: ``kind`` names the job kind (``pipeline``, ``monitor``), ``target`` what it runs."""

    __tablename__ = "schedules"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(Text)
    cron: Mapped[str] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))
    last_run_at: Mapped[float | None] = mapped_column(Float)
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str] = mapped_column(Text, default="")
