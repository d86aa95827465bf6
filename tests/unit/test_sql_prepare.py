"""prepare_query: limits, app scoping and partition pruning, on the printed SQL and by running it.

The runs use an in-memory DuckDB table shaped like the engine's internal raw view (the event
columns plus integer partition columns), so what is asserted is what the engine would run.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pytest

from causality.events.arrow import EVENTS_SCHEMA
from causality.query.errors import UnsafeQuery
from causality.query.prepare import PreparedQuery, prepare_query
from causality.query.pruning import Span, partition_predicate
from causality.query.safety import MAX_NESTING

NOW = datetime(2024, 2, 3, 12, 0, tzinfo=UTC)
RAW = "causality_internal.events_raw"
COLUMNS = ", ".join(f'"{name}"' for name in EVENTS_SCHEMA.names)


def prep(
    sql: str,
    *,
    app_ids: frozenset[str] | None = None,
    limit: int = 100,
    max_limit: int = 1000,
    offset: int = 0,
    **kwargs: Any,
) -> PreparedQuery:
    return prepare_query(
        sql,
        dialect="duckdb",
        app_ids=app_ids,
        limit=limit,
        max_limit=max_limit,
        offset=offset,
        now=NOW,
        **kwargs,
    )


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """Apps a, b, c with two events a day from 2024-01-28 to 2024-02-04 (UTC)."""
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.execute("CREATE SCHEMA causality_internal")
    types = {"timestamp": "TIMESTAMPTZ", "received_at": "TIMESTAMPTZ"}
    types |= {"screen_width": "INTEGER", "screen_height": "INTEGER"}
    types |= {"is_jailbroken": "BOOLEAN", "is_emulator": "BOOLEAN"}
    definition = ", ".join(f'"{n}" {types.get(n, "VARCHAR")}' for n in EVENTS_SCHEMA.names)
    db.execute(f"CREATE TABLE {RAW} ({definition}, year INTEGER, month INTEGER, day INTEGER)")
    rows = []
    for app in ("a", "b", "c"):
        for d in range(8):
            for hour in (3, 21):
                t = datetime(2024, 1, 28, hour, tzinfo=UTC) + timedelta(days=d)
                rows.append((f"{app}-{d}-{hour}", app, f"dev-{d % 3}", t, t.year, t.month, t.day))
    db.executemany(
        f'INSERT INTO {RAW} (id, app_id, device_id, "timestamp", year, month, day, event_type, '
        "properties) VALUES (?, ?, ?, ?, ?, ?, ?, 'screen_view', '{\"screen_name\": \"home\"}')",
        rows,
    )
    # the reference: the same rows seen without any rewriting
    db.execute(f"CREATE VIEW reference_events AS SELECT {COLUMNS} FROM {RAW}")
    yield db
    db.close()


def run(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return sorted(con.sql(sql).fetchall(), key=repr)


# -- limits


def test_a_limit_is_added_with_one_spare_row() -> None:
    prepared = prep("SELECT * FROM events", limit=100)
    assert prepared.sql.endswith("LIMIT 101")
    assert prepared.limit == 100


def test_a_large_limit_is_capped() -> None:
    prepared = prep("SELECT * FROM events LIMIT 1000000", limit=100, max_limit=500)
    assert prepared.sql.endswith("LIMIT 101") and prepared.limit == 100
    prepared = prep("SELECT * FROM events LIMIT 1000000", limit=10_000, max_limit=500)
    assert prepared.sql.endswith("LIMIT 501") and prepared.limit == 500


def test_a_small_authored_limit_is_kept() -> None:
    prepared = prep("SELECT * FROM events ORDER BY timestamp LIMIT 5", limit=100)
    assert prepared.sql.endswith("ORDER BY timestamp LIMIT 5") and prepared.limit == 5


def test_paging_stays_inside_the_authored_result() -> None:
    prepared = prep("SELECT * FROM events LIMIT 50 OFFSET 10", limit=100, offset=20)
    assert prepared.sql.endswith("LIMIT 30 OFFSET 30") and prepared.limit == 30
    prepared = prep("SELECT 1 AS a UNION SELECT 2 ORDER BY 1", limit=10, offset=1)
    assert prepared.sql.endswith("ORDER BY 1 LIMIT 11 OFFSET 1")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM events LIMIT 10%",
        "SELECT * FROM events LIMIT (SELECT 10)",
        "SELECT * FROM events LIMIT 10 OFFSET now()",
        "SELECT * FROM events FETCH FIRST 3 ROWS WITH TIES",
    ],
)
def test_odd_limits_are_refused(sql: str) -> None:
    with pytest.raises(UnsafeQuery):
        prep(sql)


# -- scoping


def test_events_becomes_a_scoped_subquery_over_the_raw_view() -> None:
    prepared = prep("SELECT * FROM events e WHERE e.app_id = 'b'", app_ids=frozenset({"a"}))
    assert 'FROM "causality_internal"."events_raw" WHERE app_id IN (\'a\')) AS e' in prepared.sql
    assert "year" not in prepared.sql.split("FROM")[0]  # only the EVENTS.md columns


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT DISTINCT app_id FROM events",
        "SELECT DISTINCT app_id FROM events WHERE app_id = 'b' OR true",
        "SELECT DISTINCT app_id FROM events WHERE app_id IN ('b', 'c') OR 1 = 1",
        "SELECT app_id FROM events UNION SELECT app_id FROM events WHERE app_id <> 'a'",
        "WITH x AS (SELECT * FROM events) SELECT DISTINCT app_id FROM x",
        "SELECT DISTINCT f.app_id FROM events e JOIN events f ON e.app_id <> f.app_id OR true",
        'SELECT DISTINCT app_id FROM "EVENTS"',
        "SELECT DISTINCT app_id FROM events WHERE device_id IN "
        "(SELECT device_id FROM events WHERE app_id = 'c')",
        "SELECT (SELECT max(app_id) FROM events WHERE app_id > 'a') AS app_id",
        "SELECT DISTINCT app_id FROM (SELECT * FROM (SELECT * FROM events)) sub",
    ],
)
def test_app_scoping_cannot_be_bypassed(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    rows = run(con, prep(sql, app_ids=frozenset({"a"})).sql)
    assert {row[0] for row in rows} <= {"a", None}


def test_no_apps_means_no_rows_and_none_means_all(con: duckdb.DuckDBPyConnection) -> None:
    sql = "SELECT DISTINCT app_id FROM events"
    assert run(con, prep(sql, app_ids=frozenset()).sql) == []
    assert run(con, prep(sql, app_ids=None).sql) == [("a",), ("b",), ("c",)]
    assert run(con, prep(sql, app_ids=frozenset({"b", "c"})).sql) == [("b",), ("c",)]


def test_partition_columns_are_hidden_and_aliases_do_not_collide(
    con: duckdb.DuckDBPyConnection,
) -> None:
    cols = con.sql(prep("SELECT * FROM events").sql).columns
    assert cols == EVENTS_SCHEMA.names
    with pytest.raises(duckdb.BinderException):
        con.sql(prep("SELECT year FROM events").sql).fetchall()
    daily = prep(
        "SELECT date_trunc('day', timestamp) AS day, count(*) AS n FROM events "
        "WHERE app_id = 'a' GROUP BY day ORDER BY day"
    )
    rows = con.sql(daily.sql).fetchall()
    assert len(rows) == 8 and all(n == 2 for _, n in rows)


def test_event_columns_describes_the_table(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.sql(prep("SELECT * FROM event_columns").sql).fetchall()
    assert [r[0] for r in rows] == EVENTS_SCHEMA.names
    assert dict((r[0], r[1]) for r in rows)["timestamp"] == "TIMESTAMP"


def test_comments_never_reach_the_engine() -> None:
    prepared = prep("SELECT 1 /* /* nested */ ; DROP TABLE events; /* */ */ FROM events -- x")
    assert "DROP" not in prepared.sql and "/*" not in prepared.sql and "--" not in prepared.sql


# -- partition pruning


@pytest.mark.parametrize(
    ("where", "predicate"),
    [
        (
            "timestamp >= TIMESTAMP '2024-02-01' AND timestamp < '2024-02-02'",
            "year = 2024 AND month = 2 AND day = 1",
        ),
        ("'2024-02-01' <= timestamp AND '2024-02-02' > timestamp", "month = 2 AND day = 1"),
        ("timestamp BETWEEN '2024-02-01' AND '2024-02-01 23:59:59'", "month = 2 AND day = 1"),
        ("CAST(timestamp AS DATE) = DATE '2024-02-01'", "month = 2 AND day = 1"),
        ("date_trunc('day', timestamp) = '2024-02-01'", "month = 2 AND day = 1"),
        ("timestamp::date = '2024-02-01' AND device_id = 'x'", "month = 2 AND day = 1"),
        (
            "timestamp >= '2024-01-31' AND timestamp < '2024-02-02'",
            "(month > 1 OR (month = 1 AND day >= 31)) AND (month < 2 OR (month = 2 AND day <= 1))",
        ),
        ("timestamp >= now() - INTERVAL 2 DAY", "(year > 2024 OR (year = 2024 AND (month > 2"),
        ("timestamp >= current_date - INTERVAL '1 day'", "month = 2 AND day >= 2"),
        (
            "(timestamp >= '2024-02-01' AND timestamp < '2024-02-02') OR "
            "(timestamp >= '2024-02-03' AND timestamp < '2024-02-04')",
            "month = 2 AND day >= 1 AND day <= 3",
        ),
        ("timestamp >= '2024-02-05' AND timestamp < '2024-02-01'", "FALSE"),
        (
            "timestamp >= '2024-02-01T00:00:00+02:00' AND timestamp < '2024-02-01T12:00:00Z'",
            "day >= 31",
        ),
    ],
)
def test_time_predicates_become_partition_predicates(where: str, predicate: str) -> None:
    prepared = prep(f"SELECT count(*) FROM events WHERE {where}")
    inner = prepared.sql.split('"events_raw"')[1]
    assert predicate in inner, prepared.sql


@pytest.mark.parametrize(
    "where",
    [
        "timestamp >= '2024-02-01' OR device_id = 'x'",
        "NOT timestamp < '2024-02-01'",
        "timestamp >= (SELECT max(timestamp) FROM events) - INTERVAL 1 DAY",
        "received_at >= '2024-02-01'",
        "timestamp >= 'yesterday'",
        "date_trunc('month', timestamp) = '2024-02-01'",
    ],
)
def test_underivable_predicates_leave_the_scan_unpruned(where: str) -> None:
    prepared = prep(f"SELECT count(*) FROM events WHERE {where}")
    assert "year" not in prepared.sql and "day =" not in prepared.sql


def test_renamed_columns_are_not_pruned() -> None:
    # "timestamp" here is the renamed first column, not the event time
    prepared = prep("SELECT * FROM events AS e(timestamp) WHERE timestamp >= '2024-02-01'")
    assert "year" not in prepared.sql


def test_each_scan_is_pruned_by_its_own_predicates() -> None:
    prepared = prep(
        "SELECT count(*) FROM events a JOIN events b ON a.device_id = b.device_id "
        "WHERE a.timestamp >= '2024-02-03' AND b.timestamp < '2024-01-30'"
    )
    first, second = prepared.sql.split('"events_raw"')[1:3]
    assert "day >= 3" in first and "day <= 29" in second


def test_hourly_partitions_get_an_hour_predicate() -> None:
    prepared = prep(
        "SELECT count(*) FROM events WHERE timestamp >= '2024-02-01 10:00' "
        "AND timestamp < '2024-02-01 12:00'",
        partitioning="hourly",
    )
    assert "day = 1 AND hour >= 10 AND hour <= 11" in prepared.sql


def test_an_upper_bound_relative_to_now_gets_slack() -> None:
    predicate = partition_predicate(
        Span(None, datetime(2024, 2, 3, 23, 59, tzinfo=UTC)), partitioning="daily"
    )
    assert predicate is not None and "day <= 3" in predicate.sql()
    prepared = prep("SELECT count(*) FROM events WHERE timestamp < now()")
    assert "day <= 3" in prepared.sql  # 12:00 plus an hour still ends on the 3rd


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM events WHERE timestamp >= '2024-02-01' AND timestamp < '2024-02-02'",
        "SELECT count(*) FROM events WHERE timestamp BETWEEN '2024-01-31 21:00' AND '2024-02-01'",
        "SELECT count(*) FROM events WHERE timestamp::date = '2024-01-30'",
        "SELECT count(*) FROM events WHERE timestamp > '2024-02-03 03:00:00'",
        "SELECT count(*) FROM events WHERE timestamp <= '2024-01-28 03:00:00'",
        "SELECT count(*) FROM events WHERE timestamp >= now() - INTERVAL 1 DAY",
        "SELECT date_trunc('day', timestamp) AS day, count(*) FROM events WHERE "
        "date_trunc('day', timestamp) BETWEEN '2024-01-29' AND '2024-01-31' GROUP BY ALL",
        "SELECT count(*) FROM events a LEFT JOIN events b ON a.device_id = b.device_id "
        "AND b.timestamp > a.timestamp WHERE b.timestamp < '2024-01-30'",
        "SELECT count(*) FROM events WHERE (timestamp < '2024-01-29') OR "
        "(timestamp >= '2024-02-04' AND timestamp < '2024-02-05')",
    ],
)
def test_pruned_queries_return_what_unpruned_ones_do(
    con: duckdb.DuckDBPyConnection, sql: str
) -> None:
    # DuckDB's own now() is the real time; pin the relative case to NOW through a literal
    sql = sql.replace("now()", f"TIMESTAMPTZ '{NOW.isoformat()}'")
    reference = sql.replace("events", "reference_events")
    pruned = prep(sql).sql
    assert "year" in pruned
    assert run(con, pruned) == run(con, reference)


def test_nesting_up_to_the_cap_works_however_deep_the_caller_is() -> None:
    nested = "SELECT " + "(SELECT " * MAX_NESTING + "1" + ")" * MAX_NESTING + " FROM events"

    def at_depth(frames: int) -> PreparedQuery:
        return prep(nested) if frames == 0 else at_depth(frames - 1)

    assert "SELECT 1" in at_depth(400).sql
    with pytest.raises(UnsafeQuery, match="nests deeper"):
        prep("SELECT " + "(SELECT " * (MAX_NESTING + 1) + "1" + ")" * (MAX_NESTING + 1))
