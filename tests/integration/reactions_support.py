"""Helpers for the tests of the reactions admin API and CLI: bodies, history rows written
straight into PostgreSQL (the engine's job elsewhere), and a real local HTTP receiver."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import msgspec

ADMIN = "/api/v1/admin"
RULES = f"{ADMIN}/rules"
DETECTORS = f"{ADMIN}/anomaly-detectors"
WEBHOOKS = f"{ADMIN}/webhooks"
ALERTS = f"{ADMIN}/alerts"
DELIVERIES = f"{ADMIN}/deliveries"
# a public address: passes the egress check without DNS, never contacted by these tests
PUBLIC_URL = "https://93.184.215.14/hooks/causality"


def rule_body(**overrides: Any) -> dict[str, Any]:
    """A valid rule: checkout screens on iOS."""
    body: dict[str, Any] = {
        "name": f"rule {uuid.uuid4().hex[:6]}",
        "event_type": "screen_view",
        "condition": {
            "all": [
                {"field": "properties.screen_name", "op": "eq", "value": "checkout"},
                {"field": "device_context.platform", "op": "eq", "value": "ios"},
            ]
        },
        "priority": 10,
    }
    body.update(overrides)
    return body


def detector_body(**overrides: Any) -> dict[str, Any]:
    """A valid count detector: more than 100 crashes in 5 minutes."""
    body: dict[str, Any] = {
        "name": f"detector {uuid.uuid4().hex[:6]}",
        "kind": "count",
        "event_type": "app_crash",
        "params": {"max_count": 100, "window_s": 300},
        "cooldown_s": 600,
    }
    body.update(overrides)
    return body


def webhook_body(**overrides: Any) -> dict[str, Any]:
    """A valid webhook to a public address."""
    body: dict[str, Any] = {"name": f"hook {uuid.uuid4().hex[:6]}", "url": PUBLIC_URL}
    body.update(overrides)
    return body


async def insert_alert(
    pool: asyncpg.Pool,
    *,
    app_id: str | None,
    rule_id: str | None = None,
    detector_id: str | None = None,
    source: str = "rule",
    name: str = "an alert",
) -> str:
    """An alert row as an engine would record it."""
    alert_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO alerts (id, source, rule_id, detector_id, name, app_id, event_id, summary, "
        "details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)",
        alert_id,
        source,
        None if rule_id is None else uuid.UUID(rule_id),
        None if detector_id is None else uuid.UUID(detector_id),
        name,
        app_id,
        str(uuid.uuid4()),
        f"{name} fired",
        msgspec.json.encode({"why": "test"}).decode(),
    )
    return str(alert_id)


async def insert_delivery(
    pool: asyncpg.Pool,
    *,
    alert_id: str | None,
    webhook_id: str,
    status: str = "dead_letter",
    attempts: int = 3,
    kind: str = "alert",
) -> str:
    """A delivery with ``attempts`` failed attempts in its history."""
    delivery_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO deliveries (id, alert_id, webhook_id, kind, payload, status, attempts, "
        "max_attempts, next_attempt_at, last_status, last_error) "
        "VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $7, now() + interval '1 day', 503, "
        "'HTTP 503')",
        delivery_id,
        None if alert_id is None else uuid.UUID(alert_id),
        uuid.UUID(webhook_id),
        kind,
        msgspec.json.encode({"type": "rule.fired"}).decode(),
        status,
        attempts,
    )
    for attempt in range(1, attempts + 1):
        await pool.execute(
            "INSERT INTO delivery_attempts (delivery_id, attempt, status_code, error, "
            "duration_ms) VALUES ($1, $2, 503, 'HTTP 503', 12.5)",
            delivery_id,
            attempt,
        )
    return str(delivery_id)
