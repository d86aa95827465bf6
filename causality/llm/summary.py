"""A compact, bounded summary of a query result: what the model sees when it explains one.

Results can be large and their values are untrusted event data, so the model never sees the
raw rows beyond a cap: it gets the row count, the columns with their types, the first
``max_rows`` rows with long values shortened, and statistics computed here over every row
(min/max/sum/avg for numbers, the range of a time column, distinct counts for text). The
encoded summary stays under ``max_chars``: rows go first, then value lengths, then columns.

``column_kind`` classifies DuckDB (Arrow) and Trino type names alike; the chart chooser uses
it too.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
from collections.abc import Sequence
from typing import Any, Final, Literal

from causality.llm.schema_context import clean_text

Kind = Literal["number", "time", "text", "bool", "other"]

_NUMBER = re.compile(
    r"^(u?int\d*|tinyint|smallint|integer|int|bigint|hugeint|u?bigint|float\d*|double|real|"
    r"halffloat|decimal.*|numeric.*)$"
)
_TIME = re.compile(r"^(timestamp.*|date.*|time.*|datetime.*)$")
_TEXT = re.compile(r"^(string|large_string|utf8|large_utf8|varchar.*|char.*|text|uuid)$")
_BOOL = re.compile(r"^(bool|boolean)$")
TEXT_LIMITS: Final = (80, 40, 16)


def column_kind(type_name: str) -> Kind:
    """``number``, ``time``, ``text``, ``bool`` or ``other`` for an engine's type name."""
    name = type_name.strip().lower()
    if _BOOL.match(name):
        return "bool"
    if _NUMBER.match(name):
        return "number"
    if _TIME.match(name):
        return "time"
    if _TEXT.match(name):
        return "text"
    return "other"


def is_number(value: Any) -> bool:
    """A real number (bools are ints in Python, but not numbers here)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | decimal.Decimal):
        return True
    return isinstance(value, float) and math.isfinite(value)


def summarize_result(
    columns: Sequence[str],
    types: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    max_rows: int,
    max_chars: int = 4000,
    truncated: bool = False,
) -> dict[str, Any]:
    """The summary as a JSON-ready dict whose JSON text is at most ``max_chars`` long.

    ``truncated`` says the engine stopped at its row cap (the statistics then cover only the
    rows it returned, which the summary says).
    """
    kinds = [column_kind(t) for t in types] + ["other"] * (len(columns) - len(types))
    stats = {
        name: stat
        for index, (name, kind) in enumerate(zip(columns, kinds, strict=False))
        if (stat := _stats(kind, [row[index] for row in rows if index < len(row)]))
    }
    shown_columns = len(columns)
    shown_rows = max(0, min(max_rows, len(rows)))
    level = 0
    while True:
        summary = _assemble(
            columns, types, kinds, rows, stats, shown_columns, shown_rows, level, truncated
        )
        if len(summary_json(summary)) <= max_chars:
            return summary
        if shown_rows > 0:
            shown_rows //= 2
        elif level < len(TEXT_LIMITS) - 1:
            level += 1
        elif shown_columns > 1:
            shown_columns = max(1, shown_columns // 2)
        else:
            return {"row_count": len(rows), "truncated": truncated, "note": "summary too large"}


def _assemble(
    columns: Sequence[str],
    types: Sequence[str],
    kinds: list[Kind],
    rows: Sequence[Sequence[Any]],
    stats: dict[str, dict[str, Any]],
    shown_columns: int,
    shown_rows: int,
    level: int,
    truncated: bool,
) -> dict[str, Any]:
    limit = TEXT_LIMITS[level]
    names = list(columns[:shown_columns])
    summary: dict[str, Any] = {
        "row_count": len(rows),
        "truncated": truncated,
        "columns": [
            {
                "name": clean_text(name, limit),
                "type": types[i] if i < len(types) else "",
                "kind": kinds[i],
            }
            for i, name in enumerate(names)
        ],
        "rows_shown": shown_rows,
        "rows": [[_short(v, limit) for v in row[:shown_columns]] for row in rows[:shown_rows]],
        "stats": {clean_text(n, limit): _short_stat(stats[n], limit) for n in names if n in stats},
    }
    if shown_columns < len(columns):
        summary["columns_omitted"] = len(columns) - shown_columns
    if truncated:
        summary["note"] = "the query returned more rows than were kept; stats cover kept rows"
    return summary


def _stats(kind: Kind, values: list[Any]) -> dict[str, Any] | None:
    present = [v for v in values if v is not None]
    nulls = len(values) - len(present)
    if kind == "number" or (kind == "other" and present and all(map(is_number, present))):
        numbers = [float(v) for v in present if is_number(v)]
        if not numbers:
            return {"nulls": nulls} if nulls else None
        total = math.fsum(numbers)
        return {
            "min": _round(min(numbers)),
            "max": _round(max(numbers)),
            "sum": _round(total),
            "avg": _round(total / len(numbers)),
            "nulls": nulls,
        }
    if kind == "time" and present:
        texts = sorted(_iso(v) for v in present)
        return {"min": texts[0], "max": texts[-1], "nulls": nulls}
    if kind in ("text", "bool") and present:
        distinct = len({v if isinstance(v, str | bool) else repr(v) for v in present})
        return {"distinct": distinct, "nulls": nulls}
    return None


def _short_stat(stat: dict[str, Any], limit: int) -> dict[str, Any]:
    return {k: _short(v, limit) for k, v in stat.items()}


def _round(x: float) -> int | float:
    if x.is_integer() and abs(x) < 2**53:
        return int(x)
    return float(f"{x:.6g}")


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _short(value: Any, limit: int) -> Any:
    """A JSON-safe, shortened value (event text is cleaned of invisible characters)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return _round(value) if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return _round(float(value)) if value.is_finite() else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        return _iso(value)
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if isinstance(value, str):
        return clean_text(value, limit)
    return clean_text(json.dumps(value, default=str, ensure_ascii=False), limit)


def summary_json(summary: dict[str, Any]) -> str:
    """The compact JSON text the size cap is measured on (and the prompt shows)."""
    return json.dumps(summary, ensure_ascii=False, separators=(",", ":"))
