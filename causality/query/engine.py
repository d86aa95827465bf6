"""The QueryEngine interface every SQL consumer (CLI, analytics, LLM) codes against."""

from __future__ import annotations

from typing import Any, Literal, Protocol

import msgspec

from causality.query.errors import (
    QueryError,
    QueryMemoryExceeded,
    QueryTimeout,
    QueryUnavailable,
    ResultTooLarge,
    UnsafeQuery,
    WarehouseChanged,
)
from causality.query.prepare import PreparedQuery

__all__ = [
    "QueryEngine",
    "QueryError",
    "QueryMemoryExceeded",
    "QueryResult",
    "QueryTimeout",
    "QueryUnavailable",
    "ResultTooLarge",
    "UnsafeQuery",
    "WarehouseChanged",
]


class QueryResult(msgspec.Struct):
    """Column names and types plus rows, shaped for JSON and for a results grid."""

    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool = False
    elapsed_ms: float = 0.0


class QueryEngine(Protocol):
    """Runs one read-only SELECT over `events` with a row limit, a timeout and size caps.

    ``query`` is the one entry point for SQL from people, builders and models: it checks the
    SQL, scopes it to ``app_ids`` (``None``: every app), prunes partitions and caps rows
    before anything runs. ``prepare``/``run`` split those steps for callers that want the
    printed SQL (an "explain" view, logging).
    """

    dialect: Literal["duckdb", "trino"]

    def prepare(
        self,
        sql: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        app_ids: frozenset[str] | None = None,
    ) -> PreparedQuery:
        """Check, scope and limit ``sql`` for this engine; raises UnsafeQuery."""
        ...

    async def run(self, prepared: PreparedQuery) -> QueryResult:
        """Run SQL that came out of ``prepare`` (never anything else)."""
        ...

    async def query(
        self,
        sql: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        app_ids: frozenset[str] | None = None,
    ) -> QueryResult:
        """``prepare`` then ``run``: at most ``limit`` rows (``query_row_limit`` when None)."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...
