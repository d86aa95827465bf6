"""Shared analytics test data and oracles, plus date ranges, filters, decoding and Trino.

The generator makes seeded event sets full of edge cases (identical timestamps, steps out of
order, events outside the range, many sessions per device, anonymous devices, users on several
devices, non-numeric values in numeric properties, quotes in values). The builders' SQL runs
on an in-memory DuckDB whose session time zone is Asia/Tokyo, so UTC bucketing is checked too.
The filter oracle here is plain Python, written from the filter semantics, not from the SQL.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import random
from collections.abc import Sequence
from typing import Any

import duckdb
import msgspec
import pyarrow as pa
import pytest
from sqlglot import exp

from causality.analytics import funnels, trends
from causality.analytics.common import DateRange, decode, render, resolve_range
from causality.analytics.errors import InvalidInsight
from causality.analytics.filters import PropertyFilter, compile_filter
from causality.events.arrow import EVENTS_SCHEMA
from causality.events.catalogue import CATEGORY_OF

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 15, 13, 37, 12, 345000, tzinfo=UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
SCREENS = ["home", "search", "product", "cart", "checkout", "Café"]
TYPES = [
    "screen_view", "button_tap", "add_to_cart", "checkout_start", "purchase_complete",
    "signup", "app_start", "custom",
]  # fmt: skip
WEIGHTS = [8, 3, 3, 2, 2, 1, 2, 2]
GAPS_MS = [0, 0, 1, 999, 30_000, 400_000, 3_000_000, 20_000_000]


def _properties(rng: random.Random, event_type: str) -> dict[str, Any]:
    if event_type == "screen_view":
        props: dict[str, Any] = {"params": {"utm_source": rng.choice(["google", "O'Reilly"])}}
        if rng.random() < 0.95:
            props["screen_name"] = rng.choice(SCREENS)
        return props
    if event_type == "purchase_complete":
        total = rng.choice([rng.randint(0, 20_000), "n/a"]) if rng.random() < 0.1 else None
        return {
            "total_cents": rng.randint(0, 20_000) if total is None else total,
            "currency": rng.choice(["USD", "EUR", None]),
        }
    if event_type == "add_to_cart":
        return {"price_cents": rng.randint(100, 5_000), "quantity": rng.randint(1, 3)}
    if event_type == "custom":
        return {"flag": rng.choice([True, False]), "note": rng.choice(["Hello World", "it's"])}
    if event_type == "button_tap":
        return {"button_id": rng.choice(["buy", "back"]), "screen_name": rng.choice(SCREENS)}
    return {"method": rng.choice(["email", "apple"])}


def generate(
    seed: int, *, devices: int = 60, start: dt.datetime | None = None, days: float = 24
) -> list[dict[str, Any]]:
    """Seeded events: sessions of bursts around a random start, spanning ``days`` from ``start``."""
    rng = random.Random(seed)
    start = start or NOW - dt.timedelta(days=days - 3)
    start_ms, span_ms = ms(start), int(days * 86_400_000)
    users = [f"u{i}" for i in range(max(devices // 3, 1))]
    rows: list[dict[str, Any]] = []
    for d in range(devices):
        device = f"d{d:03d}"
        user = rng.choice(users) if rng.random() < 0.6 else None
        context = {
            "platform": rng.choice(["ios", "android", "web", None]),
            "screen_width": rng.choice([390, 412, 1440, None]),
            "is_emulator": rng.choice([True, False, None]),
        }
        for s in range(rng.randint(1, 6)):
            session = None if rng.random() < 0.15 else f"{device}-s{s}"
            moment = start_ms + rng.randrange(span_ms)
            logged_in = user is not None and rng.random() < 0.7
            for _ in range(rng.randint(1, 12)):
                moment += rng.choice(GAPS_MS)
                event_type = rng.choices(TYPES, WEIGHTS)[0]
                stamp = EPOCH + dt.timedelta(milliseconds=moment)
                row = dict.fromkeys(EVENTS_SCHEMA.names)
                row.update(context)
                row.update(
                    id=f"{rng.getrandbits(40):010x}{len(rows):06d}",
                    app_id="app",
                    device_id=device,
                    user_id=user if logged_in else None,
                    session_id=session,
                    event_category=CATEGORY_OF[event_type],
                    event_type=event_type,
                    event_name=rng.choice(["share", "invite"]) if event_type == "custom" else None,
                    timestamp=stamp,
                    received_at=stamp,
                    properties=json.dumps(_properties(rng, event_type)),
                )
                row["idempotency_key"] = row["id"]
                rows.append(row)
    return rows


@functools.cache
def dataset(seed: int, devices: int = 60) -> tuple[list[dict[str, Any]], duckdb.DuckDBPyConnection]:
    """Generated rows and a connection holding them, shared by the tests using that seed
    (read only: tests that edit rows call ``generate`` themselves)."""
    rows = generate(seed, devices=devices)
    return rows, connect(rows)


def ms(moment: dt.datetime) -> int:
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


def connect(rows: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with `events` holding ``rows`` in the warehouse schema."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Tokyo'")  # buckets must not follow the session zone
    return load(con, rows)


def load(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    """Replace the `events` of a connection (cheaper than a new one per hypothesis example)."""
    con.register("events", pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA))
    return con


class Result(msgspec.Struct):
    """The fields of ``causality.query.engine.QueryResult`` that ``shape`` reads."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = False


