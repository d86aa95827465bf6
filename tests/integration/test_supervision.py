"""The Serve application keeps its sink pool alive: a sink that dies for good is replaced."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import ray

from actors.supervisor import NAMESPACE
from causality.config import Settings
from causality.stack import ServeStack
from tests.helpers import envelope, wait_for
from tests.integration.test_nats_outage import stored_keys

pytestmark = [pytest.mark.integration, pytest.mark.ray]


async def test_dead_sink_is_replaced_and_pipeline_keeps_storing(
    serve_stack: ServeStack,
    gateway_url: str,
    base_settings: Settings,
    app_with_key: tuple[str, str],
) -> None:
    victim = ray.get_actor("warehouse-sink-0", namespace=NAMESPACE)
    ray.kill(victim, no_restart=True)  # permanent: Ray will not bring this one back

    async def replaced() -> Any:
        try:
            fresh = ray.get_actor("warehouse-sink-0", namespace=NAMESPACE)
        except ValueError:
            return None
        if fresh._actor_id == victim._actor_id:
            return None
        statuses = await asyncio.to_thread(serve_stack.pipeline_status)
        return statuses if all(s["running"] for s in statuses) else None

    statuses = await wait_for(replaced, timeout=90)
    sinks = [s for s in statuses if s["kind"] == "sink"]
    assert len(sinks) == base_settings.sink_actors

    app_id, key = app_with_key
    events = [envelope() for _ in range(50)]
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        r = await client.post(
            "/api/v1/events/batch", json={"events": events}, headers={"X-API-Key": key}
        )
    assert r.status_code == 202

    async def stored() -> dict[str, int] | None:
        got = await stored_keys(base_settings, app_id)
        return got if len(got) == 50 else None

    assert set((await wait_for(stored, timeout=60)).values()) == {1}
