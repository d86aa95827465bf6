"""End to end through the real Serve application: HTTP batch in, Parquet out, SQL back."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from causality.cli import main
from causality.config import Settings
from tests.helpers import envelope, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.ray]


def run_sql(settings: Settings, sql: str) -> list[dict[str, Any]]:
    """`causality sql --format json` against the session's warehouse, rows as dicts."""
    result = CliRunner().invoke(
        main,
        ["sql", sql, "--format", "json"],
        env={
            "CAUSALITY_WAREHOUSE_URI": settings.warehouse,
            "CAUSALITY_DATA_DIR": settings.data_dir,
        },
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]


def full_events(now_ms: int) -> list[dict[str, Any]]:
    device_context = {
        "platform": "ios",
        "os_version": "18.1",
        "app_version": "4.2.0",
        "build_number": "420",
        "device_model": "iPhone16,2",
        "manufacturer": "Apple",
        "screen_width": 1179,
        "screen_height": 2556,
        "locale": "de_DE",
        "timezone": "Europe/Berlin",
        "network_type": "wifi",
        "carrier": "Telekom",
        "is_jailbroken": False,
        "is_emulator": True,
        "sdk_version": "causality-ios/1.0.0",
    }
    purchase = {
        "type": "purchase_complete",
        "device_id": "device-Ω-1",
        "user_id": "user-42",
        "session_id": "sess-1",
        "correlation_id": "corr-1",
        "idempotency_key": str(uuid.uuid4()),
        "timestamp_ms": now_ms - 5_000,
        "device_context": device_context,
        "properties": {
            "order_id": "o-1",
            "cart_id": "c-1",
            "item_count": 2,
            "total_cents": 4998,
            "currency": "EUR",
            "payment_method": "card",
            "items": [
                {"product_id": "p-1", "product_name": "Mug", "quantity": 2, "price_cents": 2499}
            ],
            "coupon": "WINTER",  # unknown payload field: kept
        },
    }
    custom = {
        "type": "custom",
        "device_id": "device-2",
        "idempotency_key": str(uuid.uuid4()),
        "timestamp_ms": now_ms - 1_000,
        "properties": {"event_name": "video played", "seconds": 12.5, "tags": ["a", "b"]},
    }
    return [purchase, custom]


async def test_batch_round_trips_every_field(
    gateway_url: str, base_settings: Settings, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    now_ms = int(time.time() * 1000)
    sent = full_events(now_ms)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        r = await client.post(
            "/api/v1/events/batch", json={"events": sent}, headers={"X-API-Key": key}
        )
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 2, "duplicates": 0, "rejected": 0, "errors": []}

    async def stored() -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(
            run_sql,
            base_settings,
            f"SELECT * FROM events WHERE app_id = '{app_id}' ORDER BY timestamp",
        )
        return rows if len(rows) == 2 else []

    rows = await wait_for(stored, timeout=90)
    purchase, custom = rows
    want = sent[0]
    assert purchase["app_id"] == app_id
    assert purchase["event_category"] == "commerce"
    assert purchase["event_type"] == "purchase_complete"
    assert purchase["event_name"] is None
    for field in ("device_id", "user_id", "session_id", "correlation_id", "idempotency_key"):
        assert purchase[field] == want[field], field
    for field, value in want["device_context"].items():
        assert purchase[field] == value, field
    assert purchase["timestamp"].startswith(
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(want["timestamp_ms"] / 1000))
    )
    assert purchase["received_at"] >= purchase["timestamp"]
    assert json.loads(purchase["properties"]) == want["properties"]
    uuid.UUID(purchase["id"])  # server-assigned UUIDv7
    assert uuid.UUID(purchase["id"]).version == 7

    assert custom["event_category"] == "custom"
    assert custom["event_type"] == "custom"
    assert custom["event_name"] == "video played"
    assert json.loads(custom["properties"]) == sent[1]["properties"]
    assert custom["user_id"] is None and custom["platform"] is None


async def test_same_idempotency_key_is_stored_once(
    gateway_url: str, base_settings: Settings, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    twice = envelope()
    other = envelope()
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        first = await client.post(
            "/api/v1/events/batch",
            json={"events": [twice, twice, other]},
            headers={"X-API-Key": key},
        )
        again = await client.post("/api/v1/events/ingest", json=twice, headers={"X-API-Key": key})
    assert first.status_code == 202, first.text
    assert first.json()["accepted"] == 2 and first.json()["duplicates"] == 1
    assert again.status_code == 202
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == 1

    async def stored() -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(
            run_sql,
            base_settings,
            f"SELECT idempotency_key, count(*) AS n FROM events "
            f"WHERE app_id = '{app_id}' GROUP BY 1 ORDER BY 1",
        )
        return rows if len(rows) == 2 else []

    rows = await wait_for(stored, timeout=90)
    assert {r["idempotency_key"]: r["n"] for r in rows} == {
        twice["idempotency_key"]: 1,
        other["idempotency_key"]: 1,
    }
