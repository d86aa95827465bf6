"""Derive Hive partition predicates from the ``timestamp`` predicates an author wrote.

Analysts filter on ``timestamp``; the files are laid out by ``year/month/day[/hour]`` of it.
Engines prune directories only on predicates over the partition columns, so for each scan
of the raw relation (placed by ``scoping``) this rule reads the WHERE clause of the SELECT
that scans it, works out the time span it allows, and adds the matching partition predicate
inside the scan, where the author cannot see or alias it:

    WHERE timestamp >= TIMESTAMP '2024-02-01' AND timestamp < '2024-02-02'
      ->  raw scan gets  year = 2024 AND month = 2 AND day = 1

Only what is certain is used: AND-ed (and OR-ed) comparisons, BETWEEN, ``CAST(ts AS DATE)``
and ``date_trunc`` to a day or finer, against literals, ``TIMESTAMP``/``DATE`` literals and
``now()``/``current_date`` plus or minus an interval. Anything else leaves the scan
unpruned, which is slower but never wrong. The span is always widened to whole partitions,
so the partition predicate can only drop files whose rows the author's predicate drops too
(comparisons are null-rejecting, so this holds under outer joins as well). ``now()`` is the
time of preparation; upper bounds relative to it get an hour of slack, since the engine's
own ``now()`` is a little later.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from typing import Final, NamedTuple

from sqlglot import exp

from causality.query.scoping import same_table
from causality.warehouse.layout import Partitioning

_TICK: Final = timedelta(microseconds=1)
_NOW_SLACK: Final = timedelta(hours=1)
_TRUNC_UNITS: Final = {
    "DAY": timedelta(days=1),
    "HOUR": timedelta(hours=1),
    "MINUTE": timedelta(minutes=1),
    "SECOND": timedelta(seconds=1),
}
_INTERVAL = re.compile(r"^\s*(-?\d+)\s*([a-z]+?)s?\s*$", re.IGNORECASE)
_FIXED_UNITS: Final = {
    "microsecond": timedelta(microseconds=1),
    "millisecond": timedelta(milliseconds=1),
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
_MONTH_UNITS: Final = {"month": 1, "quarter": 3, "year": 12}
_NOW_FUNCTIONS: Final = frozenset({"now", "get_current_timestamp", "transaction_timestamp"})


class Span(NamedTuple):
    """Inclusive time bounds; ``None`` means unbounded on that side."""

    lo: datetime | None
    hi: datetime | None


_ANY: Final = Span(None, None)


def prune_partitions(
    tree: exp.Query, *, raw_table: exp.Table, partitioning: Partitioning, now: datetime
) -> exp.Query:
    """Add a partition predicate inside every raw scan whose SELECT bounds ``timestamp``."""
    for table in list(tree.find_all(exp.Table)):
        if not same_table(table, raw_table):
            continue
        inner = table.parent.parent if isinstance(table.parent, exp.From) else None
        subquery = inner.parent if isinstance(inner, exp.Select) else None
        if not isinstance(subquery, exp.Subquery):
            continue
        outer = subquery.parent.parent if isinstance(subquery.parent, exp.From) else None
        if isinstance(subquery.parent, exp.Join):
            outer = subquery.parent.parent
        where = outer.args.get("where") if isinstance(outer, exp.Select) else None
        alias = subquery.args.get("alias")
        if where is None or alias is None or alias.columns:
            continue  # no filter, or renamed columns: "timestamp" may not be ours
        span = time_span(where.this, alias=alias.name.lower(), now=now)
        predicate = partition_predicate(span, partitioning=partitioning)
        if predicate is not None:
            inner.where(predicate, copy=False)
    return tree


def time_span(condition: exp.Expression, *, alias: str, now: datetime) -> Span:
    """The span of ``timestamp`` (of the scan named ``alias``) that ``condition`` allows."""
    if isinstance(condition, exp.Paren):
        return time_span(condition.this, alias=alias, now=now)
    if isinstance(condition, exp.And):
        parts = [time_span(c, alias=alias, now=now) for c in condition.flatten()]
        return reduce(_meet, parts)
    if isinstance(condition, exp.Or):
        parts = [time_span(c, alias=alias, now=now) for c in condition.flatten()]
        return reduce(_join, parts)
    if isinstance(condition, exp.Between) and not condition.args.get("symmetric"):
        unit = _timestamp_ref(condition.this, alias)
        lo = _value(condition.args["low"], now)
        hi = _value(condition.args["high"], now)
        if unit is None:
            return _ANY
        return Span(lo[0] if lo else None, _upper(hi, unit, strict=False))
    if isinstance(condition, exp.GT | exp.GTE | exp.LT | exp.LTE | exp.EQ):
        return _comparison(condition, alias, now)
    return _ANY


def partition_predicate(span: Span, *, partitioning: Partitioning) -> exp.Expression | None:
    """year/month/day[/hour] predicate covering ``span`` exactly at partition granularity."""
    if span.lo is None and span.hi is None:
        return None
    if span.lo is not None and span.hi is not None and span.lo > span.hi:
        return exp.false()
    names = ["year", "month", "day"] + (["hour"] if partitioning == "hourly" else [])
    columns: list[exp.Expression] = [exp.column(n) for n in names]
    lo = _key(span.lo, len(names)) if span.lo else None
    hi = _key(span.hi, len(names)) if span.hi else None
    equal: list[exp.Expression] = []
    while lo and hi and lo[0] == hi[0] and len(columns) > 1:
        equal.append(exp.EQ(this=columns[0], expression=exp.Literal.number(lo[0])))
        columns, lo, hi = columns[1:], lo[1:], hi[1:]
    parts = [*equal]
    if lo and hi and lo == hi:
        parts.append(exp.EQ(this=columns[0], expression=exp.Literal.number(lo[0])))
        lo = hi = None
    if lo:
        parts.append(_lexicographic(columns, lo, exp.GT, exp.GTE))
    if hi:
        parts.append(_lexicographic(columns, hi, exp.LT, exp.LTE))
    return exp.and_(*parts)


def _lexicographic(
    columns: list[exp.Expression], key: list[int], strict: type[exp.Binary], last: type[exp.Binary]
) -> exp.Expression:
    """(c1, c2, ...) compared to key, spelled with plain comparisons engines prune on."""
    value = exp.Literal.number(key[0])
    if len(columns) == 1:
        return last(this=columns[0].copy(), expression=value)
    rest = _lexicographic(columns[1:], key[1:], strict, last)
    same = exp.and_(exp.EQ(this=columns[0].copy(), expression=value.copy()), rest)
    return exp.paren(exp.or_(strict(this=columns[0].copy(), expression=value), same))


def _key(moment: datetime, size: int) -> list[int]:
    t = moment.astimezone(UTC)
    return [t.year, t.month, t.day, t.hour][:size]


def _comparison(condition: exp.Binary, alias: str, now: datetime) -> Span:
    left, right = condition.this, condition.expression
    unit = _timestamp_ref(left, alias)
    kind = type(condition)
    if unit is None:
        unit = _timestamp_ref(right, alias)
        left, right = right, left
        kind = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE}.get(kind, kind)
    if unit is None:
        return _ANY
    value = _value(right, now)
    if value is None:
        return _ANY
    if kind in (exp.GT, exp.GTE):
        return Span(value[0], None)
    if kind is exp.EQ:
        return Span(value[0], _upper(value, unit, strict=False))
    return Span(None, _upper(value, unit, strict=kind is exp.LT))


def _upper(
    value: tuple[datetime, bool] | None, unit: timedelta, *, strict: bool
) -> datetime | None:
    """Inclusive upper bound on the raw timestamp given a bound on its truncation to ``unit``."""
    if value is None:
        return None
    moment, relative = value
    if relative:
        moment += _NOW_SLACK
    if unit:
        return moment + unit - _TICK
    return moment - _TICK if strict else moment


def _timestamp_ref(node: exp.Expression, alias: str) -> timedelta | None:
    """If ``node`` is this scan's ``timestamp`` (or its truncation), the truncation unit."""
    if isinstance(node, exp.Paren):
        return _timestamp_ref(node.this, alias)
    if isinstance(node, exp.Column):
        ours = node.name.lower() == "timestamp" and node.table.lower() in ("", alias)
        return timedelta(0) if ours and not node.args.get("db") else None
    if isinstance(node, exp.Cast) and node.to.is_type("date"):
        return timedelta(days=1) if _timestamp_ref(node.this, alias) is not None else None
    if isinstance(node, exp.TimestampTrunc | exp.DateTrunc):
        unit = _TRUNC_UNITS.get(node.text("unit").upper())
        inner = _timestamp_ref(node.this, alias)
        return max(unit, inner) if unit is not None and inner is not None else None
    return None


