"""Reactions end to end through the real Serve application: events posted to the gateway,
judged by the ReactionEngine actors, delivered by the WebhookDispatcher actor, all supervised
by the Pipeline deployment; and nothing lost or repeated when those actors are killed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import ray
from nats.aio.client import Client as NATS

from actors.supervisor import NAMESPACE
from causality.bus.connection import connect
from causality.config import Settings
from causality.reactions.signing import verify
from causality.stack import ServeStack
from tests.helpers import envelope, wait_for
from tests.reaction_rows import add_rule, add_webhook
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.integration, pytest.mark.ray]

SECRET = "an hmac key of more than 16 chars"


def purchase(amount: float) -> dict[str, Any]:
    return envelope(type="custom", properties={"event_name": "checkout", "amount": amount})


async def engines_loaded(stack: ServeStack, since: dict[str, int]) -> bool:
    """Every engine has loaded a configuration newer than ``since`` (name -> version)."""
    statuses = await asyncio.to_thread(stack.pipeline_status)
    engines = [s for s in statuses if s["kind"] == "reaction"]
    return bool(engines) and all(
        s.get("running") and s.get("config_version", 0) > since.get(s["name"], 0) for s in engines
    )


async def engine_versions(stack: ServeStack) -> dict[str, int]:
    statuses = await asyncio.to_thread(stack.pipeline_status)
    return {s["name"]: s.get("config_version", 0) for s in statuses if s["kind"] == "reaction"}


async def post(gateway_url: str, key: str, events: list[dict[str, Any]]) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        r = await client.post(
            "/api/v1/events/batch", json={"events": events}, headers={"X-API-Key": key}
        )
    assert r.status_code == 202, r.text


async def test_an_event_posted_to_the_gateway_reaches_the_webhook_and_nats(
    serve_stack: ServeStack,
    gateway_url: str,
    pg_pool: asyncpg.Pool,
    app_with_key: tuple[str, str],
    nats_url: str,
) -> None:
    app_id, key = app_with_key
    with WebhookReceiver() as receiver:
        before = await engine_versions(serve_stack)
        webhook_id = await add_webhook(
            pg_pool, f"{receiver.url}/crm", auth_type="hmac", auth_secret=SECRET
        )
        rule_id = await add_rule(
            pg_pool,
            app_id=app_id,
            name="big checkout",
            event_category="custom",
            condition={"field": "properties.amount", "op": "gte", "value": 100},
            webhook_ids=(webhook_id,),
            publish_alert=True,
        )
        await wait_for(lambda: engines_loaded(serve_stack, before), timeout=30, interval=0.1)
        nc: NATS = await connect(nats_url, name="test-alerts")
        alerts: list[Any] = []

        async def on_alert(msg: Any) -> None:
            alerts.append(msgspec.json.decode(msg.data))

        sub = await nc.subscribe(f"alerts.{app_id}.{rule_id}", cb=on_alert)
        try:
            amounts = [20, 99.99, 100, 250, 5, 1000]
            await post(gateway_url, key, [purchase(a) for a in amounts])

            async def delivered() -> bool:
                return len(receiver.records()) >= 3 and len(alerts) >= 3

            await wait_for(delivered, timeout=60, interval=0.2)
        finally:
            await sub.unsubscribe()
            await nc.close()
    got = receiver.records()
    assert len(got) == 3 and len(alerts) == 3
    bodies = []
    for record in got:
        verify(SECRET, record.headers["x-causality-signature"], record.body)
        assert record.path == "/crm"
        bodies.append(msgspec.json.decode(record.body))
    assert {b["delivery_id"] for b in bodies} == {r.delivery_id for r in got}
    assert sorted(b["alert"]["details"]["event"]["properties"]["amount"] for b in bodies) == [
        100,
        250,
        1000,
    ]
    assert {b["type"] for b in bodies} == {"rule.fired"}
    assert {b["alert"]["app_id"] for b in bodies} == {app_id}
    assert all("big checkout" in b["text"] for b in bodies)
    nats_events = sorted(a["alert"]["details"]["event"]["properties"]["amount"] for a in alerts)
    assert nats_events == [100, 250, 1000]


async def test_killing_the_engine_and_the_dispatcher_loses_and_repeats_nothing(
    serve_stack: ServeStack,
    gateway_url: str,
    pg_pool: asyncpg.Pool,
    app_with_key: tuple[str, str],
    base_settings: Settings,
) -> None:
    app_id, key = app_with_key
    with WebhookReceiver(mode="fail") as receiver:  # down at first: deliveries pile up
        before = await engine_versions(serve_stack)
        webhook_id = await add_webhook(pg_pool, f"{receiver.url}/hook", max_attempts=50)
        rule_id = await add_rule(
            pg_pool, app_id=app_id, event_category="custom", webhook_ids=(webhook_id,)
        )
        await wait_for(lambda: engines_loaded(serve_stack, before), timeout=30, interval=0.1)
        sent = 0
        for round_ in range(6):
            batch = [purchase(round_ * 100 + i) for i in range(50)]
            await post(gateway_url, key, batch)
            sent += len(batch)
            if round_ == 2:
                ray.kill(ray.get_actor("reaction-engine-0", namespace=NAMESPACE), no_restart=False)
            if round_ == 3:
                ray.kill(
                    ray.get_actor("webhook-dispatcher-0", namespace=NAMESPACE), no_restart=False
                )
            await asyncio.sleep(0.3)

        async def alerts_recorded() -> int:
            n = await pg_pool.fetchval(
                "SELECT count(*) FROM alerts WHERE rule_id = $1", uuid.UUID(rule_id)
            )
            return int(n) if n >= sent else 0

        assert await wait_for(alerts_recorded, timeout=120, interval=0.5) == sent
        receiver.mode = "ok"  # the receiver recovers

        async def all_delivered() -> bool:
            pending = await pg_pool.fetchval(
                "SELECT count(*) FROM deliveries WHERE webhook_id = $1 AND status <> 'delivered'",
                uuid.UUID(webhook_id),
            )
            return pending == 0

        await wait_for(all_delivered, timeout=120, interval=0.5)
        await asyncio.sleep(0.5)  # a late duplicate would show up now
    ids = await pg_pool.fetch(
        "SELECT id FROM deliveries WHERE webhook_id = $1", uuid.UUID(webhook_id)
    )
    expected = {str(r["id"]) for r in ids}
    assert len(expected) == sent  # one delivery per alert, one alert per event
    accepted = {r.delivery_id for r in receiver.records() if r.answered == 200}
    assert accepted == expected  # every delivery id answered 200 at least once
    distinct_events = await pg_pool.fetchval(
        "SELECT count(DISTINCT event_id) FROM alerts WHERE rule_id = $1", uuid.UUID(rule_id)
    )
    assert distinct_events == sent
    statuses = await asyncio.to_thread(serve_stack.pipeline_status)
    assert all(s["running"] for s in statuses), statuses
    assert base_settings.reaction_actors >= 1
