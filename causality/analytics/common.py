"""What every insight builder shares: date ranges, intervals, buckets, SQL helpers, Trino.

Each builder turns a msgspec request into ONE duckdb-dialect SELECT over ``events``, built as
a sqlglot tree: user values only ever enter as sqlglot literals, fixed SQL enters as static
text parsed by sqlglot. Every query carries explicit ``timestamp >= … AND timestamp < …``
bounds so the query layer can prune partitions, and buckets are computed in UTC
(``timestamp AT TIME ZONE 'UTC'``) whatever the session time zone is.

Date ranges resolve against an injected ``now`` to a half-open UTC window ``[start, end)``:

- relative ``"7d"``, ``"-7d"`` or ``{"last": "7d"}`` (units h, d, w, m = months): the last N
  whole units including the current one, ``[floor(now) - (N-1) units, floor(now) + 1 unit)``;
  the previous period is the N units before;
- absolute ``{"from": "2026-11-01", "to": "2026-11-30"}``: a date ``to`` is inclusive (the
  window ends at the next midnight), a datetime ``to`` is exclusive; naive times are UTC;
  ``to`` defaults to the end of today; the previous period is the same duration before.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

import msgspec
import sqlglot
from sqlglot import exp

from causality.analytics.errors import InvalidInsight
from causality.analytics.filters import (
    CountedBy,
    EventSelector,
    PropertyFilter,
    actor_column,
    compile_filters,
    resolve_property,
    selector_condition,
    selector_label,
)
from causality.query.transpile import for_trino

__all__ = [
    "MAX_BUCKETS",
    "CountedBy",
    "DateRange",
    "EventSelector",
    "Interval",
    "PropertyFilter",
    "TimeWindow",
    "actor_column",
    "bucket_expr",
    "bucket_label",
    "bucket_starts",
    "compile_filters",
    "decode",
    "epoch_ms",
    "fill",
    "parse_bucket",
    "render",
    "resolve_property",
    "resolve_range",
    "selector_condition",
    "selector_label",
    "time_between",
    "to_trino",
    "ts_literal",
]

Interval = Literal["hour", "day", "week", "month"]
MAX_BUCKETS: Final = 2000
MAX_RANGE: Final = dt.timedelta(days=3 * 366)
UTC: Final = dt.UTC

_RELATIVE = re.compile(r"^-?([1-9][0-9]{0,3})([hdwm])$")
_UNITS: Final[dict[str, Interval]] = {"h": "hour", "d": "day", "w": "week", "m": "month"}
# Static SQL per interval: the unit is a validated Literal, never user text.
_BUCKET_SQL: Final[dict[str, str]] = {
    unit: f"DATE_TRUNC('{unit}', timestamp AT TIME ZONE 'UTC')"
    for unit in ("hour", "day", "week", "month")
}
T = TypeVar("T")
_OPERATORS: Final = (exp.Binary, exp.Not, exp.Predicate)


class DateRange(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``{"last": "30d"}`` or ``{"from": "2026-11-01", "to": "2026-11-30"}``."""

    last: str | None = None
    from_: str | None = msgspec.field(default=None, name="from")
    to: str | None = None


@dataclass(frozen=True)
class TimeWindow:
    """A resolved half-open UTC window; ``unit``/``count`` are set for relative ranges."""

    start: dt.datetime
    end: dt.datetime
    unit: Interval | None = None
    count: int = 0

    def previous(self) -> TimeWindow:
        """The period just before, for "compare to previous period"."""
        if self.unit is not None:
            start = shift(self.start, self.unit, -self.count)
            return TimeWindow(start, self.start, self.unit, self.count)
        return TimeWindow(self.start - (self.end - self.start), self.start)


def floor_to(moment: dt.datetime, interval: Interval) -> dt.datetime:
    """The start of the bucket holding ``moment`` (weeks start on Monday, as date_trunc)."""
    moment = moment.astimezone(UTC)
    if interval == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return day
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def shift(moment: dt.datetime, interval: Interval, n: int) -> dt.datetime:
    """``moment`` plus ``n`` intervals (calendar months for "month"; day clamped)."""
    if interval == "month":
        year, month = divmod(moment.year * 12 + moment.month - 1 + n, 12)
        day = min(moment.day, calendar.monthrange(year, month + 1)[1])
        return moment.replace(year=year, month=month + 1, day=day)
    step = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}.get(
        interval, dt.timedelta(weeks=1)
    )
    return moment + step * n


