"""Retention on DuckDB against a plain-Python oracle of the module's definition."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from causality.analytics.common import decode, resolve_range
from causality.analytics.errors import InvalidInsight
from causality.analytics.retention import RetentionQuery, build_sql, max_rows, shape
from tests.unit.test_analytics_common import NOW, assert_close, dataset, run, selected
from tests.unit.test_analytics_trends import buckets, floor, label


def oracle(rows: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    window = resolve_range(decode(RetentionQuery, request).date_range, now=NOW)
    period = request.get("period", "week")
    who = "device_id" if request.get("counted_by", "device") == "device" else "user_id"
    extra = request.get("filters", [])
    first: dict[str, Any] = {}
    returned: dict[str, set[Any]] = defaultdict(set)
    for row in rows:
        actor, moment = row[who], row["timestamp"]
        if actor is None or not window.start <= moment < window.end:
            continue
        if selected(row, request["cohort_event"], extra):
            first[actor] = min(first.get(actor, moment), moment)
        if selected(row, request.get("return_event", {}), extra):
            returned[actor].add(floor(moment, period))
    periods = buckets(window.start, window.end, period)
    cohorts = []
    for i, start in enumerate(periods):
        members = [a for a, moment in first.items() if floor(moment, period) == start]
        values = [len(members)] + [
            sum(later in returned[a] for a in members) for later in periods[i + 1 :]
        ]
        cohorts.append(
            {
                "date": label(start, period),
                "size": len(members),
                "values": values,
                "percentages": [100.0 * v / len(members) if members else 0.0 for v in values],
            }
        )
    return {
        "period": period,
        "counted_by": request.get("counted_by", "device"),
        "labels": [f"{period.capitalize()} {k}" for k in range(len(periods))],
        "cohorts": cohorts,
        "truncated": False,
    }


CASES: list[dict[str, Any]] = [
    {"cohort_event": {"event_type": "app_start"}, "return_event": {"event_type": "screen_view"}},
    {
        "cohort_event": {"event_type": "screen_view"},
        "return_event": {"event_type": "add_to_cart"},
        "period": "day",
        "date_range": "14d",
        "counted_by": "user",
        "filters": [{"property": "platform", "op": "in", "value": ["ios", "android"]}],
    },
    {"cohort_event": {"event_type": "screen_view"}, "period": "month", "date_range": "2m"},
    {
        "cohort_event": {"event_type": "custom", "event_name": "share"},
        "return_event": {
            "event_type": "purchase_complete",
            "filters": [{"property": "properties.total_cents", "op": "gte", "value": 5000}],
        },
        "period": "day",
        "date_range": {"from": "2026-10-30", "to": "2026-11-13"},
    },
]


@pytest.mark.parametrize("seed", [21, 22, 23])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_retention_matches_the_oracle(seed: int, case: int) -> None:
    rows, con = dataset(seed, devices=90)
    query = decode(RetentionQuery, CASES[case])
    result = run(con, build_sql(query, now=NOW))
    assert len(result.rows) <= max_rows(query, now=NOW)
    shaped = shape(query, result, now=NOW)
    assert_close(shaped, oracle(rows, CASES[case]))
    sizes = [len(c["values"]) for c in shaped["cohorts"]]
    assert sizes == list(range(len(sizes), 0, -1))  # the triangle
    assert any(sum(c["values"][1:]) for c in shaped["cohorts"]), "someone should come back"


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({}, "cohort_event"),
        ({"cohort_event": {}, "period": "hour"}, "period"),
        ({"cohort_event": {}, "period": "day", "date_range": "101d"}, "date_range"),
        ({"cohort_event": {"event_type": "x"}}, "cohort_event.event_type"),
        (
            {"cohort_event": {}, "return_event": {"filters": [{"property": "a", "op": "is_set"}]}},
            "return_event.filters[0].property",
        ),
    ],
)
def test_invalid_retention_names_the_field(request_: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInsight) as caught:
        build_sql(decode(RetentionQuery, request_), now=NOW)
    assert caught.value.field == field
