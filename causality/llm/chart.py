"""Which chart to draw for a result: the model's suggestion when it fits, else one inferred.

The model suggests a chart before it has seen the result, so the suggestion is checked
against what came back: every named column must exist (matched case-insensitively), and the
shape must suit the type. ``number`` needs one row and a numeric ``y``; ``line`` a time or
ordered ``x`` with numeric ``y``; ``bar`` a label ``x`` with numeric ``y``; ``funnel`` step
labels with a numeric count that never grows from one step to the next; ``table`` always fits.
Otherwise the shape decides: one numeric value is a number, time plus numbers a line (split by
one categorical column when there is one), categories plus numbers a bar, anything else a
table. Line and bar charts also need one row per point (per series), so results such as
retention cohorts, with several rows per date, stay tables.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from typing import Any, Final

from causality.llm.summary import Kind, column_kind, is_number
from causality.llm.types import ChartSpec

MAX_BAR_CATEGORIES: Final = 50
MAX_FUNNEL_STEPS: Final = 20
_CATEGORICAL: Final = ("text", "bool")


class _Shape:
    """Columns by kind, refined by the values (ISO date text counts as time)."""

    def __init__(
        self, columns: Sequence[str], types: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        self.columns = list(columns)
        self.rows = rows
        self.by_name = {c.lower(): c for c in reversed(self.columns)}
        self.kinds: dict[str, Kind] = {}
        for index, name in enumerate(self.columns):
            kind = column_kind(types[index]) if index < len(types) else "other"
            values = [row[index] for row in rows if index < len(row) and row[index] is not None]
            self.kinds[name] = _refine(kind, values)

    def name(self, wanted: str | None) -> str | None:
        return None if wanted is None else self.by_name.get(wanted.lower())

    def of_kind(self, *kinds: str) -> list[str]:
        return [c for c in self.columns if self.kinds[c] in kinds]

    def values(self, column: str) -> list[Any]:
        index = self.columns.index(column)
        return [row[index] if index < len(row) else None for row in self.rows]

    def unique_points(self, x: str, series: str | None) -> bool:
        labels = self.values(series) if series else [None] * len(self.rows)
        keys = list(zip(self.values(x), labels, strict=True))
        return len({repr(k) for k in keys}) == len(keys)


def _refine(kind: Kind, values: list[Any]) -> Kind:
    if not values:
        return kind
    if kind in ("text", "other") and all(_looks_like_time(v) for v in values):
        return "time"
    if kind == "other" and all(map(is_number, values)):
        return "number"
    return kind


def _looks_like_time(value: Any) -> bool:
    if isinstance(value, dt.date | dt.datetime):
        return True
    if not isinstance(value, str) or len(value) < 7 or not value[:4].isdigit():
        return False
    try:
        dt.datetime.fromisoformat(value if len(value) > 7 else value + "-01")
    except ValueError:
        return False
    return True


def choose_chart(
    suggested: ChartSpec | None,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> ChartSpec:
    """The suggestion with real column names when it fits the result, else an inferred chart."""
    shape = _Shape(columns, types, rows)
    title = suggested.title if suggested is not None else ""
    if suggested is not None:
        checked = _check(suggested, shape)
        if checked is not None:
            return checked
    return _infer(shape, title)


def _check(spec: ChartSpec, shape: _Shape) -> ChartSpec | None:
    if spec.type == "table":
        return ChartSpec(type="table", title=spec.title)
    if not shape.rows:
        return None
    if spec.type == "number":  # a number has no axis: x and series mean nothing
        spec = ChartSpec(type="number", y=spec.y, title=spec.title)
    names = [shape.name(n) for n in (spec.x, spec.series, *spec.y) if n is not None]
    if None in names:
        return None  # a column the result does not have
    x, series = shape.name(spec.x), shape.name(spec.series)
    y = tuple(n for n in (shape.name(v) for v in spec.y) if n is not None)
    numeric = shape.of_kind("number")
    if not y:
        y = tuple(c for c in numeric if c not in (x, series))[: 1 if spec.type == "number" else 3]
    if not y or any(shape.kinds[c] != "number" for c in y) or x in y or series in y:
        return None
    checks = {"number": _fits_number, "line": _fits_line, "bar": _fits_bar, "funnel": _fits_funnel}
    if not checks[spec.type](shape, x, y, series):
        return None
    return ChartSpec(type=spec.type, x=x, y=y, series=series, title=spec.title)


def _fits_number(shape: _Shape, x: str | None, y: tuple[str, ...], series: str | None) -> bool:
    return len(shape.rows) == 1


def _fits_line(shape: _Shape, x: str | None, y: tuple[str, ...], series: str | None) -> bool:
    if x is None or shape.kinds[x] not in ("time", "number"):
        return False
    if series is not None and (series == x or len(y) != 1):
        return False
    return shape.unique_points(x, series)


def _fits_bar(shape: _Shape, x: str | None, y: tuple[str, ...], series: str | None) -> bool:
    if x is None or (series is not None and (series == x or len(y) != 1)):
        return False
    distinct = len({repr(v) for v in shape.values(x)})
    return distinct <= MAX_BAR_CATEGORIES and shape.unique_points(x, series)


def _fits_funnel(shape: _Shape, x: str | None, y: tuple[str, ...], series: str | None) -> bool:
    if x is None or series is not None or len(y) != 1:
        return False
    if (
        shape.kinds[x] not in (*_CATEGORICAL, "number")
        or not 2 <= len(shape.rows) <= MAX_FUNNEL_STEPS
    ):
        return False
    counts = shape.values(y[0])
    if not all(is_number(c) for c in counts):
        return False
    return all(a >= b for a, b in itertools.pairwise(counts))


def _infer(shape: _Shape, title: str) -> ChartSpec:
    table = ChartSpec(type="table", title=title)
    if not shape.rows or not shape.columns:
        return table
    numeric = shape.of_kind("number")
    times = shape.of_kind("time")
    labels = shape.of_kind(*_CATEGORICAL)
    if len(shape.rows) == 1 and len(shape.columns) == 1 and numeric:
        return ChartSpec(type="number", y=(numeric[0],), title=title)
    if not numeric:
        return table
    if times and len(shape.rows) > 1 and len(labels) <= 1:
        x = times[0]
        series = labels[0] if labels else None
        y = (numeric[0],) if series else tuple(numeric[:3])
        if len(times) == 1 and shape.unique_points(x, series):
            return ChartSpec(type="line", x=x, y=y, series=series, title=title)
        return table
    if labels and not times and len(labels) <= 2:
        x, series = labels[0], (labels[1] if len(labels) == 2 else None)
        y = (numeric[0],) if series else tuple(numeric[:3])
        if "step" in x.lower() and series is None and len(y) == 1:
            funnel = ChartSpec(type="funnel", x=x, y=y, title=title)
            if _fits_funnel(shape, x, y, None):
                return funnel
        if _fits_bar(shape, x, y, series):
            return ChartSpec(type="bar", x=x, y=y, series=series, title=title)
    return table
