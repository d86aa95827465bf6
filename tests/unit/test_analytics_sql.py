"""Every builder's SQL: one SELECT over `events` with pruning bounds, known functions only,
printing back identically in DuckDB and round-tripping in sqlglot's Trino dialect."""

from __future__ import annotations

from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from causality.analytics import funnels, paths, retention, trends
from causality.analytics.common import decode, to_trino
from tests.unit.test_analytics_common import NOW

STEPS = [{"event_type": t} for t in ["screen_view", "add_to_cart", "checkout_start"] * 4]
BUILDER_CASES: list[tuple[Any, dict[str, Any]]] = [
    (trends, {"series": [{"event_type": "screen_view"}]}),
    (
        trends,
        {
            "series": [
                {
                    "event_type": "purchase_complete",
                    "math": "avg",
                    "property": "properties.total_cents",
                },
                {"event_type": "custom", "event_name": "share", "math": "unique_users"},
            ],
            "interval": "hour",
            "date_range": "-3d",
            "breakdown": "properties.currency",
            "compare": True,
            "filters": [{"property": "properties.note", "op": "contains", "value": "it's"}],
        },
    ),
    *[(funnels, {"steps": STEPS[:n], "breakdown": "platform"}) for n in range(2, 11)],
    (
        funnels,
        {"steps": STEPS[:3], "counted_by": "user", "window": {"value": 30, "unit": "minute"}},
    ),
    (retention, {"cohort_event": {"event_type": "signup"}, "period": "month", "date_range": "6m"}),
    (retention, {"cohort_event": {"event_type": "app_start"}, "return_event": {}}),
    (paths, {"start": "home", "steps": 10}),
    (
        paths,
        {
            "direction": "previous",
            "filters": [{"property": "platform", "op": "eq", "value": "ios"}],
        },
    ),
]


@pytest.mark.parametrize(("module", "request_"), BUILDER_CASES)
def test_builder_sql_is_one_select_over_events_and_round_trips_in_trino(
    module: Any, request_: dict[str, Any]
) -> None:
    query_type = {
        trends: trends.TrendsQuery,
        funnels: funnels.FunnelQuery,
        retention: retention.RetentionQuery,
        paths: paths.PathsQuery,
    }[module]
    sql = module.build_sql(decode(query_type, request_), now=NOW)
    statements = sqlglot.parse(sql, read="duckdb")
    assert len(statements) == 1 and isinstance(statements[0], exp.Query)
    tree = statements[0]
    assert tree.sql(dialect="duckdb") == sql  # what prepare_query parses prints back the same
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    assert {t.name for t in tree.find_all(exp.Table)} - ctes == {"events"}
    bounds = [
        node
        for node in tree.find_all(exp.GTE, exp.LT)
        if isinstance(node.this, exp.Column) and node.this.name == "timestamp"
    ]
    assert {type(node) for node in bounds} == {exp.GTE, exp.LT}
    trino = to_trino(sql)
    assert sqlglot.parse_one(trino, read="trino").sql(dialect="trino") == trino
    assert "MEDIAN" not in trino and "PERCENTILE_CONT" not in trino
    # only functions sqlglot knows (so it can print them for Trino), and DuckDB's HASH, which
    # the query layer rewrites for Trino itself
    assert {node.name.upper() for node in tree.find_all(exp.Anonymous)} <= {"HASH"}
    assert "HASH(" not in trino.upper().replace("XXHASH64(", "")
