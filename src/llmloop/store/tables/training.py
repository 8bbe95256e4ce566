"""Rows of hyper-parameter sweeps: one row per sweep, and the Optuna journal that is its study.

The study lives in the llmloop database itself (not Optuna's own RDB schema, whose Alembic
``alembic_version`` table would collide with ours): Optuna's ``JournalStorage`` replays an
append-only log, and ``SweepJournalRow`` is that log, numbered per sweep without gaps.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from llmloop.store.tables.base import Base, now


class SweepRow(Base):
    __tablename__ = "train_sweeps"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float, default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))


class SweepJournalRow(Base):
    __tablename__ = "train_sweep_journal"

    sweep_id: Mapped[str] = mapped_column(ForeignKey("train_sweeps.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    log: Mapped[str] = mapped_column(Text)
