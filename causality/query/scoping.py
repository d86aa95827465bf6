"""Resolve the analyst's tables to what this principal may see, inside the query plan.

Every reference to ``events`` becomes a subquery over the internal raw relation (the Hive
files, partition columns included) that selects exactly the EVENTS.md columns and, when the
principal is limited to some apps, keeps only their rows:

    FROM events AS e   ->   FROM (SELECT "id", ..., "properties" FROM <raw>
                                  WHERE app_id IN ('a', 'b')) AS e

The filter sits below anything the author wrote, so ``OR true``, a UNION, a correlated
subquery or a second reference to ``events`` cannot get around it: each reference gets its
own filtered subquery. Because the subquery exposes only the documented columns, an alias
such as ``day`` never collides with the ``day`` partition column, and the raw relation's name
is one the author cannot write (safety refuses qualified names). ``event_columns`` becomes a
VALUES list describing the columns, so it needs no catalog access in either engine.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
from sqlglot import exp

from causality.events.arrow import COLUMN_DESCRIPTIONS, EVENTS_SCHEMA
from causality.query.errors import UnsafeQuery
from causality.query.references import catalog_tables, name_of

EVENT_COLUMNS: Final[tuple[str, ...]] = tuple(EVENTS_SCHEMA.names)


def scope_tables(
    tree: exp.Query, *, raw_table: exp.Table, app_ids: frozenset[str] | None
) -> exp.Query:
    """Replace ``events`` and ``event_columns`` references in place; returns ``tree``."""
    for table in list(catalog_tables(tree)):
        name = name_of(table)
        if name == "events":
            body = events_subquery(raw_table, app_ids)
        elif name == "event_columns":
            body = _columns_values()
        else:  # check_select refuses these first; never run a tree that skipped it
            raise UnsafeQuery(f"unknown table {table.name!r}")
        alias = table.args.get("alias")
        if alias is None:
            alias = exp.TableAlias(this=exp.to_identifier(name))
        replacement = exp.Subquery(this=body, alias=alias)
        for key in ("pivots", "sample"):
            if table.args.get(key):
                replacement.set(key, table.args[key])
        table.replace(replacement)
    return tree


def events_subquery(raw_table: exp.Table, app_ids: frozenset[str] | None) -> exp.Select:
    """The clean ``events`` relation over the raw one, filtered to ``app_ids`` when given."""
    select = exp.select(*(exp.column(name, quoted=True) for name in EVENT_COLUMNS)).from_(
        raw_table.copy()
    )
    if app_ids is not None:
        select = select.where(app_filter(app_ids))
    return select


def app_filter(app_ids: frozenset[str]) -> exp.Expression:
    """``app_id IN (...)`` (or FALSE for a principal who may see no app)."""
    if not app_ids:
        return exp.false()
    return exp.column("app_id").isin(*(exp.Literal.string(a) for a in sorted(app_ids)))


def raw_table_expression(name: str) -> exp.Table:
    """``catalog.schema.table`` (1 to 3 dotted parts) as a quoted table expression."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise ValueError(f"raw table name must have 1 to 3 dotted parts: {name!r}")
    table, db, catalog = ([*reversed(parts), None, None])[:3]
    return exp.Table(
        this=exp.to_identifier(table, quoted=True),
        db=exp.to_identifier(db, quoted=True) if db else None,
        catalog=exp.to_identifier(catalog, quoted=True) if catalog else None,
    )


def same_table(a: exp.Table, b: exp.Table) -> bool:
    """Whether two table expressions name the same relation (case-insensitively)."""
    return [p.name.lower() for p in a.parts] == [p.name.lower() for p in b.parts]


def _columns_values() -> exp.Select:
    rows = [
        exp.Tuple(
            expressions=[
                exp.Literal.string(field.name),
                exp.Literal.string(_sql_type(field.type)),
                exp.Literal.string(COLUMN_DESCRIPTIONS[field.name]),
            ]
        )
        for field in EVENTS_SCHEMA
    ]
    alias = exp.TableAlias(
        this=exp.to_identifier("c"),
        columns=[exp.to_identifier(n) for n in ("column_name", "data_type", "description")],
    )
    return exp.select("*").from_(exp.Values(expressions=rows, alias=alias))


def _sql_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_integer(arrow_type):
        return "INTEGER"
    return "VARCHAR"
