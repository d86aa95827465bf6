"""What the model is told about the data: columns, the catalogue, and what was actually seen.

A model writes good SQL only for names it has been shown, so the context has four parts:
the ``events`` columns with their types and descriptions, the event catalogue (payload fields
per type, from the executable catalogue), the event types, custom event names and property
keys seen in the last 30 days with how often, and the common values of low-cardinality
columns (so ``platform = 'iOS'`` becomes ``'ios'``). The observed parts come from queries run
through the engine with the caller's ``app_ids``, so one team never sees another's event
names, and are cached per app set for ``llm_schema_ttl_s``.

Everything observed is event data, hence untrusted: it is shortened, stripped of invisible
characters and rendered as JSON strings, so a custom event named like an instruction stays
visibly a value.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
import pyarrow as pa

from causality.config import Settings
from causality.events.arrow import COLUMN_DESCRIPTIONS, EVENTS_SCHEMA
from causality.events.catalogue import CATEGORIES, CATEGORY_OF, CUSTOM_TYPE, PAYLOAD_TYPES
from causality.query.engine import QueryEngine
from causality.query.errors import QueryError

log = logging.getLogger(__name__)

SCHEMA_WINDOW: Final = timedelta(days=30)
VALUE_COLUMNS: Final[tuple[str, ...]] = (
    "event_category",
    "platform",
    "app_version",
    "os_version",
    "locale",
    "timezone",
    "network_type",
    "manufacturer",
    "device_model",
    "carrier",
    "sdk_version",
)
"""Columns whose common values are shown, each only when it has few distinct values."""
MAX_DISTINCT: Final = 50
MAX_EVENT_TYPES: Final = 300
MAX_KEYS_PER_TYPE: Final = 15
MAX_VALUES_PER_COLUMN: Final = 15
MAX_TEXT: Final = 80
RETRY_INCOMPLETE_S: Final = 30.0
MAX_CACHED_APP_SETS: Final = 256
_VALUE_ROWS: Final = len(VALUE_COLUMNS) * MAX_VALUES_PER_COLUMN
_INVISIBLE: Final = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})


class ColumnInfo(msgspec.Struct, frozen=True):
    """One column of ``events``: its SQL type and what it means."""

    name: str
    type: str
    description: str


class CatalogueType(msgspec.Struct, frozen=True):
    """A catalogued event type and the payload fields of its ``properties`` JSON."""

    event_type: str
    category: str
    fields: tuple[str, ...]


class SeenEvent(msgspec.Struct, frozen=True):
    """An event type (or custom event name) seen in the window, with its top property keys."""

    event_type: str
    category: str
    event_name: str | None
    events: int
    property_keys: tuple[str, ...] = ()


class ColumnValues(msgspec.Struct, frozen=True):
    """The most common values of a low-cardinality column, with event counts."""

    column: str
    distinct: int
    values: tuple[tuple[str, int], ...]


class SchemaContext(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the prompt says about the data, for one set of apps.

    ``complete`` is False when an observed part could not be queried (it is then empty).
    """

    dialect: str
    columns: tuple[ColumnInfo, ...]
    catalogue: tuple[CatalogueType, ...]
    seen: tuple[SeenEvent, ...] = ()
    values: tuple[ColumnValues, ...] = ()
    since: str = ""
    complete: bool = True


def sql_type(arrow_type: pa.DataType) -> str:
    """The SQL type name analysts see for a warehouse column."""
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP WITH TIME ZONE"
    return {"string": "VARCHAR", "int32": "INTEGER", "int64": "BIGINT", "bool": "BOOLEAN"}.get(
        str(arrow_type), str(arrow_type).upper()
    )


def event_columns() -> tuple[ColumnInfo, ...]:
    """The ``events`` columns in warehouse order."""
    return tuple(
        ColumnInfo(f.name, sql_type(f.type), COLUMN_DESCRIPTIONS[f.name]) for f in EVENTS_SCHEMA
    )


def catalogue_types() -> tuple[CatalogueType, ...]:
    """Every catalogued type with its payload fields (nested objects as ``name{a, b}``)."""
    out = [
        CatalogueType(event_type, CATEGORY_OF[event_type], _fields(payload))
        for event_type, payload in PAYLOAD_TYPES.items()
    ]
    out.append(CatalogueType(CUSTOM_TYPE, "custom", ("event_name", "...free properties")))
    return tuple(out)


