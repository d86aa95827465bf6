"""Funnels on DuckDB against a brute-force Python oracle of the module's definition."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import Counter, defaultdict
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from causality.analytics.common import decode, resolve_range
from causality.analytics.errors import InvalidInsight
from causality.analytics.funnels import FunnelQuery, build_sql, max_rows, shape
from causality.events.arrow import EVENTS_SCHEMA
from tests.unit.test_analytics_common import (
    NOW,
    assert_close,
    connect,
    dataset,
    load,
    ms,
    prop_value,
    run,
    selected,
)
from tests.unit.test_analytics_trends import as_text

UNIT_MS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000, "week": 604_800_000}


def _steps(names: list[str], counts: list[int], medians: list[float | None]) -> list[Any]:
    out = []
    for k, name in enumerate(names):
        before = counts[k - 1] if k > 0 else counts[0]
        out.append(
            {
                "order": k,
                "name": name,
                "count": counts[k],
                "conversion_from_start": counts[k] / counts[0] if counts[0] else 0.0,
                "conversion_from_previous": counts[k] / before if before else 0.0,
                "drop_off": before - counts[k],
                "drop_off_rate": (before - counts[k]) / before if before else 0.0,
                "median_time_to_convert_s": medians[k],
            }
        )
    return out


def oracle(rows: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    """Per actor, try every step-1 event; greedily take the earliest next step in the window."""
    window = resolve_range(decode(FunnelQuery, request).date_range, now=NOW)
    spec = request.get("window", {})
    width = spec.get("value", 14) * UNIT_MS[spec.get("unit", "day")]
    steps, extra = request["steps"], request.get("filters", [])
    who = "device_id" if request.get("counted_by", "device") == "device" else "user_id"
    start, end = ms(window.start), ms(window.end)
    by_actor: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for row in rows:
        if row[who] is not None and start <= ms(row["timestamp"]) < end + width:
            by_actor[row[who]].append((ms(row["timestamp"]), row))
    chosen: list[tuple[list[int], str | None]] = []  # (step times, breakdown value) per actor
    for events in by_actor.values():
        attempts = []
        for t1, first in events:
            if not (start <= t1 < end and selected(first, steps[0], extra)):
                continue
            times = [t1]
            for step in steps[1:]:
                later = [
                    t
                    for t, row in events
                    if times[-1] < t <= t1 + width and selected(row, step, extra)
                ]
                if not later:
                    break
                times.append(min(later))
            attempts.append(times)
        if not attempts:
            continue
        best = min(attempts, key=lambda times: (-len(times), times[0]))
        values = [
            as_text(prop_value(row, request["breakdown"])) if "breakdown" in request else None
            for t, row in events
            if t == best[0] and selected(row, steps[0], extra)
        ]
        present = [v for v in values if v is not None]
        chosen.append((best, min(present) if present else None))

    def funnel(members: list[tuple[list[int], str | None]]) -> list[Any]:
        counts = [sum(len(times) > k for times, _ in members) for k in range(len(steps))]
        medians: list[float | None] = [None]
        for k in range(1, len(steps)):
            gaps = [(times[k] - times[k - 1]) / 1000 for times, _ in members if len(times) > k]
            medians.append(statistics.median(gaps) if gaps else None)
        names = [
            s.get("label") or s.get("event_name") or s.get("event_type") or "All events"
            for s in steps
        ]
        return _steps(names, counts, medians)

    breakdowns = []
    if "breakdown" in request:
        limit = request.get("breakdown_limit", 10)
        sizes = Counter(value for _, value in chosen)
        order = sorted(sizes, key=lambda v: (-sizes[v], v is None, v or ""))
        top = order[:limit]
        for value in top:
            breakdowns.append(
                {
                    "breakdown_value": value,
                    "other": False,
                    "steps": funnel([m for m in chosen if m[1] == value]),
                }
            )
        rest = [m for m in chosen if m[1] not in top]
        if rest:
            breakdowns.append({"breakdown_value": None, "other": True, "steps": funnel(rest)})
    return {
        "counted_by": request.get("counted_by", "device"),
        "steps": funnel(chosen),
        "breakdowns": breakdowns,
    }


def check(
    rows: list[dict[str, Any]],
    request: dict[str, Any],
    con: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, Any]:
    query = decode(FunnelQuery, request)
    result = run(con or connect(rows), build_sql(query, now=NOW))
    assert len(result.rows) <= max_rows(query)
    shaped = shape(query, result)
    assert shaped.pop("truncated") is False
    assert_close(shaped, oracle(rows, request))
    return shaped


HOME_FILTER = {"property": "properties.screen_name", "op": "eq", "value": "home"}
HOME = {"event_type": "screen_view", "filters": [HOME_FILTER]}
CASES: list[dict[str, Any]] = [
    {
        "steps": [HOME, {"event_type": "add_to_cart"}, {"event_type": "purchase_complete"}],
        "window": {"value": 1, "unit": "hour"},
        "date_range": "14d",
    },
    {
        "steps": [
            {"event_type": "screen_view"},
            {"event_type": "screen_view"},
            {"event_type": "add_to_cart"},
            {"event_type": "screen_view", "label": "again"},
        ],
        "counted_by": "user",
        "window": {"value": 1, "unit": "day"},
        "breakdown": "platform",
        "breakdown_limit": 2,
        "date_range": "-10d",
    },
    {
        "steps": [{"event_type": "app_start"}, {}],
        "window": {"value": 5, "unit": "minute"},
        "breakdown": "screen_width",
        "filters": [{"property": "is_emulator", "op": "neq", "value": True}],
    },
    {
        "steps": [{"event_type": "screen_view"}, {"event_type": "button_tap"}] * 5,
        "window": {"value": 2, "unit": "week"},
        "breakdown": "properties.screen_name",
        "date_range": {"from": "2026-11-01", "to": "2026-11-10"},
    },
]


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_funnels_match_the_oracle(seed: int, case: int) -> None:
    rows, con = dataset(seed)
    shaped = check(rows, CASES[case], con)
    assert shaped["steps"][0]["count"] > shaped["steps"][-1]["count"] > 0 or case == 3


# Few actors, a handful of moments at the window and range edges, many exact ties.
START = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
OFFSETS = [-1, 0, 1, 2, 59_999, 60_000, 60_001, 86_399_999, 86_400_000, 86_400_001, 86_430_000]
TYPES = ["screen_view", "add_to_cart", "purchase_complete", "app_start"]
STEP_SETS = [
    ["screen_view", "add_to_cart", "purchase_complete"],
    ["screen_view", "screen_view"],
    ["add_to_cart", "screen_view", "add_to_cart", "purchase_complete"],
]


def tiny_row(i: int, device: int, offset: int, event_type: str, user: bool) -> dict[str, Any]:
    stamp = START + dt.timedelta(milliseconds=offset)
    row = dict.fromkeys(EVENTS_SCHEMA.names)
    row.update(
        id=f"e{i:04d}", idempotency_key=f"e{i:04d}", app_id="app", device_id=f"d{device}",
        user_id=f"u{device % 2}" if user else None, event_category="x", event_type=event_type,
        timestamp=stamp, received_at=stamp, platform=["ios", "web", None][i % 3],
        properties=json.dumps({"n": i % 4}),
    )  # fmt: skip
    return row


events_strategy = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.sampled_from(OFFSETS),
        st.sampled_from([0, 0, 0, 1]),
        st.sampled_from(TYPES),
        st.booleans(),
    ),
    max_size=30,
)


@pytest.fixture(scope="module")
def shared() -> duckdb.DuckDBPyConnection:
    return connect([])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(events=events_strategy, steps=st.sampled_from(STEP_SETS), by_user=st.booleans())
def test_funnel_edge_cases_match_the_oracle(
    events: list[tuple[int, int, int, str, bool]],
    steps: list[str],
    by_user: bool,
    shared: duckdb.DuckDBPyConnection,
) -> None:
    rows = [
        tiny_row(i, device, offset + jitter, event_type, user)
        for i, (device, offset, jitter, event_type, user) in enumerate(events)
    ]
    request = {
        "steps": [{"event_type": t} for t in steps],
        "date_range": {"from": "2026-11-10", "to": "2026-11-10"},
        "window": {"value": 1, "unit": "minute"},
        "counted_by": "user" if by_user else "device",
        "breakdown": "platform",
        "breakdown_limit": 1,
    }
    check(rows, request, load(shared, rows))


def test_same_millisecond_steps_do_not_convert() -> None:
    rows = [tiny_row(0, 0, 5, "screen_view", False), tiny_row(1, 0, 5, "add_to_cart", False)]
    rows.append(tiny_row(2, 1, 5, "screen_view", False))
    rows.append(tiny_row(3, 1, 6, "add_to_cart", False))
    request = {
        "steps": [{"event_type": "screen_view"}, {"event_type": "add_to_cart"}],
        "date_range": {"from": "2026-11-10"},
    }
    shaped = check(rows, request)
    assert [s["count"] for s in shaped["steps"]] == [2, 1]
    assert shaped["steps"][1]["median_time_to_convert_s"] == 0.001


def test_the_window_edge_is_inclusive_and_later_steps_may_pass_the_range_end() -> None:
    day = 86_400_000
    rows = [
        tiny_row(0, 0, day - 1, "screen_view", False),  # last ms of the range
        tiny_row(1, 0, day - 1 + 60_000, "add_to_cart", False),  # exactly t1 + window
        tiny_row(2, 1, 0, "screen_view", False),
        tiny_row(3, 1, 60_001, "add_to_cart", False),  # one ms too late
        tiny_row(4, 2, day, "screen_view", False),  # starts after the range
        tiny_row(5, 2, day + 1, "add_to_cart", False),
    ]
    request = {
        "steps": [{"event_type": "screen_view"}, {"event_type": "add_to_cart"}],
        "date_range": {"from": "2026-11-10", "to": "2026-11-10"},
        "window": {"value": 1, "unit": "minute"},
    }
    shaped = check(rows, request)
    assert [s["count"] for s in shaped["steps"]] == [2, 1]
    assert shaped["steps"][1]["median_time_to_convert_s"] == 60.0


BAD_PATH = {"property": "properties.a-b", "op": "is_set"}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"steps": [{"event_type": "signup"}]}, "steps"),
        ({"steps": [{"event_type": "signup"}] * 11}, "steps"),
        ({"steps": [{}, {}], "window": {"value": 0}}, "window"),
        ({"steps": [{}, {}], "window": {"value": 91, "unit": "day"}}, "window"),
        ({"steps": [{}, {"event_type": "nope"}]}, "steps[1].event_type"),
        ({"steps": [{}, {"filters": [BAD_PATH]}]}, "steps[1].filters[0].property"),
        ({"steps": [{}, {}], "counted_by": "session"}, "counted_by"),
        ({"steps": [{}, {}], "breakdown": "properties"}, "breakdown"),
    ],
)  # fmt: skip
def test_invalid_funnels_name_the_field(request_: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInsight) as caught:
        build_sql(decode(FunnelQuery, request_), now=NOW)
    assert caught.value.field == field
