"""Helpers for the Segment and PostHog compatibility tests: a gateway, and rows read back."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from causality.config import Settings
from causality.gateway.app import build_gateway_app
from causality.query.duckdb_engine import DuckDBEngine
from tests.helpers import serve_in_thread, wait_for


@contextmanager
def compat_gateway(settings: Settings) -> Iterator[str]:
    """The real gateway app under uvicorn; its events reach the session warehouse through
    the Serve application's sinks (request ``serve_stack`` to have them running)."""
    with serve_in_thread(build_gateway_app(settings)) as url:
        yield url


async def stored_rows(
    settings: Settings,
    app_id: str,
    *,
    keys: Collection[str],
    event_names: Collection[str] = (),
    timeout: float = 120,
) -> list[dict[str, Any]]:
    """The app's warehouse rows once every idempotency key of ``keys`` and a row of each
    custom ``event_names`` are there, oldest first, properties parsed."""

    async def rows() -> list[dict[str, Any]]:
        engine = DuckDBEngine(settings=settings)
        try:
            result = await engine.query(
                f"SELECT * FROM events WHERE app_id = '{app_id}' "
                "ORDER BY timestamp, idempotency_key",
                limit=10_000,
            )
        finally:
            await engine.close()
        found = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        present = {row["idempotency_key"] for row in found}
        names = {row["event_name"] for row in found}
        return found if present >= set(keys) and names >= set(event_names) else []

    found = await wait_for(rows, timeout=timeout)
    for row in found:
        row["properties"] = json.loads(row["properties"])
    return found


def by_key(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows by idempotency key (the clients' messageId / uuid)."""
    return {row["idempotency_key"]: row for row in rows}


def ms(timestamp: str) -> int:
    """A warehouse timestamp (ISO text) as epoch milliseconds."""
    return int(datetime.fromisoformat(timestamp).timestamp() * 1000)