def _parse_moment(text: str, field: str) -> tuple[dt.datetime, bool]:
    """An ISO date or datetime as aware UTC, and whether it was a bare date."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime(day.year, day.month, day.day, tzinfo=UTC), True
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInsight(field, "expected an ISO date (2026-11-01) or datetime") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), False


def resolve_range(
    value: DateRange | str, *, now: dt.datetime, field: str = "date_range"
) -> TimeWindow:
    """Resolve a relative or absolute range against ``now`` (see the module docstring)."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if isinstance(value, str):
        value, relative_field = DateRange(last=value), field
    else:
        relative_field = f"{field}.last"
    if value.last is not None:
        if value.from_ is not None or value.to is not None:
            raise InvalidInsight(field, "give either last or from/to, not both")
        match = _RELATIVE.match(value.last)
        if match is None:
            raise InvalidInsight(relative_field, "expected like 7d, -30d, 24h, 4w or 3m")
        count, unit = int(match[1]), _UNITS[match[2]]
        end = shift(floor_to(now, unit), unit, 1)
        window = TimeWindow(shift(end, unit, -count), end, unit, count)
    else:
        if value.from_ is None:
            raise InvalidInsight(field, "give last (like 7d) or from")
        start, _ = _parse_moment(value.from_, f"{field}.from")
        if value.to is None:
            end = floor_to(now, "day") + dt.timedelta(days=1)
        else:
            end, is_date = _parse_moment(value.to, f"{field}.to")
            end += dt.timedelta(days=1) if is_date else dt.timedelta(0)
        if end <= start:
            raise InvalidInsight(f"{field}.to", "must be after from")
        window = TimeWindow(start, end)
    if window.end - window.start > MAX_RANGE:
        raise InvalidInsight(field, "ranges are limited to 3 years")
    return window


def bucket_starts(window: TimeWindow, interval: Interval) -> list[dt.datetime]:
    """Every bucket start overlapping ``window``, so series can be zero-filled."""
    buckets: list[dt.datetime] = []
    bucket = floor_to(window.start, interval)
    while bucket < window.end:
        buckets.append(bucket)
        if len(buckets) > MAX_BUCKETS:
            raise InvalidInsight("interval", f"more than {MAX_BUCKETS} buckets: use a coarser one")
        bucket = shift(bucket, interval, 1)
    return buckets


def bucket_label(bucket: dt.datetime, interval: Interval) -> str:
    """Chart axis label: ISO date, or ISO datetime in UTC for hours."""
    if interval == "hour":
        return bucket.strftime("%Y-%m-%dT%H:%M:%SZ")
    return bucket.date().isoformat()


def parse_bucket(value: Any) -> dt.datetime:
    """A bucket as an engine returns it (datetime, date or ISO text) to aware UTC."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.replace(" UTC", "+00:00"))
    elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# -- SQL helpers --------------------------------------------------------------------------------


def ts_literal(moment: dt.datetime) -> exp.Expression:
    """A TIMESTAMPTZ literal with an explicit UTC offset (no session time zone involved)."""
    text = moment.astimezone(UTC).isoformat(sep=" ", timespec="milliseconds")
    return exp.cast(exp.Literal.string(text), exp.DataType.build("TIMESTAMPTZ", dialect="duckdb"))


def time_between(start: dt.datetime, end: dt.datetime) -> exp.Expression:
    """``timestamp >= start AND timestamp < end``: the predicate partition pruning reads."""
    column = exp.column("timestamp")
    return exp.and_(
        exp.GTE(this=column, expression=ts_literal(start)),
        exp.LT(this=column.copy(), expression=ts_literal(end)),
    )


def bucket_expr(interval: Interval) -> exp.Expression:
    """The UTC bucket start of each event's timestamp."""
    return sqlglot.parse_one(_BUCKET_SQL[interval], read="duckdb")


def epoch_ms() -> exp.Expression:
    """Event time as integer ms since the epoch (portable: EPOCH / TO_UNIXTIME)."""
    return sqlglot.parse_one("CAST(EPOCH(timestamp) * 1000 AS BIGINT)", read="duckdb")


def fill(template: str, **parts: exp.Expression) -> exp.Expression:
    """Parse static SQL and replace each ``$name`` placeholder with a copy of a tree."""

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in parts:
            part = parts[node.name].copy()
            # the tree prints as is: keep an `a OR b` substituted into `$x AND c` grouped
            return exp.paren(part, copy=False) if isinstance(part, _OPERATORS) else part
        return node

    return sqlglot.parse_one(template, read="duckdb").transform(substitute, copy=False)


def render(query: exp.Expression) -> str:
    """The duckdb-dialect text of a built query."""
    return query.sql(dialect="duckdb")


def to_trino(sql: str) -> str:
    """Transpile a builder's duckdb SQL to Trino, with the query layer's Trino rewrites
    (exact ``MEDIAN`` becomes ``APPROX_PERCENTILE``, DuckDB's ``HASH`` an xxhash64 bigint)."""
    tree = for_trino(sqlglot.parse_one(sql, read="duckdb"))
    return tree.sql(dialect="trino")


# -- request decoding ---------------------------------------------------------------------------

_AT = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_NAMED = re.compile(r"(?:unknown|missing required) field `([^`]*)`")


def decode(cls: type[T], data: bytes | str | Mapping[str, Any]) -> T:
    """Decode a request body (JSON or an already-parsed mapping) into ``cls``.

    msgspec's validation errors are translated here, in one place, into ``InvalidInsight``
    naming the field path (``series[0].math``).
    """
    try:
        if isinstance(data, bytes | str):
            return msgspec.json.decode(data, type=cls)
        return msgspec.convert(data, type=cls)
    except msgspec.ValidationError as exc:
        match = _AT.match(str(exc))
        assert match is not None  # the pattern matches any text
        path = (match["path"] or "").lstrip(".")
        named = _NAMED.search(match["reason"])
        if named:
            path = f"{path}.{named[1]}" if path else named[1]
        raise InvalidInsight(path or "$", match["reason"]) from None
    except msgspec.DecodeError:
        raise InvalidInsight("$", "the body is not valid JSON") from None
