"""The SQL we send to Trino: prepared from our one dialect, it parses and round-trips in
sqlglot's Trino dialect, and the rewrites Trino needs (GROUP BY ALL, QUALIFY, typed time
literals) are in place. A real Trino runs the same set in tests/integration/test_trino.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlglot
from sqlglot import exp

from causality.query.errors import QueryError
from causality.query.prepare import prepare_query

NOW = datetime(2024, 2, 3, 12, 0, tzinfo=UTC)

# written once, in the dialect analysts and builders use (DuckDB's), as a builder would
REPRESENTATIVE = {
    "count": "SELECT count(*) FROM events",
    "trend": "SELECT date_trunc('day', timestamp) AS day, count(*) AS events, "
    "count(DISTINCT device_id) AS devices FROM events "
    "WHERE timestamp >= TIMESTAMP '2024-01-01' AND timestamp < TIMESTAMP '2024-02-01' "
    "GROUP BY ALL ORDER BY day",
    "relative": "SELECT event_type, count(*) FROM events "
    "WHERE timestamp >= now() - INTERVAL 7 DAY GROUP BY event_type ORDER BY 2 DESC",
    "string-times": "SELECT count(*) FROM events WHERE timestamp >= '2024-01-01' "
    "AND timestamp < '2024-01-02 12:00:00'",
    "date-cast": "SELECT count(*) FROM events WHERE CAST(timestamp AS DATE) = '2024-01-05'",
    "json": "SELECT properties->>'$.screen_name' AS screen, count(*) FROM events "
    "WHERE event_type = 'screen_view' GROUP BY 1",
    "json-fn": "SELECT json_extract_string(properties, '$.currency') AS currency, "
    "sum(CAST(json_extract_string(properties, '$.total_cents') AS BIGINT)) AS cents "
    "FROM events WHERE event_type = 'purchase_complete' GROUP BY ALL",
    "funnel": "WITH s1 AS (SELECT device_id, min(timestamp) AS t1 FROM events "
    "WHERE event_type = 'product_view' GROUP BY device_id), "
    "s2 AS (SELECT e.device_id, min(e.timestamp) AS t2 FROM events e JOIN s1 "
    "ON e.device_id = s1.device_id AND e.timestamp > s1.t1 "
    "WHERE e.event_type = 'add_to_cart' GROUP BY e.device_id) "
    "SELECT count(*) AS step1, (SELECT count(*) FROM s2) AS step2 FROM s1",
    "retention": "WITH first_seen AS (SELECT device_id, min(date_trunc('day', timestamp)) AS d0 "
    "FROM events GROUP BY device_id) SELECT f.d0, date_diff('day', f.d0, "
    "date_trunc('day', e.timestamp)) AS age, count(DISTINCT e.device_id) AS devices "
    "FROM events e JOIN first_seen f ON e.device_id = f.device_id GROUP BY ALL ORDER BY 1, 2",
    "first-event": "SELECT device_id, event_type, timestamp FROM events "
    "QUALIFY row_number() OVER (PARTITION BY device_id ORDER BY timestamp) = 1 "
    "ORDER BY timestamp DESC LIMIT 10",
    "paths": "SELECT session_id, list(event_type ORDER BY timestamp) AS path FROM events "
    "GROUP BY session_id",
    "filter": "SELECT count(*) FILTER (WHERE event_type = 'login') AS logins, "
    "approx_count_distinct(user_id) AS users FROM events",
    "window": "SELECT device_id, timestamp, lag(timestamp) OVER (PARTITION BY device_id "
    "ORDER BY timestamp) AS previous FROM events",
    "union": "SELECT app_id FROM events WHERE platform = 'ios' UNION "
    "SELECT app_id FROM events WHERE platform = 'web' ORDER BY 1",
    "columns": "SELECT column_name, data_type FROM event_columns",
    "case": "SELECT CASE WHEN is_emulator THEN 'emulator' ELSE coalesce(platform, '?') END AS k, "
    "count(*) FROM events GROUP BY 1",
}


def to_trino(sql: str, **kwargs: object) -> str:
    options: dict[str, object] = {
        "dialect": "trino",
        "app_ids": frozenset({"shop"}),
        "limit": 100,
        "max_limit": 1000,
        "now": NOW,
    }
    options.update(kwargs)
    return prepare_query(sql, **options).sql  # type: ignore[arg-type]


def round_trip(sql: str) -> str:
    return sqlglot.parse_one(sql, read="trino").sql(dialect="trino", comments=False)


@pytest.mark.parametrize("name", sorted(REPRESENTATIVE))
def test_prepared_sql_parses_and_round_trips_in_trino(name: str) -> None:
    printed = to_trino(REPRESENTATIVE[name])
    again = round_trip(printed)
    assert round_trip(again) == again  # a fixed point after one pass
    tree = sqlglot.parse_one(printed, read="trino")
    tables = {".".join(p.name for p in t.parts) for t in tree.find_all(exp.Table)}
    assert tables <= {"hive.causality.events", "s1", "s2", "first_seen"}
    scans = printed.count('"hive"."causality"."events"')
    assert printed.count("app_id IN ('shop')") == scans


def test_group_by_all_is_expanded_for_trino() -> None:
    printed = to_trino(REPRESENTATIVE["trend"])
    assert "GROUP BY 1" in printed and "GROUP BY ALL" not in printed


def test_qualify_keeps_order_and_limit_outside_the_filter() -> None:
    printed = to_trino(REPRESENTATIVE["first-event"])
    assert "QUALIFY" not in printed
    assert printed.endswith("WHERE _w = 1 ORDER BY timestamp DESC LIMIT 10")


def test_qualify_with_an_unselected_order_key_is_explained() -> None:
    sql = "SELECT device_id FROM events QUALIFY row_number() OVER (ORDER BY 1) = 1 ORDER BY app_id"
    with pytest.raises(QueryError, match="ORDER BY"):
        to_trino(sql)


def test_time_literals_are_typed_for_trino() -> None:
    printed = to_trino(REPRESENTATIVE["string-times"])
    assert "timestamp >= CAST('2024-01-01' AS TIMESTAMP)" in printed
    printed = to_trino(REPRESENTATIVE["date-cast"])
    assert "CAST(timestamp AS DATE) = CAST('2024-01-05' AS DATE)" in printed


def test_trino_scans_are_pruned_like_duckdb_ones() -> None:
    printed = to_trino(REPRESENTATIVE["trend"])
    assert "year = 2024 AND month = 1" in printed


def test_the_raw_table_comes_from_settings() -> None:
    printed = to_trino("SELECT count(*) FROM events", raw_table="lake.analytics.events")
    assert 'FROM "lake"."analytics"."events"' in printed
