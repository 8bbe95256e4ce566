"""Rows of the model registry: models, their immutable versions, and the history of alias moves.

A version never changes once written: its base (a local folder, a GGUF file, a hub id or an
upstream server) with the digest seen at registration, its adapter (a manifest blob in the
artifact store naming each file's digest) and what was read from the weights' metadata. Aliases
live in the generic ``aliases`` table; ``model_alias_events`` keeps every move with its reason
and gate results, because the alias table only knows where an alias points *now*.
``model_alias_protections`` names the aliases that move only behind a stored eval suite's gates.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from llmloop.store.tables.base import Base, now


class ModelRow(Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[float] = mapped_column(Float, default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    base_kind: Mapped[str] = mapped_column(String(16))  # hf_dir | gguf | hub | upstream
    base_uri: Mapped[str] = mapped_column(Text)
    base_version: Mapped[str | None] = mapped_column(String(256))  # the registered ref it builds on
    base_sha256: Mapped[str | None] = mapped_column(String(64))
    adapter_sha256: Mapped[str | None] = mapped_column(String(64))  # the adapter manifest blob
    adapter_size: Mapped[int | None] = mapped_column(BigInteger)
    adapter: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # peft type, rank, targets
    architecture: Mapped[str | None] = mapped_column(String(64))
    parameters: Mapped[int | None] = mapped_column(BigInteger)
    quantization: Mapped[str | None] = mapped_column(String(32))
    context_length: Mapped[int | None] = mapped_column(Integer)
    chat_template: Mapped[str | None] = mapped_column(Text)
    license: Mapped[str | None] = mapped_column(String(256))
    default_engine: Mapped[str | None] = mapped_column(String(16))
    upstream: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    shape: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict
    )  # hidden size, layers... (adapter checks)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    source: Mapped[str] = mapped_column(String(32), default="manual")
    description: Mapped[str] = mapped_column(String(2000), default="")
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))


class ModelAliasEventRow(Base):
    """One alias move (or removal): from which version to which, by whom, why, and the gates it passed."""

    __tablename__ = "model_alias_events"
    __table_args__ = (Index("ix_model_alias_events_model_alias", "model_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(64))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(2000), default="")
    gates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    forced: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    actor: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[float] = mapped_column(Float, default=now)


class ModelAliasProtectionRow(Base):
    """An alias that moves only when this suite's required gates pass; the suite is kept as its text."""

    __tablename__ = "model_alias_protections"
    __table_args__ = (UniqueConstraint("model_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(64))
    suite: Mapped[str] = mapped_column(Text)
    suite_name: Mapped[str] = mapped_column(String(256))
    suite_sha256: Mapped[str] = mapped_column(String(64))
    baseline_alias: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[float] = mapped_column(Float, default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))
