"""Trends: one or more event series per time bucket, optionally broken down and compared.

Semantics:

- each series selects events (``EventSelector`` plus the query-wide ``filters``) with
  ``timestamp`` in the resolved window and aggregates them per UTC bucket: ``total`` (event
  count), ``unique_devices`` / ``unique_users`` (distinct non-null ids; anonymous events do not
  count as users), or ``sum``/``avg``/``min``/``max`` of a numeric ``property`` (non-numeric
  values are ignored). Empty buckets are zero;
- a series' ``total`` is the aggregate over the whole window (distinct actors over the window
  for unique counts, not the sum of the buckets);
- ``breakdown`` splits each series by a property's text value (not set: ``null``). The top
  ``breakdown_limit`` values by event count in the current window are kept (ties: value
  ascending, not set last); the rest are merged into one series with ``"other": true``;
- ``compare`` adds the previous period (``TimeWindow.previous``) aligned bucket by bucket,
  with the current period's top values.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec
from sqlglot import exp

from causality.analytics.common import (
    DateRange,
    EventSelector,
    Interval,
    PropertyFilter,
    TimeWindow,
    bucket_expr,
    bucket_label,
    bucket_starts,
    fill,
    parse_bucket,
    render,
    resolve_property,
    resolve_range,
    selector_condition,
    selector_label,
    time_between,
    ts_literal,
)
from causality.analytics.errors import InvalidInsight

if TYPE_CHECKING:  # the query package is only needed for the result's type
    from causality.query.engine import QueryResult

Math = Literal["total", "unique_devices", "unique_users", "sum", "avg", "min", "max"]
MAX_SERIES: Final = 10
MAX_BREAKDOWN_LIMIT: Final = 50
_PROPERTY_MATH: Final = {"sum": exp.Sum, "avg": exp.Avg, "min": exp.Min, "max": exp.Max}
_COUNT_MATH: Final = frozenset({"total", "unique_devices", "unique_users"})


class TrendSeries(EventSelector, kw_only=True, forbid_unknown_fields=True):
    """One line of the chart: which events and how to aggregate them."""

    math: Math = "total"
    property: str | None = None


class TrendsQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A trends insight request."""

    series: list[TrendSeries]
    date_range: DateRange | str = "7d"
    interval: Interval = "day"
    filters: list[PropertyFilter] = []
    breakdown: str | None = None
    breakdown_limit: int = 10
    compare: bool = False


def _value_and_aggregate(series: TrendSeries, field: str) -> tuple[exp.Expression, exp.Expression]:
    """The per-event value column and the aggregate over it."""
    value = exp.column("v")
    if series.math in _COUNT_MATH:
        if series.property is not None:
            raise InvalidInsight(f"{field}.property", f"{series.math} takes no property")
        if series.math == "total":
            return exp.Literal.number(1), exp.Count(this=exp.Star())
        column = exp.column("device_id" if series.math == "unique_devices" else "user_id")
        return column, exp.Count(this=exp.Distinct(expressions=[value]))
    if series.property is None:
        raise InvalidInsight(f"{field}.property", f"{series.math} needs a numeric property")
    number = resolve_property(series.property, f"{field}.property").number()
    if number is None:
        raise InvalidInsight(f"{field}.property", f"{series.math} needs a numeric property")
    return number, _PROPERTY_MATH[series.math](this=value)


def _series_parts(
    q: TrendsQuery, index: int, window: TimeWindow, scan_start: dt.datetime
) -> tuple[list[tuple[str, exp.Expression]], exp.Select]:
    """The CTEs and the final aggregate SELECT of one series."""
    series, field = q.series[index], f"series[{index}]"
    value, aggregate = _value_and_aggregate(series, field)
    period: exp.Expression = exp.Literal.number(0)
    if q.compare:
        period = fill(
            "CASE WHEN timestamp >= $start THEN 0 ELSE 1 END", start=ts_literal(window.start)
        )
    breakdown: exp.Expression = exp.Null()
    if q.breakdown is not None:
        breakdown = resolve_property(q.breakdown, "breakdown").text()
    where = exp.and_(
        time_between(scan_start, window.end), selector_condition(series, field, extra=q.filters)
    )
    rows = exp.select(
        exp.alias_(period, "period"),
        exp.alias_(bucket_expr(q.interval), "bucket"),
        exp.alias_(breakdown, "bd"),
        exp.alias_(value, "v"),
    ).from_("events")
    rows = rows.where(where)
    if series.math == "unique_users":
        rows = rows.where(exp.not_(exp.column("user_id").is_(exp.null())))
    source, other = f"s{index}", exp.Literal.number(q.breakdown_limit + 1)
    ctes: list[tuple[str, exp.Expression]] = [(source, rows)]
    if q.breakdown is not None:
        top = fill(
            "SELECT bd, ROW_NUMBER() OVER (ORDER BY COUNT(*) DESC, bd ASC NULLS LAST) AS rnk"
            f" FROM {source} WHERE period = 0 GROUP BY bd"
        )
        mapped = fill(
            "SELECT s.period, s.bucket, CASE WHEN t.rnk IS NULL THEN NULL ELSE s.bd END AS bd,"
            f" COALESCE(t.rnk, $other) AS rnk, s.v FROM {source} AS s LEFT JOIN t{index} AS t"
            " ON s.bd IS NOT DISTINCT FROM t.bd AND t.rnk <= $limit",
            other=other,
            limit=exp.Literal.number(q.breakdown_limit),
        )
        ctes += [(f"t{index}", top), (f"m{index}", mapped)]
        source = f"m{index}"
    else:
        rows.select(exp.alias_(exp.Literal.number(1), "rnk"), copy=False)
    final = fill(
        "SELECT $series AS series, period, bucket, bd, rnk, $aggregate AS value"
        f" FROM {source} GROUP BY GROUPING SETS ((period, bucket, bd, rnk), (period, bd, rnk))",
        series=exp.Literal.number(index),
        aggregate=aggregate,
    )
    assert isinstance(final, exp.Select)
    return ctes, final


