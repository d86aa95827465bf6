"""Retention: cohorts by first occurrence of an event, and who comes back period after period.

Semantics (the test oracle implements the same definition independently):

- the window is cut into UTC periods (day, week from Monday, or month); actors are devices or
  identified users (anonymous events are ignored when counting users);
- an actor's cohort is the period of their first ``cohort_event`` inside the window (activity
  before the window is not looked at, so "first" means first in the window);
- period 0 of a cohort is its size; the actor counts in period k >= 1 when they performed a
  ``return_event`` (any event when it has no type or filters) at any time in the k-th
  period after their cohort's;
- the classic triangle: a cohort has a value for each period from its own up to the last
  period of the window (the last one may still be in progress), later cohorts have fewer.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from causality.analytics.common import (
    CountedBy,
    DateRange,
    EventSelector,
    PropertyFilter,
    actor_column,
    bucket_expr,
    bucket_label,
    bucket_starts,
    fill,
    parse_bucket,
    render,
    resolve_range,
    selector_condition,
    time_between,
)
from causality.analytics.errors import InvalidInsight

if TYPE_CHECKING:  # the query package is only needed for the result's type
    from causality.query.engine import QueryResult

Period = Literal["day", "week", "month"]
MAX_PERIODS: Final = 100
_PERIOD_NAMES: Final = {"day": "Day", "week": "Week", "month": "Month"}


class RetentionQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A retention insight request."""

    cohort_event: EventSelector
    return_event: EventSelector = msgspec.field(default_factory=EventSelector)
    period: Period = "week"
    date_range: DateRange | str = "8w"
    counted_by: CountedBy = "device"
    filters: list[PropertyFilter] = []


def _buckets(q: RetentionQuery, now: dt.datetime) -> tuple[dt.datetime, dt.datetime, list[Any]]:
    window = resolve_range(q.date_range, now=now)
    buckets = bucket_starts(window, q.period)
    if len(buckets) > MAX_PERIODS:
        raise InvalidInsight("date_range", f"at most {MAX_PERIODS} {q.period}s")
    return window.start, window.end, buckets


def build_sql(q: RetentionQuery, *, now: dt.datetime) -> str:
    """One SELECT of (cohort, bucket, actors): sizes where bucket = cohort, returns after."""
    start, end, _ = _buckets(q, now)
    cohort = selector_condition(q.cohort_event, "cohort_event", extra=q.filters)
    returning = selector_condition(q.return_event, "return_event", extra=q.filters)
    actor = actor_column(q.counted_by)
    events = fill(
        "SELECT $actor AS actor, $bucket AS bucket,"
        " CASE WHEN $cohort THEN 1 ELSE 0 END AS is_cohort,"
        " CASE WHEN $returning THEN 1 ELSE 0 END AS is_return"
        " FROM events WHERE $range AND NOT $actor IS NULL AND (($cohort) OR ($returning))",
        actor=actor,
        bucket=bucket_expr(q.period),
        cohort=cohort,
        returning=returning,
        range=time_between(start, end),
    )
    query = fill(
        "WITH ev AS ($events),"
        " c AS (SELECT actor, MIN(bucket) AS cohort FROM ev WHERE is_cohort = 1 GROUP BY actor),"
        " a AS (SELECT DISTINCT actor, bucket FROM ev WHERE is_return = 1)"
        " SELECT cohort, cohort AS bucket, COUNT(*) AS actors FROM c GROUP BY cohort"
        " UNION ALL"
        " SELECT c.cohort, a.bucket, COUNT(*) AS actors FROM c"
        " JOIN a ON a.actor = c.actor AND a.bucket > c.cohort GROUP BY c.cohort, a.bucket"
        " ORDER BY cohort, bucket",
        events=events,
    )
    return render(query)


def max_rows(q: RetentionQuery, *, now: dt.datetime) -> int:
    """Rows the query can return: one per cell of the triangle."""
    periods = len(_buckets(q, now)[2])
    return periods * (periods + 1) // 2


def shape(q: RetentionQuery, result: QueryResult, *, now: dt.datetime) -> dict[str, Any]:
    """The triangle: one row per cohort period, values then percentages of the cohort size."""
    _, _, buckets = _buckets(q, now)
    col = {name: i for i, name in enumerate(result.columns)}
    counts: dict[Any, dict[Any, int]] = defaultdict(dict)
    for row in result.rows:
        cohort, bucket = parse_bucket(row[col["cohort"]]), parse_bucket(row[col["bucket"]])
        counts[cohort][bucket] = int(row[col["actors"]])
    cohorts: list[dict[str, Any]] = []
    for i, cohort in enumerate(buckets):
        values = [counts[cohort].get(bucket, 0) for bucket in buckets[i:]]
        size = values[0]
        cohorts.append(
            {
                "date": bucket_label(cohort, q.period),
                "size": size,
                "values": values,
                "percentages": [100.0 * v / size if size else 0.0 for v in values],
            }
        )
    name = _PERIOD_NAMES[q.period]
    return {
        "period": q.period,
        "counted_by": q.counted_by,
        "labels": [f"{name} {k}" for k in range(len(buckets))],
        "cohorts": cohorts,
        "truncated": result.truncated,
    }
