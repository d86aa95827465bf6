"""validate_sql: the safety wall's refusals as reasons, then tables and columns that exist,
with a suggestion the model can act on; valid DuckDB idioms pass; Trino SQL comes back as
the DuckDB text the engines take."""

from __future__ import annotations

import pytest

from causality.llm.types import LLMError
from causality.llm.validate import EVENT_COLUMNS, InvalidSql, validate_sql


def reason(sql: str, dialect: str = "duckdb") -> str:
    with pytest.raises(InvalidSql) as info:
        validate_sql(sql, dialect=dialect)  # type: ignore[arg-type]
    assert str(info.value) == info.value.reason
    return info.value.reason


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("DROP TABLE events", "not DROP"),
        ("DELETE FROM events WHERE true", "not DELETE"),
        ("UPDATE events SET platform = 'x'", "not UPDATE"),
        ("INSERT INTO events SELECT * FROM events", "not INSERT"),
        ("CREATE TABLE t AS SELECT 1", "not CREATE"),
        ("ATTACH 'evil.db' AS evil", "not ATTACH"),
        ("COPY events TO '/tmp/out.csv'", "not COPY"),
        ("PRAGMA database_list", "not PRAGMA"),
        ("INSTALL httpfs", "not INSTALL"),
        ("LOAD httpfs", "LOAD"),
        ("SET memory_limit = '100GB'", "SET"),
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv"),
        ("SELECT * FROM read_parquet('s3://bucket/*.parquet')", "read_parquet"),
        ("SELECT read_text('/etc/passwd')", "read_text"),
        ("SELECT getenv('HOME')", "getenv"),
        ("WITH x AS (DELETE FROM events RETURNING *) SELECT * FROM x", "DELETE"),
        ("SELECT 1; DROP TABLE events", "exactly one statement"),
        ("SELECT * INTO evil FROM events", "INTO"),
    ],
)
def test_anything_but_one_read_only_select_is_refused(sql: str, expected: str) -> None:
    assert expected.lower() in reason(sql).lower()


def test_empty_and_unparsable_sql_is_refused() -> None:
    assert "empty" in reason("   ")
    assert "empty" in reason(";")
    assert "parse" in reason("SELECT FROM WHERE (")


def test_refusals_are_value_errors_not_model_errors() -> None:
    with pytest.raises(ValueError):
        validate_sql("DROP TABLE events")
    assert not issubclass(InvalidSql, LLMError)


def test_only_the_events_table_may_be_read() -> None:
    for sql in ("SELECT * FROM users", "SELECT * FROM event_columns", "SELECT * FROM main.events"):
        text = reason(sql)
        assert "`events`" in text, text
    assert "event_columns" not in reason("SELECT * FROM users")
    # a CTE may have any other name, and a subquery alias is not a table
    validate_sql("WITH users AS (SELECT DISTINCT user_id FROM events) SELECT count(*) FROM users")
    validate_sql("SELECT s.n FROM (SELECT count(*) AS n FROM events) AS s")


def test_a_hallucinated_column_is_named_with_the_closest_real_one() -> None:
    text = reason("SELECT platfrom, count(*) FROM events GROUP BY 1")
    assert "'platfrom'" in text and "closest is 'platform'" in text
    text = reason("SELECT e.app_verison FROM events e")
    assert "'app_verison'" in text and "'app_version'" in text
    text = reason("SELECT count(*) FROM events WHERE event_typ = 'login'")
    assert "'event_typ'" in text and "'event_type'" in text
    text = reason("SELECT foo_bar FROM events")
    assert "no column 'foo_bar'" in text and "platform" in text  # the real columns listed


def test_columns_of_ctes_and_subqueries_resolve_and_typos_in_them_are_caught() -> None:
    validate_sql(
        "WITH d AS (SELECT device_id AS dev, count(*) AS n FROM events GROUP BY 1) "
        "SELECT dev, n FROM d ORDER BY n DESC"
    )
    text = reason("WITH d AS (SELECT device_id AS dev FROM events) SELECT devv FROM d")
    assert "'devv'" in text and "closest is 'dev'" in text
    text = reason("WITH d AS (SELECT device_id FROM events) SELECT platform FROM d")
    assert "'platform'" in text and "not available" in text


