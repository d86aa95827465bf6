"""The checks on a model's SQL before anything runs: safe, and about tables and columns that exist.

The safety layer (``causality.query.safety.check_select``) is the wall: one read-only SELECT,
allowed functions only, no files, no DDL/DML/PRAGMA/ATTACH/COPY/INSTALL. On top of it this
module catches what models get wrong most often and the engine would only report after a
round trip, in words a model can act on: a table other than ``events``, a column that does
not exist ("no column 'country'; the closest is 'locale'"), a payload field used as a column
("total_cents is inside properties: properties->>'$.total_cents'").

Columns are resolved with sqlglot's ``qualify`` against ``{"events": <columns>}``: CTE and
subquery outputs, select aliases (DuckDB lets WHERE and GROUP BY use them), lambda
parameters and ``unnest(...) AS t(x)`` columns all resolve. What sqlglot cannot model is let
through rather than refused: the engine still runs only safe SQL and reports its own errors.
"""

from __future__ import annotations

import difflib
import re
from typing import Final, Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.qualify import qualify

from causality.events.arrow import EVENTS_SCHEMA
from causality.events.catalogue import PAYLOAD_TYPES
from causality.llm.schema_context import sql_type
from causality.query.errors import UnsafeQuery
from causality.query.references import catalog_tables, name_of
from causality.query.safety import check_select

Dialect = Literal["duckdb", "trino"]

EVENT_COLUMNS: Final[dict[str, str]] = {f.name: sql_type(f.type) for f in EVENTS_SCHEMA}
_PAYLOAD_FIELDS: Final[frozenset[str]] = frozenset(
    name for payload in PAYLOAD_TYPES.values() for name in payload.__struct_fields__
) - frozenset(EVENT_COLUMNS)
_UNRESOLVED = re.compile(
    r"Column '(?P<a>[^']+)' could not be resolved(?: for table: '(?P<table>[^']+)')?"
    r"|Unknown column: (?P<b>\S+)"
)


class InvalidSql(ValueError):
    """The model's SQL was refused before running; ``reason`` goes back to the model."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def validate_sql(sql: str, *, dialect: Dialect = "duckdb") -> str:
    """Check ``sql`` and return the text to hand to ``QueryEngine.query``; raises InvalidSql.

    The engines take DuckDB-flavoured SQL (Trino's engine transpiles it), so SQL a model
    wrote for Trino comes back printed as DuckDB; DuckDB SQL comes back as written, trimmed.
    """
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidSql("the SQL is empty")
    text = sql.strip().rstrip(";").strip()
    if dialect == "trino":
        text = _from_trino(text)
    elif dialect != "duckdb":
        raise ValueError(f"unknown dialect {dialect!r}")
    try:
        tree = check_select(text)
    except UnsafeQuery as exc:
        if exc.message.startswith("unknown table"):
            raise InvalidSql(_unknown_table(exc.message)) from None
        raise InvalidSql(exc.message) from None
    _check_tables(tree)
    _check_properties_access(tree)
    _check_columns(tree)
    return text


def _from_trino(text: str) -> str:
    try:
        statements = [s for s in sqlglot.parse(text, read="trino") if s is not None]
    except SqlglotError as exc:
        raise InvalidSql(f"could not parse the query: {_first_line(str(exc))}") from None
    if len(statements) != 1:
        raise InvalidSql(f"expected exactly one statement, found {len(statements)}")
    return statements[0].sql(dialect="duckdb")


def _check_tables(tree: exp.Query) -> None:
    for table in catalog_tables(tree):
        if name_of(table) != "events":
            raise InvalidSql(_unknown_table(f"unknown table {table.name!r}"))


def _unknown_table(message: str) -> str:
    """Safety's wording names every table it allows; the model is shown only ``events``."""
    head = message.split(":", 1)[0]
    return f"{head}: the only table is `events` (its columns are listed in the schema)"


def _check_properties_access(tree: exp.Query) -> None:
    """``properties.total_cents`` reads as a struct field, but properties is JSON text."""
    for column in tree.find_all(exp.Column):
        if column.table.lower() == "properties" and not _is_source(tree, "properties"):
            raise InvalidSql(
                f"properties is JSON text, not a table or struct: read the field with "
                f"properties->>'$.{column.name}' (cast it for numbers)"
            )


def _is_source(tree: exp.Query, alias: str) -> bool:
    names = {t.alias_or_name.lower() for t in tree.find_all(exp.Table)}
    names |= {s.alias.lower() for s in tree.find_all(exp.Subquery) if s.alias}
    names |= {c.alias.lower() for c in tree.find_all(exp.CTE) if c.alias}
    return alias in names


def _check_columns(tree: exp.Query) -> None:
    try:
        qualify(
            tree.copy(),
            schema={"events": EVENT_COLUMNS},
            dialect="duckdb",
            validate_qualify_columns=True,
            quote_identifiers=False,
            identify=False,
        )
    except OptimizeError as exc:
        match = _UNRESOLVED.search(str(exc))
        if match is None or _has_unnamed_table_function(tree):
            return  # something sqlglot cannot resolve; the engine will judge
        name = match.group("a") or match.group("b") or ""
        raise InvalidSql(_unknown_column_reason(tree, name, match.group("table"))) from None
    except (SqlglotError, RecursionError, KeyError, ValueError, TypeError, AttributeError):
        return  # a gap in sqlglot's model of the query, not a finding about it


def _has_unnamed_table_function(tree: exp.Query) -> bool:
    """``FROM unnest(x)`` without ``AS t(col)``: its column names are the engine's choice."""
    for node in tree.find_all(exp.Unnest, exp.UDTF):
        if isinstance(node.parent, exp.From | exp.Join) or isinstance(node.parent, exp.Lateral):
            alias = node.args.get("alias")
            if alias is None or not alias.columns:
                return True
    return False


def _unknown_column_reason(tree: exp.Query, name: str, table: str | None) -> str:
    lowered = name.lower()
    if lowered in EVENT_COLUMNS or lowered in _outputs(tree):
        where = f" of {table!r}" if table else ""
        return (
            f"column {name!r}{where} is ambiguous or not available at that point of the query: "
            f"qualify it with its table alias (for example e.{name}) or select it in the "
            "subquery or CTE you read it from"
        )
    if lowered in _PAYLOAD_FIELDS:
        return (
            f"there is no column {name!r}: it is a field of the properties JSON; read it with "
            f"properties->>'$.{name}' (CAST(... AS BIGINT) or DOUBLE for numbers)"
        )
    candidates = sorted(set(EVENT_COLUMNS) | _outputs(tree))
    close = difflib.get_close_matches(lowered, candidates, n=1, cutoff=0.6)
    hint = f"; the closest is {close[0]!r}" if close else ""
    if lowered == "country" and not close:
        hint = "; the country is the region part of locale: upper(split_part(locale, '-', 2))"
    return f"there is no column {name!r}{hint}. The events columns are: {', '.join(EVENT_COLUMNS)}"


def _outputs(tree: exp.Query) -> set[str]:
    """Names the query itself defines: select aliases and ``AS t(a, b)`` column lists."""
    names = {a.alias.lower() for a in tree.find_all(exp.Alias) if a.alias}
    for alias in tree.find_all(exp.TableAlias):
        names.update(c.name.lower() for c in alias.columns)
    return names


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "syntax error"
