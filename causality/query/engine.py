"""The QueryEngine interface every SQL consumer (CLI, analytics, LLM) codes against."""

from __future__ import annotations

from typing import Any, Protocol

import msgspec


class QueryError(Exception):
    """The engine rejected or failed the query; the message is safe to show to the author."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (type(self), (self.message,))


class QueryTimeout(QueryError):
    """The query ran past its time limit and was interrupted."""


class QueryResult(msgspec.Struct):
    """Column names and types plus rows, shaped for JSON and for a results grid."""

    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool = False
    elapsed_ms: float = 0.0


class QueryEngine(Protocol):
    """Runs one read-only SELECT over the `events` table with a row limit and a timeout."""

    async def query(self, sql: str, *, limit: int | None = None) -> QueryResult:
        """Run ``sql`` and return at most ``limit`` rows (the engine's cap when None)."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...