def test_payload_fields_used_as_columns_point_to_properties() -> None:
    text = reason("SELECT sum(total_cents) FROM events WHERE event_type = 'purchase_complete'")
    assert "properties->>'$.total_cents'" in text
    text = reason("SELECT properties.screen_name FROM events")
    assert "JSON text" in text and "properties->>'$.screen_name'" in text
    text = reason("SELECT country, count(*) FROM events GROUP BY 1")
    assert "locale" in text


def test_an_ambiguous_column_in_a_join_is_explained() -> None:
    text = reason("SELECT device_id FROM events a JOIN events b ON a.id = b.id")
    assert "ambiguous" in text and "alias" in text
    validate_sql("SELECT a.device_id FROM events a JOIN events b ON a.id = b.id")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT platform AS p, count(*) AS n FROM events WHERE p = 'ios' GROUP BY p HAVING n > 1",
        "SELECT date_trunc('day', timestamp) AS day, count(*) FROM events GROUP BY ALL",
        "SELECT k, count(*) AS n FROM events, unnest(json_keys(properties)) AS t(k) GROUP BY k",
        "SELECT list_filter([1, 2, 3], x -> x > 1) AS l FROM events",
        "SELECT device_id, row_number() OVER (PARTITION BY device_id ORDER BY timestamp) AS rn "
        "FROM events QUALIFY rn = 1",
        "SELECT count(*) FILTER (WHERE event_type = 'app_crash') AS crashes FROM events",
        "SELECT extract(hour FROM timestamp) AS h, count(*) FROM events GROUP BY 1",
        "SELECT e.device_id FROM events e WHERE EXISTS (SELECT 1 FROM events f "
        "WHERE f.device_id = e.device_id AND f.event_type = 'purchase_complete')",
        "SELECT d.day, count(e.id) AS n FROM unnest(generate_series(current_date - INTERVAL "
        "'6' DAY, current_date, INTERVAL '1' DAY)) AS d(day) LEFT JOIN events e "
        "ON CAST(e.timestamp AS DATE) = d.day GROUP BY 1",
        "SELECT platform FROM events UNION ALL SELECT app_version FROM events",
        "SELECT CAST(properties->>'$.total_cents' AS BIGINT) / 100.0 AS revenue FROM events",
        'SELECT "Platform" FROM events',
        "SELECT * FROM events ORDER BY timestamp DESC LIMIT 10",
        "SELECT 1 AS one",
    ],
)
def test_valid_duckdb_idioms_pass(sql: str) -> None:
    assert validate_sql(sql) == sql


def test_duckdb_sql_comes_back_trimmed() -> None:
    assert validate_sql("  SELECT count(*) FROM events ;  \n") == "SELECT count(*) FROM events"


def test_trino_sql_is_checked_and_returned_as_duckdb() -> None:
    out = validate_sql(
        "SELECT json_extract_scalar(properties, '$.total_cents') AS cents, "
        "approx_percentile(screen_width, 0.5) AS median_width, "
        "count_if(event_type = 'app_crash') AS crashes FROM events "
        "WHERE timestamp >= current_timestamp - INTERVAL '7' DAY GROUP BY 1",
        dialect="trino",
    )
    assert "->>" in out and "json_extract_scalar" not in out.lower()
    assert "not DELETE" in reason("DELETE FROM events", dialect="trino")
    assert "closest is 'platform'" in reason("SELECT platfrom FROM events", dialect="trino")
    assert "exactly one statement" in reason("SELECT 1; SELECT 2", dialect="trino")


def test_an_unknown_dialect_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="dialect"):
        validate_sql("SELECT 1", dialect="postgres")  # type: ignore[arg-type]


def test_the_checked_columns_are_the_warehouse_columns() -> None:
    assert "properties" in EVENT_COLUMNS and "timestamp" in EVENT_COLUMNS
    assert EVENT_COLUMNS["timestamp"] == "TIMESTAMP WITH TIME ZONE"
