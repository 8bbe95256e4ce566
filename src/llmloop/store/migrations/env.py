"""Alembic environment: always run with a connection handed in by ``llmloop.store.db``."""

from __future__ import annotations

from alembic import context

from llmloop.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` CLI use for authoring revisions
    from sqlalchemy import create_engine

    from llmloop.config import get_settings

    connection = create_engine(get_settings().resolved_database_url).connect()

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
