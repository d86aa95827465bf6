"""Choosing the query engine from settings, in one place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from causality.config import Settings
from causality.query.engine import QueryEngine


def open_engine(settings: Settings) -> QueryEngine:
    """DuckDB in-process (the default) or Trino, per ``settings.query_engine``."""
    if settings.query_engine == "trino":
        from causality.query.trino_engine import TrinoEngine

        return TrinoEngine(settings=settings)
    from causality.query.duckdb_engine import DuckDBEngine

    return DuckDBEngine(settings=settings)


@asynccontextmanager
async def query_engine(settings: Settings) -> AsyncIterator[QueryEngine]:
    """The engine as a resource for a lifespan: opened on enter, closed on exit."""
    engine = open_engine(settings)
    try:
        yield engine
    finally:
        await engine.close()
