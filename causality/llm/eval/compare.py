"""Is the model's result the gold result? Execution accuracy, judged fairly but simply.

The rule, in order:

1. Values are normalised first: ints, floats and decimals are numbers (``2 == 2.0``), equal
   within a relative tolerance of 1e-6 (and 1e-9 absolute, for values near zero); ``True`` is
   not the number 1; timestamps are compared in UTC, and a timestamp at midnight equals that
   date (``date_trunc('day', ts)`` and ``CAST(ts AS DATE)`` answer the same question); ISO
   date and time strings (how the engine hands out timestamps) count as dates and times;
   NULL equals only NULL; lists and structs compare element by element.
2. Column names never matter. The answer must have at least the gold result's columns: every
   gold column is matched to a distinct answer column (any order), and extra answer columns
   are ignored, so "the count and the percentage" passes where only the count was asked for.
3. Row counts must be equal. Rows are compared as multisets, or in order when the question
   asked for an order or a top N (``ordered``); ties are not forgiven there, which is why
   ordered gold SQL breaks them by name.

Column matching is a small search: only answer columns holding the same multiset of values
as a gold column are candidates for it, so the search is nearly always a single try.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

import msgspec
import re2

REL_TOL: Final = 1e-6
ABS_TOL: Final = 1e-9
MAX_MAPPINGS: Final = 5_000
"""Column assignments tried at most; beyond that the answer is judged wrong."""

# result values are event data: linear-time regexes only
_ISO: Final = re2.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_SIGNIFICANT: Final = 9
"""Digits of a number kept in sort keys, so values equal within tolerance sort together."""


class Comparison(msgspec.Struct, frozen=True):
    """The verdict on one answer: ``match``, and when it is False, why in words."""

    match: bool
    reason: str = ""


def normalize(value: Any) -> Any:
    """The comparable form of one result value (see the module's rule 1)."""
    if value is None or isinstance(value, bool | str | float):
        if isinstance(value, str) and _ISO.match(value):
            return _parse_iso(value)
        return value
    if isinstance(value, int | Decimal):
        return float(value)
    if isinstance(value, datetime):
        return _moment(value)
    if isinstance(value, date):
        return value
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return tuple(sorted((str(k), normalize(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(normalize(v) for v in value)
    return value


def values_equal(a: Any, b: Any) -> bool:
    """Two normalised values are equal: numbers within tolerance, the rest exactly."""
    if _is_number(a) and _is_number(b):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is not type(b):
        return False
    return bool(a == b)


def compare_results(
    expected: Sequence[Sequence[Any]],
    actual: Sequence[Sequence[Any]],
    *,
    ordered: bool,
) -> Comparison:
    """Compare the answer's rows with the gold rows under the module's rule."""
    gold = [tuple(normalize(v) for v in row) for row in expected]
    answer = [tuple(normalize(v) for v in row) for row in actual]
    if len(answer) != len(gold):
        return Comparison(False, f"{len(answer)} rows, expected {len(gold)}")
    if not gold:
        return Comparison(True)
    width, answer_width = len(gold[0]), len(answer[0])
    if answer_width < width:
        return Comparison(False, f"{answer_width} columns, expected at least {width}")
    gold_columns = _columns(gold, width)
    answer_columns = _columns(answer, answer_width)
    candidates: list[list[int]] = []
    for index, column in enumerate(gold_columns):
        fits = [j for j, other in enumerate(answer_columns) if _same_multiset(column, other)]
        if not fits:
            reason = f"no column of the answer holds the values of gold column {index + 1}"
            return Comparison(False, reason)
        # the same position first: the usual answer needs one try
        fits.sort(key=lambda j, index=index: j != index)
        candidates.append(fits)
    wrong_order = False
    for tried, mapping in enumerate(_mappings(candidates)):
        if tried >= MAX_MAPPINGS:
            return Comparison(False, "too many ways to match the columns to tell")
        projected = [tuple(row[j] for j in mapping) for row in answer]
        if _rows_equal(gold, projected, ordered=ordered):
            return Comparison(True)
        wrong_order = wrong_order or (ordered and _rows_equal(gold, projected, ordered=False))
    if wrong_order:
        return Comparison(False, "the right rows in the wrong order")
    return Comparison(False, "the columns hold the right values but the rows differ")


# -- helpers -----------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, float)


def _parse_iso(text: str) -> date | datetime | str:
    """An ISO date or timestamp string as a value; not a real date (2025-13-40): the text."""
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return _moment(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return text


def _moment(value: datetime) -> date | datetime:
    """A datetime in naive UTC, or its date when it is exactly midnight."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if value.time() == time(0):
        return value.date()
    return value


def _sort_key(value: Any) -> tuple[Any, ...]:
    """A total order over normalised values of mixed types (NULLs first)."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, float):
        if math.isnan(value):
            return (2, 1, 0.0)
        return (2, 0, float(f"{value:.{_SIGNIFICANT}g}"))
    if isinstance(value, datetime):
        return (3, value)
    if isinstance(value, date):
        return (3, datetime.combine(value, time(0)))
    if isinstance(value, str):
        return (4, value)
    if isinstance(value, tuple):
        return (5, tuple(_sort_key(v) for v in value))
    return (6, repr(value))


def _row_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(_sort_key(v) for v in row)


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[row[i] if i < len(row) else None for row in rows] for i in range(width)]


def _same_multiset(a: list[Any], b: list[Any]) -> bool:
    left, right = sorted(a, key=_sort_key), sorted(b, key=_sort_key)
    return all(values_equal(x, y) for x, y in zip(left, right, strict=True))


def _rows_equal(
    gold: list[tuple[Any, ...]], answer: list[tuple[Any, ...]], *, ordered: bool
) -> bool:
    if not ordered:
        gold, answer = sorted(gold, key=_row_key), sorted(answer, key=_row_key)
    return all(values_equal(g, a) for g, a in zip(gold, answer, strict=True))


def _mappings(candidates: list[list[int]]) -> Iterator[tuple[int, ...]]:
    """Injective choices of one candidate per gold column, depth first."""
    chosen: list[int] = []
    used: set[int] = set()

    def walk(depth: int) -> Iterator[tuple[int, ...]]:
        if depth == len(candidates):
            yield tuple(chosen)
            return
        for j in candidates[depth]:
            if j in used:
                continue
            chosen.append(j)
            used.add(j)
            yield from walk(depth + 1)
            chosen.pop()
            used.discard(j)

    return walk(0)