def _value(node: exp.Expression, now: datetime) -> tuple[datetime, bool] | None:
    """A constant point in time (and whether it depends on now), or None if not derivable."""
    if isinstance(node, exp.Paren):
        return _value(node.this, now)
    if isinstance(node, exp.Literal) and node.is_string:
        return _parse_moment(node.this)
    if isinstance(node, exp.Cast) and node.to.is_type("date", *_TIMESTAMP_TYPES):
        inner = _value(node.this, now)
        if inner is not None and node.to.is_type("date"):
            return _midnight(inner[0]), inner[1]
        return inner
    if isinstance(node, exp.CurrentTimestamp) or (
        isinstance(node, exp.Anonymous) and node.name.lower() in _NOW_FUNCTIONS
    ):
        return now.astimezone(UTC), True
    if isinstance(node, exp.CurrentDate):
        return _midnight(now), True
    if isinstance(node, exp.Add | exp.Sub):
        base = _value(node.this, now)
        step = _step(node.expression)
        if base is None or step is None:
            return None
        sign = 1 if isinstance(node, exp.Add) else -1
        return _shift(base[0], step, sign), base[1]
    return None


_TIMESTAMP_TYPES: Final = ("timestamp", "timestamptz", "timestampntz", "timestampltz")


def _step(node: exp.Expression) -> timedelta | int | None:
    """An interval as a timedelta, or a whole number of months; integers count days."""
    if isinstance(node, exp.Literal) and node.is_int:
        return timedelta(days=int(node.this))
    if not isinstance(node, exp.Interval):
        return None
    text = f"{node.this.name if node.this else ''} {node.text('unit')}".strip().lower()
    match = _INTERVAL.match(text)
    if match is None:
        return None
    amount, unit = int(match.group(1)), match.group(2).lower()
    if unit in _FIXED_UNITS:
        return _FIXED_UNITS[unit] * amount
    if unit in _MONTH_UNITS:
        return _MONTH_UNITS[unit] * amount
    return None


def _shift(moment: datetime, step: timedelta | int, sign: int) -> datetime:
    if isinstance(step, timedelta):
        return moment + sign * step
    months = moment.year * 12 + moment.month - 1 + sign * step
    year, month = divmod(months, 12)
    day = min(moment.day, _days_in_month(year, month + 1))
    return moment.replace(year=year, month=month + 1, day=day)


def _days_in_month(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def _parse_moment(text: str) -> tuple[datetime, bool] | None:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the engines run in UTC, like the partitions
    return moment.astimezone(UTC), False


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _meet(a: Span, b: Span) -> Span:
    lo = max((x for x in (a.lo, b.lo) if x is not None), default=None)
    hi = min((x for x in (a.hi, b.hi) if x is not None), default=None)
    return Span(lo, hi)


def _join(a: Span, b: Span) -> Span:
    lo = None if a.lo is None or b.lo is None else min(a.lo, b.lo)
    hi = None if a.hi is None or b.hi is None else max(a.hi, b.hi)
    return Span(lo, hi)
