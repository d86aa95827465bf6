"""Paths on DuckDB against a plain-Python oracle of the module's definition."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from causality.analytics.common import decode, resolve_range
from causality.analytics.errors import InvalidInsight
from causality.analytics.paths import PathsQuery, build_sql, shape
from tests.unit.test_analytics_common import (
    NOW,
    connect,
    dataset,
    generate,
    load,
    matches,
    prop_value,
    run,
)
from tests.unit.test_analytics_funnels import tiny_row


def oracle(rows: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    window = resolve_range(decode(PathsQuery, request).date_range, now=NOW)
    screen_property = request.get("screen_property", "properties.screen_name")
    steps, start = request.get("steps", 5), request.get("start")
    backward = request.get("direction", "next") == "previous"
    sessions: dict[tuple[str, str | None], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if (
            row["event_type"] == "screen_view"
            and window.start <= row["timestamp"] < window.end
            and prop_value(row, screen_property) is not None
            and all(matches(row, f) for f in request.get("filters", []))
        ):
            sessions[(row["device_id"], row["session_id"])].append(row)
    links: Counter[tuple[int, str, str]] = Counter()
    for views in sessions.values():
        screens: list[str] = []
        for row in sorted(views, key=lambda r: (r["timestamp"], r["id"])):
            screen = prop_value(row, screen_property)
            if not screens or screens[-1] != screen:
                screens.append(screen)
        if backward:
            screens.reverse()
        if start is not None and start not in screens:
            continue
        anchor = 0 if start is None else screens.index(start)
        path = screens[anchor : anchor + steps]
        for k in range(len(path) - 1):
            links[(k + 1, path[k], path[k + 1])] += 1
    kept = sorted(links.items(), key=lambda item: (-item[1], *item[0]))
    kept = kept[: request.get("max_links", 50)]
    nodes: dict[str, tuple[int, str]] = {}
    out = []
    for (k, source, target), value in kept:
        near, far = f"{k}_{source}", f"{k + 1}_{target}"
        nodes[near], nodes[far] = (k, source), (k + 1, target)
        out.append({"source": far, "target": near} if backward else {"source": near, "target": far})
        out[-1]["value"] = value
    ordered = sorted(nodes, key=lambda n: (-nodes[n][0] if backward else nodes[n][0], n))
    return {
        "direction": "previous" if backward else "next",
        "start": start,
        "nodes": [{"name": n, "step": nodes[n][0], "screen": nodes[n][1]} for n in ordered],
        "links": out,
        "truncated": False,
    }


def check(
    rows: list[dict[str, Any]],
    request: dict[str, Any],
    con: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, Any]:
    query = decode(PathsQuery, request)
    shaped = shape(query, run(con or connect(rows), build_sql(query, now=NOW)))
    assert shaped == oracle(rows, request)
    return shaped


CASES: list[dict[str, Any]] = [
    {"start": "home"},
    {"start": "cart", "direction": "previous", "steps": 4, "date_range": "14d"},
    {
        "steps": 10,
        "max_links": 7,
        "filters": [{"property": "platform", "op": "neq", "value": "web"}],
    },
    {"direction": "previous", "start": "Café", "steps": 2, "date_range": {"from": "2026-11-01"}},
    {"start": "google", "screen_property": "properties.params.utm_source", "steps": 3},
]


@pytest.mark.parametrize("seed", [31, 32, 33])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_paths_match_the_oracle(seed: int, case: int) -> None:
    rows, con = dataset(seed)
    shaped = check(rows, CASES[case], con)
    assert shaped["links"], "the case should find some paths"
    names = {node["name"] for node in shaped["nodes"]}
    assert all(link["source"] in names and link["target"] in names for link in shaped["links"])


@pytest.fixture(scope="module")
def shared() -> duckdb.DuckDBPyConnection:
    return connect([])


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    views=st.lists(
        st.tuples(
            st.integers(0, 2),
            st.sampled_from([None, "s1", "s2"]),
            st.integers(-1, 6),
            st.sampled_from(["a", "b", "c"]),
        ),
        max_size=25,
    ),
    direction=st.sampled_from(["next", "previous"]),
    start=st.sampled_from([None, "a", "b"]),
)
def test_path_edge_cases_match_the_oracle(
    views: list[tuple[int, str | None, int, str]],
    direction: str,
    start: str | None,
    shared: duckdb.DuckDBPyConnection,
) -> None:
    rows = []
    for i, (device, session, second, screen) in enumerate(views):
        row = tiny_row(i, device, second * 1000, "screen_view", False)
        row.update(session_id=session, properties=f'{{"screen_name": "{screen}"}}')
        rows.append(row)
    request = {"start": start, "direction": direction, "steps": 3, "max_links": 5}
    request["date_range"] = {"from": "2026-11-10", "to": "2026-11-10"}
    check(rows, request, load(shared, rows))


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"steps": 1}, "steps"),
        ({"steps": 11}, "steps"),
        ({"max_links": 0}, "max_links"),
        ({"direction": "sideways"}, "direction"),
        ({"screen_property": "properties.a.b'c"}, "screen_property"),
        ({"filters": [{"property": "platform", "op": "gt", "value": "x"}]}, "filters[0].value"),
    ],
)
def test_invalid_paths_name_the_field(request_: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInsight) as caught:
        build_sql(decode(PathsQuery, request_), now=NOW)
    assert caught.value.field == field


def test_an_injection_attempt_as_start_screen_is_only_a_literal() -> None:
    rows = generate(34, devices=20)
    shaped = check(rows, {"start": "home' OR '1'='1"})
    assert shaped["links"] == [] and shaped["nodes"] == []