def run(con: duckdb.DuckDBPyConnection, sql: str) -> Result:
    """Run and convert as the DuckDB engine's ``to_result`` does (timestamps as ISO text)."""
    table = con.sql(sql).to_arrow_table()
    columns = [
        [None if v is None else v.isoformat() for v in col.to_pylist()]
        if pa.types.is_timestamp(col.type)
        else col.to_pylist()
        for col in table.columns
    ]
    return Result(table.column_names, [list(r) for r in zip(*columns, strict=True)])


# -- the filter oracle -----------------------------------------------------------------------


def prop_value(row: dict[str, Any], name: str) -> Any:
    """A property as the semantics define it: JSON values as text, JSON null as missing."""
    if not name.startswith("properties."):
        return row[name]
    value: Any = json.loads(row["properties"])
    for key in name.split(".")[1:]:
        if not isinstance(value, dict) or value.get(key) is None:
            return None
        value = value[key]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _equals(value: Any, wanted: Any) -> bool:
    if value is None:
        return False
    if isinstance(wanted, bool):
        return value == wanted if isinstance(value, bool) else value == str(wanted).lower()
    if isinstance(wanted, int | float):
        return _number(value) == wanted
    return value == wanted


def matches(row: dict[str, Any], flt: dict[str, Any]) -> bool:
    value, op, wanted = prop_value(row, flt["property"]), flt["op"], flt.get("value")
    if op in ("is_set", "is_not_set"):
        return (value is not None) == (op == "is_set")
    if op == "eq":
        return _equals(value, wanted)
    if op == "neq":
        return not _equals(value, wanted)
    if op == "in":
        return any(_equals(value, w) for w in wanted)
    if op in ("contains", "not_contains"):
        found = value is not None and wanted.lower() in value.lower()
        return found if op == "contains" else not found
    number = _number(value)
    if number is None:
        return False
    return {"gt": number > wanted, "gte": number >= wanted, "lt": number < wanted}.get(
        op, number <= wanted
    )


def selected(
    row: dict[str, Any], selector: dict[str, Any], extra: Sequence[dict[str, Any]] = ()
) -> bool:
    """Whether a row matches an EventSelector given as a request dict."""
    for column in ("event_type", "event_name"):
        if selector.get(column) is not None and row[column] != selector[column]:
            return False
    return all(matches(row, f) for f in [*selector.get("filters", []), *extra])


