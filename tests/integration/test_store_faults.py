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


def test_guardrail_hits_migration_counts_the_traces_stored_before_it(store_url: str) -> None:
    """0016 adds traces.guardrail_hits and counts it from the spans already stored, so monitors of
    guardrail hits read the same numbers before and after the upgrade."""
    from alembic import command
    from alembic.config import Config

    from llmloop.store.db import MIGRATIONS_DIR

    if store_url.startswith("sqlite:///"):
        Path(store_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(store_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0015_span_tree")
        conn.execute(
            text(
                "INSERT INTO projects (id, name, description, settings, created_at) VALUES ('p1', 'old', '', '{}', 0)"
            )
        )
        spans = {  # trace -> its guardrail spans' (name, events, attributes)
            "a" * 32: [("guardrails input", '[{"name":"pii.redacted","time":0,"attributes":{}}]', "{}")],
            "b" * 32: [("guardrails input", "[]", '{"llmloop.guardrail.refused":"injection"}')],
            "c" * 32: [("guardrails input", "[]", '{"llmloop.guardrail.fail_closed":true}')],
            "d" * 32: [("chat", '[{"name":"first_token","time":0,"attributes":{}}]', "{}")],
        }
        for tid, rows in spans.items():
            conn.execute(text(
                "INSERT INTO traces (trace_id, project_id, name, root_span_id, start_time, end_time, status,"
                " span_count, error_count, input_tokens, output_tokens) "
                "VALUES (:t, 'p1', 'chat', NULL, 0, 1, 'ok', 1, 0, 0, 0)"
            ), {"t": tid})  # fmt: skip
            for i, (name, events, attrs) in enumerate(rows):
                conn.execute(text(
                    "INSERT INTO spans (trace_id, span_id, parent_span_id, name, kind, start_time, end_time,"
                    " status_code, status_message, attributes, events) "
                    "VALUES (:t, :s, NULL, :n, 'internal', 0, 1, 'unset', '', :a, :e)"
                ), {"t": tid, "s": f"{i:016x}", "n": name, "a": attrs, "e": events})  # fmt: skip
    engine.dispose()
    db = Database(store_url)  # upgrades to head
    with db.engine.connect() as conn:
        got = dict(conn.execute(text("SELECT trace_id, guardrail_hits FROM traces")).fetchall())
    db.dispose()
    assert got == {"a" * 32: 1, "b" * 32: 1, "c" * 32: 0, "d" * 32: 0}
