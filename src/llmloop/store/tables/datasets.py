"""Rows of the data service: datasets, their immutable versions, and the source fingerprints seen.

A version is identified by the content hash of its canonical rows, unique per dataset, so adding
the same content twice finds the existing version. ``dataset_sources`` remembers which raw files
(hashed with the ingest options) produced which version, so re-adding an unchanged file costs one
read of its bytes instead of a full ingest.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from llmloop.store.tables.base import Base, now


class DatasetRow(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[float] = mapped_column(Float, default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))


class DatasetVersionRow(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version"),
        UniqueConstraint("dataset_id", "content_hash", name="uq_dataset_versions_content"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(BigInteger)
    invalid_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    data_sha256: Mapped[str] = mapped_column(String(64))
    data_size: Mapped[int] = mapped_column(BigInteger)
    index_sha256: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="SET NULL"), index=True
    )
    relation: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[float] = mapped_column(Float, default=now)
    created_by: Mapped[str | None] = mapped_column(String(128))


class DatasetSourceRow(Base):
    """``fingerprint`` = sha256 of the raw source bytes and the ingest options; it maps to one version."""

    __tablename__ = "dataset_sources"

    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("dataset_versions.id", ondelete="CASCADE"))
    created_at: Mapped[float] = mapped_column(Float, default=now)
