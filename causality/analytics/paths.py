"""Paths: the most common screens after (or before) a start screen, as Sankey nodes and links.

Semantics (the test oracle implements the same definition independently):

- a path is the ``screen_view`` events (plus ``filters``) of one session — same ``device_id``
  and ``session_id``; events without a session form one path per device — in the window,
  ordered by ``timestamp`` then ``id``; the screen is ``screen_property`` (default
  ``properties.screen_name``; views without it are skipped); consecutive repeats of the same
  screen are collapsed into one;
- ``direction: "next"`` anchors each path at the first view of ``start`` (without ``start``:
  the path's first screen) and follows it forward; ``"previous"`` anchors at the last view of
  ``start`` (or the path's last screen) and follows it backward. Paths without the start
  screen are ignored. ``steps`` screens are kept, the anchor included;
- node names are ``"<k>_<screen>"`` where k is the distance from the anchor plus one
  (``1_home`` is the anchor), so a screen seen twice is two nodes and the graph stays acyclic
  as a Sankey needs. Links always point forward in time (for ``previous``, from ``3_x`` to
  ``2_y``); a link's value is the number of paths taking it. The ``max_links`` heaviest links
  are kept (ties: step, source, target ascending).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
from sqlglot import exp

from causality.analytics.common import (
    DateRange,
    PropertyFilter,
    compile_filters,
    fill,
    render,
    resolve_property,
    resolve_range,
    time_between,
)
from causality.analytics.errors import InvalidInsight

if TYPE_CHECKING:  # the query package is only needed for the result's type
    from causality.query.engine import QueryResult

MAX_STEPS: Final = 10
MAX_LINKS: Final = 500


class PathsQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A paths insight request."""

    start: str | None = None
    direction: Literal["next", "previous"] = "next"
    steps: int = 5
    date_range: DateRange | str = "7d"
    filters: list[PropertyFilter] = []
    screen_property: str = "properties.screen_name"
    max_links: int = 50


def _validate(q: PathsQuery) -> None:
    if not 2 <= q.steps <= MAX_STEPS:
        raise InvalidInsight("steps", f"paths follow 2 to {MAX_STEPS} screens")
    if not 1 <= q.max_links <= MAX_LINKS:
        raise InvalidInsight("max_links", f"must be 1 to {MAX_LINKS}")


def build_sql(q: PathsQuery, *, now: dt.datetime) -> str:
    """One SELECT of (step, source, target, value), source at ``step`` from the anchor."""
    _validate(q)
    window = resolve_range(q.date_range, now=now)
    screen = resolve_property(q.screen_property, "screen_property").text()
    conditions = [
        time_between(window.start, window.end),
        exp.column("event_type").eq(exp.Literal.string("screen_view")),
        exp.not_(screen.copy().is_(exp.null())),
        *compile_filters(q.filters, "filters"),
    ]
    views = (
        # one 64-bit key per path instead of two strings in every window partition
        exp.select(exp.alias_(fill("HASH(device_id, session_id)"), "k"), "timestamp", "id")
        .select(exp.alias_(screen, "screen"))
        .from_("events")
        .where(exp.and_(*conditions))
    )
    order = "timestamp, id" if q.direction == "next" else "timestamp DESC, id DESC"
    if q.start is None:
        anchor: exp.Expression = exp.Literal.number(1)
    else:
        anchor = fill(
            "MIN(CASE WHEN screen = $start THEN pos END) OVER (PARTITION BY k)",
            start=exp.Literal.string(q.start),
        )
    query = fill(
        "WITH v AS ($views),"
        " d AS (SELECT *, LAG(screen) OVER (PARTITION BY k"
        "  ORDER BY timestamp, id) AS prev FROM v),"
        " c AS (SELECT k, screen, ROW_NUMBER() OVER (PARTITION BY k"
        f"  ORDER BY {order}) AS pos FROM d WHERE prev IS NULL OR prev <> screen),"
        " an AS (SELECT *, $anchor AS apos FROM c),"
        " p AS (SELECT k, screen, pos - apos + 1 AS step FROM an"
        "  WHERE pos >= apos AND pos < apos + $steps),"
        " l AS (SELECT step, screen AS source, LEAD(screen) OVER (PARTITION BY k"
        "  ORDER BY step) AS target FROM p)"
        " SELECT step, source, target, COUNT(*) AS value FROM l WHERE NOT target IS NULL"
        " GROUP BY step, source, target ORDER BY value DESC, step, source, target"
        " LIMIT $max_links",
        views=views,
        anchor=anchor,
        steps=exp.Literal.number(q.steps),
        max_links=exp.Literal.number(q.max_links),
    )
    return render(query)


def max_rows(q: PathsQuery, *, now: dt.datetime | None = None) -> int:
    """Rows the query can return (its own LIMIT)."""
    return q.max_links


def shape(q: PathsQuery, result: QueryResult, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Sankey nodes and links, links pointing forward in time."""
    _validate(q)
    col = {name: i for i, name in enumerate(result.columns)}
    nodes: dict[str, tuple[int, str]] = {}
    links: list[dict[str, Any]] = []
    for row in result.rows:
        step, source, target = int(row[col["step"]]), row[col["source"]], row[col["target"]]
        near, far = (f"{step}_{source}", f"{step + 1}_{target}")
        nodes[near], nodes[far] = (step, source), (step + 1, target)
        if q.direction == "next":
            links.append({"source": near, "target": far, "value": int(row[col["value"]])})
        else:
            links.append({"source": far, "target": near, "value": int(row[col["value"]])})
    reverse = q.direction == "previous"
    ordered = sorted(
        nodes.items(), key=lambda item: (-item[1][0] if reverse else item[1][0], item[0])
    )
    return {
        "direction": q.direction,
        "start": q.start,
        "nodes": [
            {"name": name, "step": step, "screen": screen} for name, (step, screen) in ordered
        ],
        "links": links,
        "truncated": result.truncated,
    }