def build_sql(q: TrendsQuery, *, now: dt.datetime) -> str:
    """One SELECT returning (series, period, bucket, bd, rnk, value); bucket NULL = total."""
    if not 1 <= len(q.series) <= MAX_SERIES:
        raise InvalidInsight("series", f"give 1 to {MAX_SERIES} series")
    if not 1 <= q.breakdown_limit <= MAX_BREAKDOWN_LIMIT:
        raise InvalidInsight("breakdown_limit", f"must be 1 to {MAX_BREAKDOWN_LIMIT}")
    window = resolve_range(q.date_range, now=now)
    bucket_starts(window, q.interval)  # validates the bucket count
    scan_start = window.previous().start if q.compare else window.start
    ctes: list[tuple[str, exp.Expression]] = []
    finals: list[exp.Select] = []
    for index in range(len(q.series)):
        series_ctes, final = _series_parts(q, index, window, scan_start)
        ctes += series_ctes
        finals.append(final)
    query: exp.Query = finals[0] if len(finals) == 1 else exp.union(*finals, distinct=False)
    for name, cte in ctes:
        query = query.with_(name, as_=cte, copy=False)
    return render(query.order_by("series", "period", "rnk", "bucket", copy=False))


def max_rows(q: TrendsQuery, *, now: dt.datetime) -> int:
    """Rows the query can return: pass it as ``prepare_query``'s limit so none are cut."""
    window = resolve_range(q.date_range, now=now)
    points = len(bucket_starts(window, q.interval))
    if q.compare:
        points = max(points, len(bucket_starts(window.previous(), q.interval)))
    groups = 1 if q.breakdown is None else q.breakdown_limit + 1
    return len(q.series) * (2 if q.compare else 1) * groups * (points + 1)


def _number(value: Any, math: str) -> int | float:
    if value is None:
        return 0
    return int(value) if math in _COUNT_MATH else float(value)


def shape(q: TrendsQuery, result: QueryResult, *, now: dt.datetime) -> dict[str, Any]:
    """Chart-ready series: every bucket present, zero-filled, with totals and comparisons."""
    window = resolve_range(q.date_range, now=now)
    buckets = bucket_starts(window, q.interval)
    previous = window.previous()
    prev_buckets = bucket_starts(previous, q.interval) if q.compare else []
    index = {name: i for i, name in enumerate(result.columns)}
    # (series, rnk, bd) -> period -> bucket (None = whole window) -> value
    groups: dict[tuple[int, int, Any], dict[int, dict[Any, Any]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for row in result.rows:
        bucket = row[index["bucket"]]
        key = (row[index["series"]], row[index["rnk"]], row[index["bd"]])
        groups[key][row[index["period"]]][None if bucket is None else parse_bucket(bucket)] = row[
            index["value"]
        ]
    out: list[dict[str, Any]] = []
    for i, series in enumerate(q.series):
        keys = sorted(k for k in groups if k[0] == i)
        if q.breakdown is None and not keys:
            keys = [(i, 1, None)]
        for key in keys:
            periods, math = groups[key], series.math
            entry: dict[str, Any] = {
                "label": selector_label(series),
                "math": math,
                "data": [_number(periods[0].get(b), math) for b in buckets],
                "labels": [bucket_label(b, q.interval) for b in buckets],
                "total": _number(periods[0].get(None), math),
            }
            if q.breakdown is not None:
                other = key[1] > q.breakdown_limit
                shown = "Other" if other else ("(none)" if key[2] is None else str(key[2]))
                entry["label"] = f"{entry['label']} · {shown}"
                entry["breakdown_value"] = None if other else key[2]
                entry["other"] = other
            if q.compare:
                data = [_number(periods[1].get(b), math) for b in prev_buckets]
                entry["compare"] = {
                    "data": (data + [0] * len(buckets))[: len(buckets)],
                    "labels": [bucket_label(b, q.interval) for b in prev_buckets][: len(buckets)],
                    "total": _number(periods[1].get(None), math),
                }
            out.append(entry)
    shaped: dict[str, Any] = {
        "interval": q.interval,
        "date_range": {"from": window.start.isoformat(), "to": window.end.isoformat()},
        "labels": [bucket_label(b, q.interval) for b in buckets],
        "series": out,
        "truncated": result.truncated,
    }
    if q.compare:
        shaped["compare_range"] = {
            "from": previous.start.isoformat(),
            "to": previous.end.isoformat(),
        }
    return shaped
