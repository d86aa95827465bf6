"""Trends on DuckDB against a plain-Python oracle of the semantics in the module docstring."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from typing import Any

import pytest

from causality.analytics.common import decode, resolve_range
from causality.analytics.errors import InvalidInsight
from causality.analytics.trends import TrendsQuery, build_sql, max_rows, shape
from tests.unit.test_analytics_common import (
    NOW,
    assert_close,
    connect,
    dataset,
    generate,
    prop_value,
    run,
    selected,
)


def floor(moment: dt.datetime, interval: str) -> dt.datetime:
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1) if interval == "month" else day


def buckets(start: dt.datetime, end: dt.datetime, interval: str) -> list[dt.datetime]:
    out, bucket = [], floor(start, interval)
    while bucket < end:
        out.append(bucket)
        if interval == "month":
            bucket = (bucket.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        else:
            bucket += {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}.get(
                interval, dt.timedelta(weeks=1)
            )
    return out


def label(bucket: dt.datetime, interval: str) -> str:
    return bucket.strftime("%Y-%m-%dT%H:%M:%SZ") if interval == "hour" else str(bucket.date())


def as_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def as_number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def aggregate(math: str, rows: list[dict[str, Any]], prop: str | None) -> float | int:
    if math == "total":
        return len(rows)
    if math in ("unique_devices", "unique_users"):
        return len({r["device_id" if math == "unique_devices" else "user_id"] for r in rows})
    assert prop is not None
    values = [n for n in (as_number(prop_value(r, prop)) for r in rows) if n is not None]
    if not values:
        return 0
    return {"sum": sum, "avg": statistics.fmean, "min": min, "max": max}[math](values)


def per_bucket(
    math: str, prop: str | None, rows: list[dict[str, Any]], bs: list[dt.datetime], interval: str
) -> list[Any]:
    return [
        aggregate(math, [r for r in rows if floor(r["timestamp"], interval) == b], prop) for b in bs
    ]


def oracle(rows: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    interval, limit = request.get("interval", "day"), request.get("breakdown_limit", 10)
    window = resolve_range(decode(TrendsQuery, request).date_range, now=NOW)
    previous, compare = window.previous(), request.get("compare", False)
    current_buckets = buckets(window.start, window.end, interval)
    previous_buckets = buckets(previous.start, previous.end, interval)
    breakdown = request.get("breakdown")
    out = []
    for series in request["series"]:
        math, prop = series.get("math", "total"), series.get("property")
        chosen = [
            r
            for r in rows
            if (previous.start if compare else window.start) <= r["timestamp"] < window.end
            and selected(r, series, request.get("filters", []))
            and (math != "unique_users" or r["user_id"] is not None)
        ]
        value_of = {id(r): as_text(prop_value(r, breakdown)) if breakdown else None for r in chosen}
        counts = Counter(value_of[id(r)] for r in chosen if r["timestamp"] >= window.start)
        order = sorted(counts, key=lambda v: (-counts[v], v is None, v or ""))
        rank = {v: i + 1 for i, v in enumerate(order[:limit])}
        groups: dict[tuple[int, Any], list[dict[str, Any]]] = defaultdict(list)
        for r in chosen:
            v = value_of[id(r)]
            groups[(rank[v], v) if v in rank else (limit + 1, None)].append(r)
        if not breakdown and not groups:
            groups[(1, None)] = []
        for (rnk, value), members in sorted(groups.items(), key=lambda item: item[0][0]):
            now_rows = [r for r in members if r["timestamp"] >= window.start]
            old_rows = [r for r in members if r["timestamp"] < window.start]

            name = series.get("label") or series.get("event_name") or series.get("event_type")
            entry: dict[str, Any] = {
                "label": name or "All events",
                "math": math,
                "data": per_bucket(math, prop, now_rows, current_buckets, interval),
                "labels": [label(b, interval) for b in current_buckets],
                "total": aggregate(math, now_rows, prop),
            }
            if breakdown:
                other = rnk > limit
                shown = "Other" if other else ("(none)" if value is None else value)
                entry["label"] += f" · {shown}"
                entry["breakdown_value"] = None if other else value
                entry["other"] = other
            if compare:
                data = per_bucket(math, prop, old_rows, previous_buckets, interval)
                entry["compare"] = {
                    "data": (data + [0] * len(current_buckets))[: len(current_buckets)],
                    "labels": [label(b, interval) for b in previous_buckets][
                        : len(current_buckets)
                    ],
                    "total": aggregate(math, old_rows, prop),
                }
            out.append(entry)
    return {"labels": [label(b, interval) for b in current_buckets], "series": out}


CASES: list[dict[str, Any]] = [
    {"series": [{"event_type": "screen_view"}], "date_range": "7d"},
    {
        "series": [
            {"event_type": "screen_view", "math": "unique_devices"},
            {"event_type": "app_start", "math": "unique_users", "label": "Active users"},
            {"math": "total"},
        ],
        "breakdown": "platform",
        "breakdown_limit": 2,
        "compare": True,
        "date_range": "-10d",
    },
    {
        "series": [
            {
                "event_type": "purchase_complete",
                "math": "sum",
                "property": "properties.total_cents",
            },
            {
                "event_type": "purchase_complete",
                "math": "avg",
                "property": "properties.total_cents",
            },
        ],
        "breakdown": "properties.currency",
        "interval": "week",
        "date_range": {"from": "2026-10-27", "to": "2026-11-12"},
        "compare": True,
    },
    {
        "series": [
            {"event_type": "add_to_cart", "math": "min", "property": "screen_width"},
            {"event_type": "add_to_cart", "math": "max", "property": "properties.price_cents"},
        ],
        "interval": "hour",
        "date_range": "48h",
        "filters": [{"property": "platform", "op": "neq", "value": "web"}],
    },
    {
        "series": [
            {
                "event_type": "custom",
                "event_name": "share",
                "filters": [{"property": "properties.flag", "op": "eq", "value": True}],
            }
        ],
        "interval": "month",
        "date_range": "2m",
        "breakdown": "is_emulator",
        "breakdown_limit": 1,
        "compare": True,
    },
    {
        "series": [{"event_type": "screen_view", "math": "unique_users"}],
        "breakdown": "screen_width",
        "breakdown_limit": 3,
        "filters": [{"property": "properties.screen_name", "op": "in", "value": ["home", "Café"]}],
        "date_range": "3w",
        "interval": "day",
    },
]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_trends_match_the_oracle(seed: int, case: int) -> None:
    rows, con = dataset(seed)
    request = CASES[case]
    query = decode(TrendsQuery, request)
    result = run(con, build_sql(query, now=NOW))
    assert len(result.rows) <= max_rows(query, now=NOW)
    shaped = shape(query, result, now=NOW)
    expected = oracle(rows, request)
    assert shaped["labels"] == expected["labels"]
    assert_close(shaped["series"], expected["series"])
    assert any(any(s["data"]) for s in shaped["series"]), "the case should select something"


def test_empty_warehouse_gives_zero_filled_series() -> None:
    query = decode(TrendsQuery, {"series": [{"event_type": "signup"}], "compare": True})
    shaped = shape(query, run(connect([]), build_sql(query, now=NOW)), now=NOW)
    assert len(shaped["labels"]) == 7
    [series] = shaped["series"]
    assert series["data"] == [0] * 7 and series["total"] == 0
    assert series["compare"]["data"] == [0] * 7 and series["compare"]["labels"][0] == "2026-11-02"


def test_an_injection_attempt_in_a_value_is_only_a_literal() -> None:
    rows = generate(4, devices=10)
    for row in rows[:3]:
        row["platform"] = "x' OR '1'='1"
    request = {
        "series": [{"event_type": None}],
        "filters": [{"property": "platform", "op": "eq", "value": "x' OR '1'='1"}],
        "date_range": "30d",
    }
    query = decode(TrendsQuery, request)
    shaped = shape(query, run(connect(rows), build_sql(query, now=NOW)), now=NOW)
    in_range = [r for r in rows[:3] if r["timestamp"] >= NOW - dt.timedelta(days=30)]
    assert shaped["series"][0]["total"] == len(in_range)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"series": []}, "series"),
        ({"series": [{}] * 11}, "series"),
        ({"series": [{"math": "sum"}]}, "series[0].property"),
        ({"series": [{"math": "sum", "property": "platform"}]}, "series[0].property"),
        ({"series": [{"math": "total", "property": "screen_width"}]}, "series[0].property"),
        ({"series": [{"event_type": "tap"}]}, "series[0].event_type"),
        ({"series": [{"event_type": "signup", "event_name": "x"}]}, "series[0].event_name"),
        ({"series": [{}], "breakdown": "colour"}, "breakdown"),
        ({"series": [{}], "breakdown_limit": 0}, "breakdown_limit"),
        ({"series": [{}], "interval": "hour", "date_range": "365d"}, "interval"),
        (
            {"series": [{}], "filters": [{"property": "x y", "op": "eq", "value": 1}]},
            "filters[0].property",
        ),
    ],
)
def test_invalid_trends_name_the_field(request_: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInsight) as caught:
        build_sql(decode(TrendsQuery, request_), now=NOW)
    assert caught.value.field == field
