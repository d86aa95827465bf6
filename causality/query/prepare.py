"""The one path every SQL text takes before an engine runs it.

A person's editor query, an analytics builder's SQL and a model's answer all go through
``prepare_query``: check (``safety``) -> scope to the principal's apps (``scoping``) ->
derive partition predicates (``pruning``) -> cap rows (``limits``) -> print for the target
engine (``transpile`` plus sqlglot's printer). The output is printed from the checked tree,
never pasted from the input.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Literal, TypeVar

import msgspec

from causality.query.errors import UnsafeQuery
from causality.query.limits import apply_limit
from causality.query.pruning import prune_partitions
from causality.query.safety import check_select
from causality.query.scoping import raw_table_expression, scope_tables
from causality.query.transpile import for_trino
from causality.warehouse.layout import Partitioning

Dialect = Literal["duckdb", "trino"]
T = TypeVar("T")

DEFAULT_RAW_TABLES: Final[dict[str, str]] = {
    "duckdb": "causality_internal.events_raw",
    "trino": "hive.causality.events",
}
"""The internal relation with partition columns, per engine (Trino's comes from settings)."""


class PreparedQuery(msgspec.Struct, frozen=True):
    """SQL ready for one engine, and how many rows of its result the caller may show.

    The SQL may ask for ``limit + 1`` rows: an engine that receives more than ``limit``
    shows ``limit`` and marks the result truncated.
    """

    sql: str
    limit: int
    dialect: Dialect = "duckdb"


def prepare_query(
    sql: str,
    *,
    dialect: Dialect,
    app_ids: frozenset[str] | None,
    limit: int,
    max_limit: int,
    offset: int = 0,
    raw_table: str | None = None,
    partitioning: Partitioning = "daily",
    now: datetime | None = None,
) -> PreparedQuery:
    """Check, scope, prune, limit and print ``sql``; raises UnsafeQuery for refused SQL.

    ``app_ids`` of None means every app (operators); an empty set means none.
    """
    if dialect not in DEFAULT_RAW_TABLES:
        raise ValueError(f"unknown dialect {dialect!r}")
    raw = raw_table_expression(raw_table or DEFAULT_RAW_TABLES[dialect])
    moment = now or datetime.now(UTC)

    def steps() -> PreparedQuery:
        tree = check_select(sql)
        try:
            tree = scope_tables(tree, raw_table=raw, app_ids=app_ids)
            tree = prune_partitions(tree, raw_table=raw, partitioning=partitioning, now=moment)
            tree, rows = apply_limit(tree, limit=limit, max_limit=max_limit, offset=offset)
            if dialect == "trino":
                tree = for_trino(tree)
            text = tree.sql(dialect=dialect, comments=False)
        except RecursionError:
            raise UnsafeQuery("the query is nested too deeply to analyse") from None
        return PreparedQuery(sql=text, limit=rows, dialect=dialect)

    return _on_fresh_stack(steps)


def _on_fresh_stack(work: Callable[[], T]) -> T:
    """Run ``work`` in a short-lived thread, whose stack starts empty.

    sqlglot parses and prints recursively, so the nesting a query may have before Python's
    recursion limit is reached would otherwise depend on how deep the caller already is (an
    ASGI stack, a Ray actor, a test runner). A thread costs well under a millisecond, and
    the caller blocks exactly as long as it would have on the work itself.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the caller below
            failure.append(exc)

    thread = threading.Thread(target=target, name="causality-prepare-sql", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]