def assert_close(actual: Any, expected: Any, path: str = "$") -> None:
    """Deep equality with a tolerance for floats (aggregates are summed in another order)."""
    if isinstance(expected, float) or isinstance(actual, float):
        assert actual == pytest.approx(expected, rel=1e-9, abs=1e-9), path
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), path
        for key in expected:
            assert_close(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_close(a, e, f"{path}[{i}]")
    else:
        assert actual == expected, path


# -- tests -------------------------------------------------------------------------------------

FILTERS: list[dict[str, Any]] = [
    {"property": "platform", "op": "eq", "value": "ios"},
    {"property": "platform", "op": "neq", "value": "ios"},
    {"property": "platform", "op": "in", "value": ["ios", "web"]},
    {"property": "platform", "op": "is_not_set"},
    {"property": "screen_width", "op": "gte", "value": 412},
    {"property": "screen_width", "op": "eq", "value": 390},
    {"property": "is_emulator", "op": "eq", "value": True},
    {"property": "is_emulator", "op": "neq", "value": True},
    {"property": "properties.total_cents", "op": "gt", "value": 10_000},
    {"property": "properties.total_cents", "op": "lte", "value": 500.5},
    {"property": "properties.total_cents", "op": "is_set"},
    {"property": "properties.currency", "op": "neq", "value": "USD"},
    {"property": "properties.currency", "op": "is_not_set"},
    {"property": "properties.screen_name", "op": "contains", "value": "CA"},
    {"property": "properties.screen_name", "op": "not_contains", "value": "é"},
    {"property": "properties.params.utm_source", "op": "eq", "value": "O'Reilly"},
    {"property": "properties.flag", "op": "eq", "value": False},
    {"property": "properties.quantity", "op": "in", "value": [1, 3]},
    {"property": "properties.quantity", "op": "eq", "value": "2"},
    {"property": "properties.note", "op": "contains", "value": "it's"},
    {"property": "properties.note", "op": "eq", "value": "x'; DROP TABLE events; --"},
    {"property": "properties.note", "op": "lt", "value": 3},
]


@pytest.fixture(scope="module")
def data() -> tuple[list[dict[str, Any]], duckdb.DuckDBPyConnection]:
    return dataset(7)


@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: f"{f['property']}-{f['op']}")
def test_filters_match_the_python_semantics(data: Any, flt: dict[str, Any]) -> None:
    rows, con = data
    condition = compile_filter(decode(PropertyFilter, flt), "f")
    query = exp.select("id").from_("events").where(condition)
    got = {row[0] for row in run(con, render(query)).rows}
    assert got == {row["id"] for row in rows if matches(row, flt)}


def test_the_filter_cases_are_not_trivial_on_the_data(data: Any) -> None:
    rows, _ = data
    proper = [f for f in FILTERS if 0 < sum(matches(row, f) for row in rows) < len(rows)]
    assert len(proper) == len(FILTERS) - 2  # the injection attempt and "lt" on text match none


@pytest.mark.parametrize(
    ("flt", "field"),
    [
        ({"property": "nope", "op": "eq", "value": 1}, "f.property"),
        ({"property": "timestamp", "op": "eq", "value": 1}, "f.property"),
        ({"property": "properties.a'] OR 1=1 --", "op": "eq", "value": 1}, "f.property"),
        ({"property": 'platform" OR 1=1 --', "op": "eq", "value": "x"}, "f.property"),
        ({"property": "properties.", "op": "is_set"}, "f.property"),
        ({"property": "platform", "op": "gt", "value": 1}, "f.value"),
        ({"property": "platform", "op": "eq", "value": 1}, "f.value"),
        ({"property": "screen_width", "op": "contains", "value": "1"}, "f.value"),
        ({"property": "platform", "op": "in", "value": []}, "f.value"),
        ({"property": "properties.x", "op": "in", "value": ["a", 1]}, "f.value"),
        ({"property": "platform", "op": "is_set", "value": "x"}, "f.value"),
        ({"property": "platform", "op": "eq"}, "f.value"),
        ({"property": "platform", "op": "eq", "value": ["a"]}, "f.value"),
    ],
)
def test_bad_filters_name_the_field(flt: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInsight) as caught:
        compile_filter(decode(PropertyFilter, flt), "f")
    assert caught.value.field == field


