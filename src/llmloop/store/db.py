"""The metadata database: one engine per URL, schema migrated by Alembic on first use.

SQLite gets WAL, a busy timeout and foreign keys so several processes can log to one file;
PostgreSQL is chosen by URL alone. Driver errors are translated here into llmloop errors
whose messages never show a password.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from llmloop.config import mask_secrets
from llmloop.errors import Conflict, InvalidInput, Unavailable

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

_lock = threading.Lock()
_databases: dict[str, Database] = {}


class Database:
    """An engine plus a session factory for one URL, migrated to the newest schema."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Lookups that never change once made (a project's id, a run's project), kept so hot
        # paths skip a query. Whatever deletes or renames such a thing must clear this.
        self.memo: dict[tuple[str, str], str] = {}
        migrate(self.engine)

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One unit of work: commit on success, roll back on any error, errors translated."""
        with translate_db_errors(self.url), self._sessions() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A Core connection in one transaction, for the hot paths that skip the ORM."""
        with translate_db_errors(self.url), self.engine.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def get_database(url: str) -> Database:
    with _lock:
        db = _databases.get(url)
        if db is None:
            db = Database(url)
            _databases[url] = db
        return db


def dispose_all() -> None:
    with _lock:
        for db in _databases.values():
            db.dispose()
        _databases.clear()


@contextlib.contextmanager
def translate_db_errors(url: str) -> Iterator[None]:
    try:
        yield
    except exc.IntegrityError as e:
        raise Conflict(f"conflicts with existing data: {_first_line(e.orig)}") from e
    except exc.OperationalError as e:
        raise Unavailable(f"database {mask_secrets(url)} is unavailable: {_first_line(e.orig)}") from e
    except exc.DataError as e:  # a value the column cannot hold (NUL byte, too long on PostgreSQL)
        raise InvalidInput(f"value rejected by the database: {_first_line(e.orig)}") from e


def _first_line(err: object) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except exc.ArgumentError as e:
        raise InvalidInput(
            f"invalid database URL {mask_secrets(url)!r}: expected e.g. sqlite:///path/llmloop.db "
            "or postgresql+psycopg://user@host/db",
            details={"key": "LLMLOOP_DATABASE_URL"},
        ) from e
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _ensure_writable_dir(Path(parsed.database).parent)
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **kwargs)
    except (exc.NoSuchModuleError, exc.ArgumentError, ImportError) as e:
        raise InvalidInput(
            f"unsupported database URL {mask_secrets(url)!r}: {e}. PostgreSQL needs: pip install 'llmloop[postgres]'",
            details={"key": "LLMLOOP_DATABASE_URL"},
        ) from e
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint the WAL every ~40 MB instead of SQLite's default 4 MB: an OTLP export of 512 spans
    # dirties a few hundred pages (random trace ids land all over the span indexes), so at the default
    # nearly every commit ran a checkpoint with its fsyncs; writing each page back once per 10,000
    # frames instead halved the commit's wall time in span ingest. (Durability is synchronous's, as before.)
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.close()


def _ensure_writable_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".llmloop-write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise Unavailable(
            f"cannot write to {path}: {e.strerror}; set LLMLOOP_HOME to a writable folder",
            details={"path": str(path)},
        ) from e


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; cheap when it already is."""
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    heads = set(script.get_heads())
    with translate_db_errors(str(engine.url)), engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return
    unknown = [rev for rev in current if not _known_revision(script, rev)]
    if unknown:
        raise Unavailable(
            f"the database schema is at revision {', '.join(sorted(unknown))}, which this llmloop does not know; "
            "upgrade llmloop or point LLMLOOP_DATABASE_URL at another database",
        )
    _upgrade(engine, cfg)


def _known_revision(script: Any, rev: str) -> bool:
    from alembic.util import CommandError

    try:
        return script.get_revision(rev) is not None
    except CommandError:
        return False


def _upgrade(engine: Engine, cfg: Any) -> None:
    from alembic import command

    with translate_db_errors(str(engine.url)), _migration_lock(engine), engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise concurrent first-use migrations across processes."""
    if engine.dialect.name == "sqlite":
        import fcntl

        db_path = engine.url.database
        if not db_path or db_path == ":memory:":
            yield
            return
        with open(f"{db_path}.migrate.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    elif engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_lock(774411)")
            try:
                yield
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(774411)")
                conn.commit()
    else:
        yield
