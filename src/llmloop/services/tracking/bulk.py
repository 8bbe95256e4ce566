"""Writing metric points in bulk: plain tuples straight to the driver's ``executemany``.

A training run writes metric points by the hundred thousand. Through SQLAlchemy Core each
row is a dict and a pass through bind processing, about as costly as the database's own
insert; tuples handed to the DBAPI halve the cost. The SQL is built once per dialect from
the table definition, so quoting and placeholders follow the driver.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from llmloop.store.tables.tracking import MetricRow

# run_id, key, value (None for NaN), step, timestamp
MetricTuple = tuple[str, str, float | None, int, float]
COLUMNS = ("run_id", "key", "value", "step", "timestamp")
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_sql: dict[str, str | None] = {}


def _insert_sql(conn: Connection) -> str | None:
    dialect = conn.dialect
    if dialect.name not in _sql:
        mark = _PLACEHOLDER.get(dialect.paramstyle)
        quote = dialect.identifier_preparer.quote
        _sql[dialect.name] = (
            None
            if mark is None
            else f"INSERT INTO {quote(MetricRow.__tablename__)} ({', '.join(quote(c) for c in COLUMNS)}) "
            f"VALUES ({', '.join([mark] * len(COLUMNS))})"
        )
    return _sql[dialect.name]


def insert_metrics(conn: Connection, rows: list[MetricTuple]) -> None:
    """Append ``rows`` to the metric series in the connection's transaction."""
    sql = _insert_sql(conn)
    if sql is None:  # a driver with another placeholder style: the portable, slower way
        params: list[dict[str, Any]] = [dict(zip(COLUMNS, r, strict=True)) for r in rows]
        conn.execute(insert(MetricRow), params)
        return
    conn.exec_driver_sql(sql, rows)
