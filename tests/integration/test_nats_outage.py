"""NATS going away: ingestion answers 503 (never 500, never 202), and nothing accepted is lost."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from causality.config import Settings
from causality.embedded.nats import EmbeddedNats
from causality.query.duckdb_engine import DuckDBEngine
from tests.helpers import envelope, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.ray]


async def stored_keys(settings: Settings, app_id: str) -> dict[str, int]:
    engine = DuckDBEngine(settings=settings)
    try:
        result = await engine.query(
            f"SELECT idempotency_key, count(*) FROM events WHERE app_id = '{app_id}' GROUP BY 1"
        )
    finally:
        await engine.close()
    return {key: int(n) for key, n in result.rows}


async def test_outage_answers_503_and_loses_nothing(
    gateway_url: str,
    base_settings: Settings,
    nats_server: EmbeddedNats,
    app_with_key: tuple[str, str],
) -> None:
    app_id, key = app_with_key
    headers = {"X-API-Key": key}
    before = [envelope() for _ in range(20)]
    during = [envelope() for _ in range(30)]
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        # prime the key cache so the outage test is about NATS, not about auth
        r = await client.post("/api/v1/events/batch", json={"events": before}, headers=headers)
        assert r.status_code == 202, r.text
        nats_server.stop()
        try:
            r = await client.post("/api/v1/events/batch", json={"events": during}, headers=headers)
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"].isdigit()
            assert r.json()["error"]["code"] == "bus_unavailable"
            single = await client.post("/api/v1/events/ingest", json=during[0], headers=headers)
            assert single.status_code == 503
            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["nats"] is False
        finally:
            nats_server.start()

        async def ready_again() -> bool:
            return (await client.get("/ready")).status_code == 200

        await wait_for(ready_again, timeout=60)

        async def retried() -> Any:
            # the SDK's retry: the very same events, same idempotency keys
            r = await client.post("/api/v1/events/batch", json={"events": during}, headers=headers)
            return r if r.status_code == 202 else None

        r = await wait_for(retried, timeout=30)
        assert r.json()["rejected"] == 0

    want = {e["idempotency_key"]: 1 for e in before + during}

    async def all_stored() -> dict[str, int] | None:
        got = await stored_keys(base_settings, app_id)
        return got if len(got) == len(want) else None

    got = await wait_for(all_stored, timeout=120)
    assert got == want
    await asyncio.sleep(0)
