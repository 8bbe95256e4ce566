"""Wrong database URLs, unwritable homes and unknown schema revisions: one clear error, nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from llmloop.config import reset_settings
from llmloop.errors import InvalidInput, Unavailable
from llmloop.store.db import Database, get_database


def test_bad_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="database URL"):
        Database("nonsense")
    with pytest.raises(InvalidInput, match="unsupported"):
        Database("mysqlx://u:secretpw@h/db")


def test_unreachable_postgres_is_unavailable_without_password() -> None:
    with pytest.raises(Unavailable) as info:
        Database("postgresql+psycopg://bob:hunter2@127.0.0.1:1/nope?connect_timeout=2")
    assert "hunter2" not in str(info.value)


def test_home_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("not a folder")
    with pytest.raises(Unavailable, match="cannot write"):
        Database(f"sqlite:///{f / 'x.db'}")


def test_unknown_schema_revision_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    get_database(url)
    reset_settings()
    eng = create_engine(url)
    with eng.begin() as conn:
        # one row per migration branch head: move just one of them to a revision nobody knows
        conn.execute(
            text(
                "UPDATE alembic_version SET version_num = 'from_the_future' "
                "WHERE version_num = (SELECT min(version_num) FROM alembic_version)"
            )
        )
    eng.dispose()
    with pytest.raises(Unavailable, match="from_the_future"):
        Database(url)


def test_migrations_are_idempotent_and_match_the_models(store_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from llmloop.store.tables import Base

    db = Database(store_url)
    Database(store_url)  # second open: already at head, no error
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"migrations drifted from the table models: {diff}"
    db.dispose()