def test_decode_errors_name_the_field() -> None:
    cases = {
        b'{"series": [{"event_type": "screen_view", "math": "p99"}]}': "series[0].math",
        b'{"series": [], "interval": "year"}': "interval",
        b'{"series": [{"filters": [{"property": "x", "op": "like"}]}]}': "series[0].filters[0].op",
        b'{"series": [{"event_type": "screen_view", "colour": 1}]}': "series[0].colour",
        b'{"interval": "day"}': "series",
        b"{": "$",
    }
    for body, field in cases.items():
        with pytest.raises(InvalidInsight) as caught:
            decode(trends.TrendsQuery, body)
        assert caught.value.field == field, body
    with pytest.raises(InvalidInsight) as caught:
        decode(funnels.FunnelQuery, {"steps": [{"event_type": 3}]})
    assert caught.value.field == "steps[0].event_type"


def test_relative_ranges_are_whole_units_including_the_current_one() -> None:
    day = resolve_range("7d", now=NOW)
    assert (day.start, day.end) == (
        dt.datetime(2026, 11, 9, tzinfo=UTC),
        dt.datetime(2026, 11, 16, tzinfo=UTC),
    )
    assert resolve_range(DateRange(last="-7d"), now=NOW) == day
    assert (day.previous().start, day.previous().end) == (
        dt.datetime(2026, 11, 2, tzinfo=UTC),
        day.start,
    )
    hours = resolve_range("24h", now=NOW)
    assert hours.end == dt.datetime(2026, 11, 15, 14, tzinfo=UTC)
    assert hours.end - hours.start == dt.timedelta(hours=24)
    weeks = resolve_range("2w", now=NOW)  # NOW is a Sunday: weeks start on Monday
    assert (weeks.start, weeks.end) == (
        dt.datetime(2026, 11, 2, tzinfo=UTC),
        dt.datetime(2026, 11, 16, tzinfo=UTC),
    )
    months = resolve_range("3m", now=dt.datetime(2026, 3, 31, 12, tzinfo=UTC))
    assert (months.start, months.end) == (
        dt.datetime(2026, 1, 1, tzinfo=UTC),
        dt.datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert months.previous().start == dt.datetime(2025, 10, 1, tzinfo=UTC)


def test_absolute_ranges() -> None:
    window = resolve_range(DateRange(from_="2026-11-01", to="2026-11-03"), now=NOW)
    assert (window.start, window.end) == (
        dt.datetime(2026, 11, 1, tzinfo=UTC),
        dt.datetime(2026, 11, 4, tzinfo=UTC),
    )
    assert window.previous().start == dt.datetime(2026, 10, 29, tzinfo=UTC)
    exact = resolve_range(
        DateRange(from_="2026-11-01T10:00:00+02:00", to="2026-11-01T12:30:00"), now=NOW
    )
    assert (exact.start, exact.end) == (
        dt.datetime(2026, 11, 1, 8, tzinfo=UTC),
        dt.datetime(2026, 11, 1, 12, 30, tzinfo=UTC),
    )
    assert resolve_range(DateRange(from_="2026-11-14"), now=NOW).end == dt.datetime(
        2026, 11, 16, tzinfo=UTC
    )
    bad: list[tuple[DateRange | str, str]] = [
        ("7 days", "date_range"),
        ("0d", "date_range"),
        (DateRange(last="7x"), "date_range.last"),
        (DateRange(from_="yesterday"), "date_range.from"),
        (DateRange(from_="2026-11-03", to="2026-11-01"), "date_range.to"),
        (DateRange(from_="2026-11-03", last="7d"), "date_range"),
        (DateRange(), "date_range"),
        (DateRange(from_="2020-01-01"), "date_range"),
    ]
    for value, field in bad:
        with pytest.raises(InvalidInsight) as caught:
            resolve_range(value, now=NOW)
        assert caught.value.field == field, value


def test_invalid_insight_survives_pickling() -> None:
    import pickle

    error = pickle.loads(pickle.dumps(InvalidInsight("steps", "too many")))
    assert (error.field, error.reason, str(error)) == ("steps", "too many", "steps: too many")
