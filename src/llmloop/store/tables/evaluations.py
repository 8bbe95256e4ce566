"""Rows of evaluations: one row per model x suite result, one row per evaluated example.

An evaluation row is created ``running`` when generation starts (so it is visible and linked to
its tracking run) and becomes ``completed`` in the same transaction that writes its examples and
aggregates, so a crash can never leave a completed evaluation with half its examples.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from llmloop.store.tables.base import Base, now


class EvaluationRow(Base):
    __tablename__ = "evaluations"
    __table_args__ = (
        Index("ix_evaluations_project_created", "project_id", "created_at"),
        Index("ix_evaluations_suite_model", "suite_sha256", "model_ref"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    suite: Mapped[str] = mapped_column(String(256))
    suite_sha256: Mapped[str] = mapped_column(String(64))
    suite_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    rows_sha256: Mapped[str | None] = mapped_column(String(64))
    model_ref: Mapped[str] = mapped_column(String(512))
    model_version: Mapped[str | None] = mapped_column(String(64), index=True)
    dataset_ref: Mapped[str | None] = mapped_column(String(512))
    prompt_ref: Mapped[str | None] = mapped_column(String(512))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    error: Mapped[str | None] = mapped_column(Text)
    n_examples: Mapped[int] = mapped_column(Integer, default=0)
    n_errors: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    completed_at: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(128))


class EvaluationExampleRow(Base):
    __tablename__ = "evaluation_examples"
    __table_args__ = (Index("ix_evaluation_examples_example", "evaluation_id", "example_id"),)

    evaluation_id: Mapped[str] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), primary_key=True
    )
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    example_id: Mapped[str] = mapped_column(String(256))
    input: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    output: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[list[str] | None] = mapped_column(JSON)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    scores: Mapped[dict[str, float | None]] = mapped_column(JSON, default=dict)
    stats: Mapped[dict[str, list[float]] | None] = mapped_column(JSON)
    rationales: Mapped[dict[str, str] | None] = mapped_column(
        JSON
    )  # metric key -> judge's text; NULL before 0016
    latency_ms: Mapped[float | None] = mapped_column(Float)
    prompt_tokens: Mapped[int | None] = mapped_column(BigInteger)
    completion_tokens: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
