"""Writing reaction configuration rows straight into a test's database.

Engine tests exercise the engine, not the admin API (tested on its own), so they insert rules,
detectors and webhooks with plain SQL, exactly as the API stores them.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import asyncpg
import msgspec
from nats.aio.client import Client as NATS

from causality.bus.publisher import EventPublisher
from causality.config import Settings
from causality.events.model import Event
from causality.events.validation import EventValidator
from tests.helpers import envelope


async def add_webhook(pool: asyncpg.Pool, url: str, **fields: Any) -> str:
    """A webhook row; returns its id."""
    webhook_id = str(uuid.uuid4())
    values = {"name": "test hook", "url": url, "auth_type": "none", **fields}
    await pool.execute(
        "INSERT INTO webhooks (id, name, url, auth_type, auth_username, auth_secret, "
        "max_attempts) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        uuid.UUID(webhook_id),
        values["name"],
        values["url"],
        values["auth_type"],
        values.get("auth_username"),
        values.get("auth_secret"),
        values.get("max_attempts", 8),
    )
    return webhook_id


async def add_rule(
    pool: asyncpg.Pool,
    *,
    app_id: str | None,
    condition: Any = None,
    webhook_ids: tuple[str, ...] = (),
    **fields: Any,
) -> str:
    """A rule row and its webhook links in one transaction; returns its id."""
    rule_id = str(uuid.uuid4())
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO reaction_rules (id, name, app_id, event_category, event_type, "
            "condition, priority, enabled, publish_alert) "
            "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)",
            uuid.UUID(rule_id),
            fields.get("name", "test rule"),
            app_id,
            fields.get("event_category"),
            fields.get("event_type"),
            None if condition is None else json.dumps(condition),
            fields.get("priority", 0),
            fields.get("enabled", True),
            fields.get("publish_alert", False),
        )
        for webhook_id in webhook_ids:
            await conn.execute(
                "INSERT INTO rule_webhooks (rule_id, webhook_id) VALUES ($1, $2)",
                uuid.UUID(rule_id),
                uuid.UUID(webhook_id),
            )
    return rule_id


async def add_detector(
    pool: asyncpg.Pool,
    *,
    kind: str,
    params: dict[str, Any],
    app_id: str | None,
    webhook_ids: tuple[str, ...] = (),
    **fields: Any,
) -> str:
    """A detector row (params as the API would have normalized them); returns its id."""
    from causality.reactions.detectors import validate_params

    detector_id = str(uuid.uuid4())
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO anomaly_detectors (id, name, kind, app_id, event_category, event_type, "
            "condition, params, cooldown_s, publish_alert) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10)",
            uuid.UUID(detector_id),
            fields.get("name", f"test {kind}"),
            kind,
            app_id,
            fields.get("event_category"),
            fields.get("event_type"),
            None if fields.get("condition") is None else json.dumps(fields["condition"]),
            json.dumps(validate_params(kind, params)),
            fields.get("cooldown_s", 300),
            fields.get("publish_alert", False),
        )
        for webhook_id in webhook_ids:
            await conn.execute(
                "INSERT INTO detector_webhooks (detector_id, webhook_id) VALUES ($1, $2)",
                uuid.UUID(detector_id),
                uuid.UUID(webhook_id),
            )
    return detector_id


def make_events(
    app_id: str, envelopes: list[dict[str, Any]], *, now_ms: int | None = None
) -> list[Event]:
    """Validate envelopes exactly as the gateway does, received at ``now_ms``."""
    validator = EventValidator(
        backfill_horizon_ms=10**13, max_future_ms=86_400_000, max_batch_events=100_000
    )
    body = msgspec.json.encode({"events": envelopes})
    received = int(time.time() * 1000) if now_ms is None else now_ms
    result = validator.validate_batch(body, app_id=app_id, now_ms=received)
    assert not result.rejected, result.rejected[:3]
    return list(result.accepted)


async def publish_events(nc: NATS, settings: Settings, events: list[Event]) -> None:
    """Publish validated events to JetStream as the gateway would, and wait for the acks."""
    publisher = EventPublisher(nc=nc, stream=settings.stream_name, timeout_s=10)
    try:
        for start in range(0, len(events), 1000):
            flags = await publisher.publish(events[start : start + 1000])
            assert not any(flags)
    finally:
        await publisher.aclose()


__all__ = [
    "add_detector",
    "add_rule",
    "add_webhook",
    "envelope",
    "make_events",
    "publish_events",
]
