"""Funnels: how many actors go through 2-10 ordered steps within a conversion window.

Semantics (the test oracle implements the same definition independently):

- actors are devices (``device_id``) or identified users (``user_id``; anonymous events are
  ignored). Events at the same millisecond of one actor are one moment matching every step
  any of them matches;
- an *attempt* starts at any moment ``t1`` in ``[start, end)`` matching step 1. From it,
  step k is the earliest moment strictly after step k-1's moment that matches step k; the
  attempt reaches step k when that moment is ``<= t1 + window`` (inclusive). Later steps may
  fall after ``end`` (the scan reaches ``end + window``). Taking the earliest match at each
  step reaches the furthest possible step, so this is "furthest step in order, strictly
  increasing times" — two steps at the same millisecond never count as ordered;
- each actor counts once, with the attempt reaching the furthest step (ties: the earliest
  ``t1``). ``count`` of step k is the number of actors whose attempt reached k;
- ``median_time_to_convert_s`` of step k is the median, over actors reaching k, of the
  seconds between their step k-1 and step k moments (exact in DuckDB, approximate in Trino);
- ``breakdown`` is the property's text value on the chosen attempt's step-1 event (several
  step-1 events at that moment: the smallest value). The top ``breakdown_limit`` values by
  actors entering are kept (ties: value ascending, not set last), the rest merged as other.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
from sqlglot import exp

from causality.analytics.common import (
    CountedBy,
    DateRange,
    EventSelector,
    PropertyFilter,
    actor_column,
    epoch_ms,
    fill,
    render,
    resolve_property,
    resolve_range,
    selector_condition,
    selector_label,
    time_between,
)
from causality.analytics.errors import InvalidInsight

if TYPE_CHECKING:  # the query package is only needed for the result's type
    from causality.query.engine import QueryResult

MIN_STEPS: Final = 2
MAX_STEPS: Final = 10
MAX_WINDOW: Final = dt.timedelta(days=90)
MAX_BREAKDOWN_LIMIT: Final = 50
_UNIT_SECONDS: Final = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}


class ConversionWindow(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How long after step 1 the last step may happen."""

    value: int = 14
    unit: Literal["minute", "hour", "day", "week"] = "day"

    def seconds(self) -> int:
        return self.value * _UNIT_SECONDS[self.unit]


class FunnelQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A funnel insight request."""

    steps: list[EventSelector]
    date_range: DateRange | str = "30d"
    window: ConversionWindow = msgspec.field(default_factory=ConversionWindow)
    counted_by: CountedBy = "device"
    filters: list[PropertyFilter] = []
    breakdown: str | None = None
    breakdown_limit: int = 10


def _validate(q: FunnelQuery) -> None:
    if not MIN_STEPS <= len(q.steps) <= MAX_STEPS:
        raise InvalidInsight("steps", f"a funnel has {MIN_STEPS} to {MAX_STEPS} steps")
    if not 1 <= q.window.seconds() <= MAX_WINDOW.total_seconds():
        raise InvalidInsight("window", "the conversion window is 1 minute to 90 days")
    if not 1 <= q.breakdown_limit <= MAX_BREAKDOWN_LIMIT:
        raise InvalidInsight("breakdown_limit", f"must be 1 to {MAX_BREAKDOWN_LIMIT}")


def _ms(moment: dt.datetime) -> exp.Expression:
    return exp.Literal.number(int(moment.timestamp() * 1000))


def build_sql(q: FunnelQuery, *, now: dt.datetime) -> str:
    """One SELECT: a total row (``is_total`` 1) and one row per breakdown value, with
    ``c1..cN`` actors reaching each step and ``m2..mN`` median seconds from the step before."""
    _validate(q)
    window = resolve_range(q.date_range, now=now)
    n, conversion_ms = len(q.steps), q.window.seconds() * 1000
    conditions = [
        selector_condition(step, f"steps[{i}]", extra=q.filters) for i, step in enumerate(q.steps)
    ]
    breakdown: exp.Expression = exp.Null()
    if q.breakdown is not None:
        breakdown = resolve_property(q.breakdown, "breakdown").text()
    actor = actor_column(q.counted_by)

    # every event matching some step, flagged per step
    flags = [
        exp.alias_(fill("CASE WHEN $c THEN 1 ELSE 0 END", c=c), f"f{k}")
        for k, c in enumerate(conditions, 1)
    ]
    raw = exp.select(
        # a 64-bit hash instead of the id string: the grouping, windows and self-join below
        # carry it for every event, and at 10M events the strings alone exceeded 1 GB
        exp.alias_(exp.Anonymous(this="HASH", expressions=[actor.copy()]), "actor"),
        exp.alias_(epoch_ms(), "ms"),
        *flags,
        exp.alias_(fill("CASE WHEN $c THEN $bd END", c=conditions[0], bd=breakdown), "bd"),
    ).from_("events", copy=False)
    raw.where(
        time_between(window.start, window.end + dt.timedelta(milliseconds=conversion_ms)),
        exp.not_(actor.copy().is_(exp.null())),
        exp.or_(*(exp.paren(c.copy()) for c in conditions)),
        copy=False,
    )
    limit = None if q.breakdown is None else q.breakdown_limit
    return render(
        fill(
            _skeleton(n, conversion_ms, limit),
            raw=raw,
            start_ms=_ms(window.start),
            end_ms=_ms(window.end),
        )
    )


def _skeleton(n: int, conversion_ms: int, limit: int | None) -> str:
    """The fixed part of the query (only step indices and numbers; values come as $params)."""
    steps = range(2, n + 1)
    # one row per (actor, millisecond): same-ms events are one moment matching all their steps
    flags = ", ".join(f"MAX(f{k}) AS f{k}" for k in range(1, n + 1))
    # n_k: the earliest later moment of the same actor matching step k (ms is unique per actor)
    nexts = ", ".join(
        f"MIN(CASE WHEN f{k} = 1 THEN ms END) OVER (PARTITION BY actor ORDER BY ms"
        f" ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS n{k}"
        for k in steps
    )
    # follow each attempt from its step-1 moment: t_k is n_k at the moment t_(k-1)
    times = "".join(f", x{k}.n{k} AS t{k}" for k in steps if k > 2)
    joins = "".join(
        f" LEFT JOIN nx AS x{k} ON x{k}.actor = a.actor"
        f" AND x{k}.ms = {'a.n2' if k == 3 else f'x{k - 1}.n{k - 1}'}"
        for k in steps
        if k > 2
    )
    level = " + ".join(
        f"CASE WHEN t{k} IS NOT NULL AND t{k} <= t1 + {conversion_ms} THEN 1 ELSE 0 END"
        for k in steps
    )
    aggregates = ", ".join(
        [f"SUM(CASE WHEN level >= {k} THEN 1 ELSE 0 END) AS c{k}" for k in range(1, n + 1)]
        + [
            f"MEDIAN(CASE WHEN level >= {k} THEN CAST(t{k} - t{k - 1} AS DOUBLE) / 1000 END)"
            f" AS m{k}"
            for k in steps
        ]
    )
    sql = (
        f"WITH e AS (SELECT actor, ms, {flags}, MIN(bd) AS bd FROM ($raw) AS r GROUP BY actor, ms),"
        f" nx AS (SELECT actor, ms, f1, bd, {nexts} FROM e),"
        f" ch AS (SELECT a.actor, a.ms AS t1, a.bd, a.n2 AS t2{times} FROM nx AS a{joins}"
        "  WHERE a.f1 = 1 AND a.ms >= $start_ms AND a.ms < $end_ms),"
        f" lv AS (SELECT *, 1 + {level} AS level FROM ch),"
        " b AS (SELECT *, ROW_NUMBER() OVER (PARTITION BY actor ORDER BY level DESC, t1) AS pick"
        "  FROM lv)"
    )
    total = f"SELECT 1 AS is_total, NULL AS bd, 0 AS rnk, {aggregates}"
    if limit is None:
        return f"{sql} {total} FROM b WHERE pick = 1"
    return (
        f"{sql}, r AS (SELECT bd, ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC, bd ASC NULLS LAST)"
        "  AS rnk FROM b WHERE pick = 1 GROUP BY bd),"
        f" f AS (SELECT b.*, COALESCE(r.rnk, {limit + 1}) AS rnk,"
        "  CASE WHEN r.rnk IS NULL THEN NULL ELSE b.bd END AS bdv FROM b"
        f"  LEFT JOIN r ON b.bd IS NOT DISTINCT FROM r.bd AND r.rnk <= {limit} WHERE b.pick = 1)"
        f" {total} FROM f UNION ALL"
        f" SELECT 0 AS is_total, bdv AS bd, rnk, {aggregates} FROM f GROUP BY bdv, rnk"
        " ORDER BY is_total DESC, rnk"
    )


def max_rows(q: FunnelQuery, *, now: dt.datetime | None = None) -> int:
    """Rows the query can return: the total row and one per kept value plus other."""
    return 1 if q.breakdown is None else q.breakdown_limit + 2


def _steps(q: FunnelQuery, counts: list[int], medians: list[Any]) -> list[dict[str, Any]]:
    """Per-step counts, conversion rates, drop-off and median time from the previous step."""
    steps: list[dict[str, Any]] = []
    for k, (step, count) in enumerate(zip(q.steps, counts, strict=True)):
        previous = counts[k - 1] if k else count
        steps.append(
            {
                "order": k,
                "name": selector_label(step),
                "count": count,
                "conversion_from_start": count / counts[0] if counts[0] else 0.0,
                "conversion_from_previous": count / previous if previous else 0.0,
                "drop_off": previous - count,
                "drop_off_rate": (previous - count) / previous if previous else 0.0,
                "median_time_to_convert_s": None if medians[k] is None else float(medians[k]),
            }
        )
    return steps


def shape(q: FunnelQuery, result: QueryResult, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Chart-ready funnel: overall steps, then one step list per breakdown value."""
    _validate(q)
    n, col = len(q.steps), {name: i for i, name in enumerate(result.columns)}
    overall = [0] * n, [None] * n
    breakdowns: list[dict[str, Any]] = []
    for row in result.rows:
        counts = [int(row[col[f"c{k}"]] or 0) for k in range(1, n + 1)]
        medians = [None, *(row[col[f"m{k}"]] for k in range(2, n + 1))]
        if row[col["is_total"]]:
            overall = counts, medians
            continue
        other = row[col["rnk"]] > q.breakdown_limit
        breakdowns.append(
            {
                "breakdown_value": None if other else row[col["bd"]],
                "other": other,
                "steps": _steps(q, counts, medians),
            }
        )
    return {
        "counted_by": q.counted_by,
        "steps": _steps(q, *overall),
        "breakdowns": breakdowns,
        "truncated": result.truncated,
    }