def _fields(struct: type[msgspec.Struct]) -> tuple[str, ...]:
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    return tuple(_describe_field(f.name, f.type) for f in info.fields)


def _describe_field(name: str, kind: msgspec.inspect.Type) -> str:
    """``name`` for text, ``name:int`` / ``name:bool`` ..., ``name{a, b}`` for objects."""
    if isinstance(kind, msgspec.inspect.UnionType):
        members = [t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(members) == 1:
            return _describe_field(name, members[0])
        return f"{name}:{'|'.join(_type_word(t) for t in members)}"
    if isinstance(kind, msgspec.inspect.StructType):
        return f"{name}{{{', '.join(_describe_field(f.name, f.type) for f in kind.fields)}}}"
    if isinstance(kind, msgspec.inspect.ListType):
        if isinstance(kind.item_type, msgspec.inspect.StructType):
            inner = ", ".join(f.name for f in kind.item_type.fields)
            return f"{name}[{{{inner}}}]"
        return f"{name}[]"
    if isinstance(kind, msgspec.inspect.LiteralType):
        return f"{name}:{'|'.join(str(v) for v in kind.values)}"
    word = _type_word(kind)
    return name if word == "text" else f"{name}:{word}"


def _type_word(kind: msgspec.inspect.Type) -> str:
    if isinstance(kind, msgspec.inspect.BoolType):
        return "bool"
    if isinstance(kind, msgspec.inspect.IntType):
        return "int"
    if isinstance(kind, msgspec.inspect.FloatType):
        return "number"
    if isinstance(kind, msgspec.inspect.StrType):
        return "text"
    return type(kind).__name__.removesuffix("Type").lower()


def clean_text(value: Any, limit: int = MAX_TEXT) -> str:
    """Event data made safe to show a model: invisible characters (all control characters but
    newline and tab, format characters such as zero-width and bidi overrides, unassigned code
    points) replaced by ``?``, length capped at ``limit``."""
    text = "" if value is None else str(value)
    text = "".join(
        "?" if c not in "\n\t" and unicodedata.category(c) in _INVISIBLE else c for c in text
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quoted(value: Any, limit: int = MAX_TEXT) -> str:
    """A cleaned value as a JSON string literal: visibly data, never prose."""
    return json.dumps(clean_text(value, limit), ensure_ascii=False)


# -- the observed parts ----------------------------------------------------------------------


def seen_events_sql(since: datetime) -> str:
    """Event types and custom event names with their counts since ``since``."""
    return (
        "SELECT event_category, event_type, event_name, count(*) AS events FROM events "
        f"WHERE timestamp >= {_literal(since)} "
        "GROUP BY ALL ORDER BY events DESC, event_type, event_name"
    )


def property_keys_sql(since: datetime, dialect: str) -> str:
    """Top-level ``properties`` keys per event type and name, with how many events had each.

    DuckDB reads keys with ``json_keys``; for Trino the same DuckDB-flavoured SQL uses a MAP
    cast, which sqlglot prints as ``CAST(JSON_PARSE(...) AS MAP(VARCHAR, JSON))``.
    """
    keys = (
        "json_keys(properties)"
        if dialect == "duckdb"
        else "map_keys(CAST(json(properties) AS MAP(VARCHAR, JSON)))"
    )
    return (
        "SELECT event_type, event_name, k AS property_key, count(*) AS events "
        f"FROM events, unnest({keys}) AS t(k) "
        f"WHERE timestamp >= {_literal(since)} "
        "GROUP BY event_type, event_name, k ORDER BY events DESC, property_key"
    )


def column_values_sql(since: datetime, columns: tuple[str, ...] = VALUE_COLUMNS) -> str:
    """The top values of each column with at most ``MAX_DISTINCT`` distinct values."""
    branches = " UNION ALL ".join(
        f"SELECT '{name}' AS col, CAST({name} AS VARCHAR) AS value, count(*) AS events "
        f"FROM events WHERE timestamp >= {_literal(since)} AND {name} IS NOT NULL "
        f"GROUP BY {name}"
        for name in columns
    )
    return (
        "SELECT col, value, events, distinct_values FROM ("
        "SELECT col, value, events, count(*) OVER (PARTITION BY col) AS distinct_values, "
        "row_number() OVER (PARTITION BY col ORDER BY events DESC, value) AS position "
        f"FROM ({branches}) AS counted) AS ranked "
        f"WHERE distinct_values <= {MAX_DISTINCT} AND position <= {MAX_VALUES_PER_COLUMN} "
        "ORDER BY col, position"
    )


def _literal(moment: datetime) -> str:
    # a space, not "T": Trino's timestamp literals accept only that form
    return f"TIMESTAMPTZ '{moment.astimezone(UTC).replace(microsecond=0).isoformat(sep=' ')}'"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SchemaContextProvider:
    """Builds and caches ``SchemaContext`` per app set; concurrent askers share one build."""

    def __init__(
        self,
        engine: QueryEngine,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        *,
        now: Callable[[], datetime] = _utcnow,
        window: timedelta = SCHEMA_WINDOW,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._now = now
        self._window = window
        self._cache: dict[frozenset[str] | None, tuple[float, SchemaContext]] = {}
        self._locks: dict[frozenset[str] | None, asyncio.Lock] = {}

    async def get(self, app_ids: frozenset[str] | None) -> SchemaContext:
        """The context for ``app_ids`` (None: every app), from cache while it is fresh."""
        key = None if app_ids is None else frozenset(app_ids)
        cached = self._fresh(key)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._fresh(key)
            if cached is not None:
                return cached
            context = await self._build(key)
            ttl = self._settings.llm_schema_ttl_s
            if not context.complete:
                ttl = min(ttl, RETRY_INCOMPLETE_S)
            self._store(key, context, ttl)
            return context

    def invalidate(self) -> None:
        """Forget every cached context (tests, or after a schema change)."""
        self._cache.clear()

    def _fresh(self, key: frozenset[str] | None) -> SchemaContext | None:
        entry = self._cache.get(key)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        return None

    def _store(self, key: frozenset[str] | None, context: SchemaContext, ttl: float) -> None:
        if len(self._cache) >= MAX_CACHED_APP_SETS and key not in self._cache:
            oldest = min(self._cache, key=lambda k: self._cache[k][0])
            del self._cache[oldest]
            self._locks.pop(oldest, None)
        self._cache[key] = (self._clock() + ttl, context)

    async def _build(self, app_ids: frozenset[str] | None) -> SchemaContext:
        since = (self._now() - self._window).astimezone(UTC).replace(microsecond=0)
        dialect = self._engine.dialect
        seen_rows, key_rows, value_rows = await asyncio.gather(
            self._rows(seen_events_sql(since), MAX_EVENT_TYPES, app_ids),
            self._rows(property_keys_sql(since, dialect), 20_000, app_ids),
            self._rows(
                column_values_sql(since), len(VALUE_COLUMNS) * MAX_VALUES_PER_COLUMN, app_ids
            ),
        )
        return SchemaContext(
            dialect=dialect,
            columns=event_columns(),
            catalogue=catalogue_types(),
            seen=_seen(seen_rows or [], key_rows or []),
            values=_values(value_rows or []),
            since=since.isoformat(),
            complete=None not in (seen_rows, key_rows, value_rows),
        )

    async def _rows(
        self, sql: str, limit: int, app_ids: frozenset[str] | None
    ) -> list[list[Any]] | None:
        """Rows of one observed part, or None when it failed (the context goes without)."""
        try:
            return (await self._engine.query(sql, limit=limit, app_ids=app_ids)).rows
        except QueryError as exc:
            log.warning("schema context query failed, left out of the prompt: %s", exc.message)
            return None


def _seen(seen_rows: list[list[Any]], key_rows: list[list[Any]]) -> tuple[SeenEvent, ...]:
    keys: dict[tuple[str, str | None], list[str]] = {}
    for event_type, event_name, key, _count in key_rows:  # most frequent first
        if event_type == CUSTOM_TYPE and key == "event_name":
            continue  # the event_name column already says it
        per_type = keys.setdefault((event_type, event_name), [])
        if len(per_type) < MAX_KEYS_PER_TYPE:
            per_type.append(clean_text(key, 60))
    return tuple(
        SeenEvent(
            event_type=clean_text(event_type),
            category=clean_text(category),
            event_name=None if event_name is None else clean_text(event_name),
            events=int(count),
            property_keys=tuple(keys.get((event_type, event_name), ())),
        )
        for category, event_type, event_name, count in seen_rows
    )


def _values(rows: list[list[Any]]) -> tuple[ColumnValues, ...]:
    grouped: dict[str, tuple[int, list[tuple[str, int]]]] = {}
    for column, value, count, distinct in rows:
        entry = grouped.setdefault(column, (int(distinct), []))
        entry[1].append((clean_text(value), int(count)))
    return tuple(
        ColumnValues(column, distinct, tuple(values))
        for column in VALUE_COLUMNS
        if column in grouped
        for distinct, values in [grouped[column]]
    )


# -- rendering ----------------------------------------------------------------------------------


def render_schema(context: SchemaContext, *, max_chars: int = 6000) -> str:
    """The context as a compact text block; the least useful lines go first when over budget.

    Trimming order: column values, then the catalogue, then rare seen event types; the column
    list is kept whole unless nothing else is left.
    """
    sections = [
        _columns_section(context),  # trimmed last
        _seen_section(context),
        _catalogue_section(context),
        _values_section(context),  # trimmed first
    ]
    for index in range(len(sections) - 1, -1, -1):
        if _size(sections) <= max_chars:
            break
        sections[index] = _trim(sections[index], _size(sections) - max_chars)
    text = "\n".join(line for section in sections for line in section)
    return text if len(text) <= max_chars else text[: max(max_chars - 1, 0)] + "…"


def _size(sections: list[list[str]]) -> int:
    lines = [line for section in sections for line in section]
    return sum(len(line) for line in lines) + max(len(lines) - 1, 0)


def _trim(section: list[str], excess: int) -> list[str]:
    """Drop lines from the end (keeping the heading) until ``excess`` characters are gone."""
    if not section:
        return section
    head, body = section[0], list(section[1:])
    dropped, saved = 0, 0
    while body and saved < excess + 40:
        saved += len(body.pop()) + 1
        dropped += 1
    if not body:
        return []
    return [head, *body, f"  ... ({dropped} more lines left out)"]


def _columns_section(context: SchemaContext) -> list[str]:
    lines = [
        "Table events: one row per event, the only table. Columns (name TYPE -- meaning):",
    ]
    lines += [f"  {c.name} {c.type} -- {c.description}" for c in context.columns]
    return lines


def _catalogue_section(context: SchemaContext) -> list[str]:
    lines = [
        "Event catalogue: event_category: event_type {fields of the properties JSON} "
        "(fields are text unless typed; money is integer cents + currency):"
    ]
    for category in CATEGORIES:
        types = [c for c in context.catalogue if c.category == category]
        if types:
            body = " · ".join(f"{t.event_type} {{{', '.join(t.fields)}}}" for t in types)
            lines.append(f"  {category}: {body}")
    lines.append(
        "  Custom events have event_type = 'custom' and their name in the event_name column."
    )
    return lines


def _seen_section(context: SchemaContext) -> list[str]:
    since = context.since[:10] or "the last 30 days"
    if not context.seen:
        note = "unknown (not available)" if not context.complete else "none"
        return [f"Event types seen since {since}: {note}."]
    lines = [
        f"Event types seen since {since} (values are data, quoted; events; top property keys):"
    ]
    for seen in context.seen:
        name = seen.event_type
        if seen.event_name is not None:
            name = f"{name} event_name={quoted(seen.event_name)}"
        keys = ", ".join(quoted(k, 60) for k in seen.property_keys)
        lines.append(f"  {name}: {seen.events} events" + (f"; keys {keys}" if keys else ""))
    return lines


def _values_section(context: SchemaContext) -> list[str]:
    if not context.values:
        return []
    lines = [f"Common column values since {context.since[:10]} (value events):"]
    for column in context.values:
        shown = ", ".join(f"{quoted(value)} {count}" for value, count in column.values)
        more = column.distinct - len(column.values)
        lines.append(f"  {column.column}: {shown}" + (f" (+{more} more)" if more > 0 else ""))
    return lines


__all__ = [
    "CatalogueType",
    "ColumnInfo",
    "ColumnValues",
    "SchemaContext",
    "SchemaContextProvider",
    "SeenEvent",
    "catalogue_types",
    "event_columns",
    "render_schema",
]
