"""The reaction engine against real NATS and PostgreSQL, without Ray.

Each test gets a database of its own (``fresh_db``: the session's Serve app runs engines on the
shared one) and a durable consumer filtered to its own app, so it can count exactly.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from nats.aio.client import Client as NATS

from causality.bus.connection import connect
from causality.bus.puller import BatchPuller
from causality.bus.stream import ensure_consumer, ensure_topology
from causality.config import Settings
from causality.reactions.config_watch import ConfigWatcher
from causality.reactions.consumer import reactions_consumer_config
from causality.reactions.engine import ReactionEngine
from causality.store.apps import create_app
from tests.conftest import FreshDatabase
from tests.helpers import envelope, wait_for
from tests.reaction_rows import add_detector, add_rule, make_events, publish_events

pytestmark = [pytest.mark.integration]


@dataclass
class Rx:
    """One test's world: its database, app, settings and NATS connection."""

    pool: asyncpg.Pool
    app_id: str
    settings: Settings
    nc: NATS


@pytest_asyncio.fixture(loop_scope="session")
async def rx(fresh_db: FreshDatabase, base_settings: Settings, nats_url: str) -> AsyncIterator[Rx]:
    app = await create_app(fresh_db.pool, name=f"rx {uuid.uuid4().hex[:6]}")
    settings = base_settings.replace(
        postgres_dsn=fresh_db.dsn,
        reaction_consumer=f"test-rx-{uuid.uuid4().hex[:8]}",
        reaction_filter_subject=f"events.{app.id}.>",
        reaction_ack_wait_s=2.0,
        reaction_fetch_wait_s=0.1,
        anomaly_tick_s=0.2,
        anomaly_grace_s=0.0,
    )
    nc = await connect(nats_url, name="test-reactions")
    js = nc.jetstream()
    await ensure_topology(js, settings)
    await ensure_consumer(js, settings.stream_name, reactions_consumer_config(settings))
    try:
        yield Rx(pool=fresh_db.pool, app_id=app.id, settings=settings, nc=nc)
    finally:
        with contextlib.suppress(Exception):
            await js.delete_consumer(settings.stream_name, settings.reaction_consumer)
        await nc.close()


@contextlib.asynccontextmanager
async def running(
    rx: Rx, name: str = "engine", clock: Callable[[], float] = time.time
) -> AsyncIterator[ReactionEngine]:
    """An engine consuming in the background until the block ends."""
    watcher = ConfigWatcher(rx.pool, refresh_s=30)
    await watcher.start()
    engine = ReactionEngine(
        nc=rx.nc, pool=rx.pool, settings=rx.settings, watcher=watcher, name=name, clock=clock
    )
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop))
    try:
        yield engine
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await watcher.aclose()


def custom(name: str, **props: Any) -> dict[str, Any]:
    return envelope(type="custom", properties={"event_name": name, **props})


async def alert_count(pool: asyncpg.Pool, **where: str) -> int:
    clauses = " AND ".join(f"{k} = ${i}" for i, k in enumerate(where, 1)) or "true"
    args = [uuid.UUID(v) if k.endswith("_id") and k != "app_id" else v for k, v in where.items()]
    return int(await pool.fetchval(f"SELECT count(*) FROM alerts WHERE {clauses}", *args))


async def counted(pool: asyncpg.Pool, detector_id: str) -> int:
    total = await pool.fetchval(
        "SELECT coalesce(sum(count), 0) FROM anomaly_counts WHERE detector_id = $1",
        uuid.UUID(detector_id),
    )
    return int(total)


async def test_rule_fires_once_per_matching_event_with_its_outbox_rows(rx: Rx) -> None:
    rule_id = await add_rule(
        rx.pool,
        app_id=rx.app_id,
        event_category="custom",
        condition={"field": "properties.amount", "op": "gt", "value": 100},
        publish_alert=True,
    )
    await add_rule(
        rx.pool, app_id=rx.app_id, condition={"field": "event_name", "op": "eq", "value": "never"}
    )
    amounts = [5, 100, 100.5, 250, 99, 101]
    events = make_events(rx.app_id, [custom("checkout", amount=a) for a in amounts])
    async with running(rx) as engine:
        await publish_events(rx.nc, rx.settings, events)

        async def fired() -> int:
            n = await alert_count(rx.pool, rule_id=rule_id)
            return n if engine.stats.evaluated >= len(events) else 0

        assert await wait_for(fired, timeout=30, interval=0.1) == 3
    rows = await rx.pool.fetch(
        "SELECT a.event_id, d.subject, d.payload->>'type' AS type FROM alerts a "
        "JOIN deliveries d ON d.alert_id = a.id WHERE a.rule_id = $1",
        uuid.UUID(rule_id),
    )
    expected = {e.id for e, a in zip(events, amounts, strict=True) if a > 100}
    assert {r["event_id"] for r in rows} == expected
    assert {r["subject"] for r in rows} == {f"alerts.{rx.app_id}.{rule_id}"}
    assert {r["type"] for r in rows} == {"rule.fired"}
    assert await alert_count(rx.pool) == 3


async def test_a_rule_change_reaches_a_running_engine_without_restart(rx: Rx) -> None:
    async with running(rx) as engine:
        watcher_version = engine.stats.config_version
        before = time.monotonic()
        rule_id = await add_rule(
            rx.pool, app_id=rx.app_id, condition={"field": "properties.plan", "op": "exists"}
        )

        async def reloaded() -> bool:
            compiled = engine._watcher.current
            return any(r.id == rule_id for r in compiled.config.rules)

        await wait_for(reloaded, timeout=10, interval=0.01)
        print(
            f"rule visible to the engine {1000 * (time.monotonic() - before):.0f} ms after insert"
        )
        await publish_events(rx.nc, rx.settings, make_events(rx.app_id, [custom("up", plan="pro")]))
        assert await wait_for(lambda: alert_count(rx.pool, rule_id=rule_id), interval=0.1) == 1

        await rx.pool.execute(
            "UPDATE reaction_rules SET enabled = false WHERE id = $1", uuid.UUID(rule_id)
        )

        async def dropped() -> bool:
            return not engine._watcher.current.config.rules

        await wait_for(dropped, timeout=10, interval=0.01)
        events = make_events(rx.app_id, [custom("up", plan="pro")])
        await publish_events(rx.nc, rx.settings, events)

        async def seen() -> bool:
            return engine.stats.messages >= 2

        await wait_for(seen, timeout=30, interval=0.1)
        assert engine.stats.config_version > watcher_version
    assert await alert_count(rx.pool, rule_id=rule_id) == 1


@pytest.mark.parametrize("engines", [1, 2])
async def test_two_engines_count_and_fire_exactly_like_one(rx: Rx, engines: int) -> None:
    n = 3000
    rule_id = await add_rule(
        rx.pool, app_id=rx.app_id, condition={"field": "properties.i", "op": "lt", "value": 300}
    )
    tally = await add_detector(
        rx.pool, kind="count", params={"max_count": 10**9, "window_s": 3600}, app_id=rx.app_id
    )
    burst = await add_detector(
        rx.pool,
        kind="count",
        params={"max_count": n // 2, "window_s": 3600},
        app_id=rx.app_id,
        cooldown_s=3600,
    )
    events = make_events(rx.app_id, [custom("tick", i=i) for i in range(n)])
    async with contextlib.AsyncExitStack() as stack:
        pool = [await stack.enter_async_context(running(rx, f"e{i}")) for i in range(engines)]
        await publish_events(rx.nc, rx.settings, events)

        async def done() -> bool:
            return sum(e.stats.evaluated for e in pool) >= n and await counted(rx.pool, tally) >= n

        await wait_for(done, timeout=60, interval=0.2)
        await asyncio.sleep(0.5)  # anything still in flight would show up now
    assert await counted(rx.pool, tally) == n
    assert await counted(rx.pool, burst) == n
    assert await alert_count(rx.pool, rule_id=rule_id) == 300
    assert await alert_count(rx.pool, detector_id=burst) == 1
    assert await alert_count(rx.pool, detector_id=tally) == 0
    if engines == 2:
        assert all(e.stats.evaluated > 0 for e in pool), "both engines should have had work"


async def test_a_batch_redelivered_after_its_commit_is_not_applied_twice(rx: Rx) -> None:
    rule_id = await add_rule(rx.pool, app_id=rx.app_id)
    tally = await add_detector(
        rx.pool, kind="count", params={"max_count": 10**9, "window_s": 3600}, app_id=rx.app_id
    )
    events = make_events(rx.app_id, [custom("tick", i=i) for i in range(50)])
    await publish_events(rx.nc, rx.settings, events)
    watcher = ConfigWatcher(rx.pool)
    await watcher.start()
    doomed = ReactionEngine(nc=rx.nc, pool=rx.pool, settings=rx.settings, watcher=watcher)
    async with BatchPuller(
        nc=rx.nc, stream=rx.settings.stream_name, durable=rx.settings.reaction_consumer
    ) as puller:
        msgs = await puller.fetch(batch=50, wait_s=5)
        assert len(msgs) == 50
        # commits, then "dies" before acking: JetStream redelivers after ack_wait
        await doomed.process(msgs, settle=False)
    await watcher.aclose()
    assert await counted(rx.pool, tally) == 50
    async with running(rx, "survivor") as survivor:

        async def skipped() -> int:
            return survivor.stats.redelivered_skipped

        assert await wait_for(skipped, timeout=30, interval=0.2) == 50
    assert await counted(rx.pool, tally) == 50
    assert await alert_count(rx.pool, rule_id=rule_id) == 50


async def test_threshold_and_rate_detectors_fire_at_their_boundaries(rx: Rx) -> None:
    threshold = await add_detector(
        rx.pool,
        kind="threshold",
        params={"field": "properties.latency_ms", "max": 500},
        app_id=rx.app_id,
        cooldown_s=0,
    )
    rate = await add_detector(
        rx.pool,
        kind="rate",
        params={"max_per_minute": 20},
        app_id=rx.app_id,
        event_category="custom",
        cooldown_s=3600,
    )
    minute = (int(time.time()) // 60) * 60 * 1000
    values = [100, 500, 500.01, 9000, "slow", True]
    envelopes = [custom("req", latency_ms=v, i=i) for i, v in enumerate(values)]
    # 6 + 14 = 20 events in one minute: at the maximum, not above it
    envelopes += [custom("req", i=i) for i in range(14)]
    async with running(rx) as engine:
        for env in envelopes:
            env["timestamp_ms"] = minute
        await publish_events(rx.nc, rx.settings, make_events(rx.app_id, envelopes, now_ms=minute))

        async def evaluated() -> bool:
            return engine.stats.evaluated >= 20

        await wait_for(evaluated, timeout=30, interval=0.1)
        assert await alert_count(rx.pool, detector_id=threshold) == 2
        assert await alert_count(rx.pool, detector_id=rate) == 0
        late = custom("req", i=99)
        late["timestamp_ms"] = minute
        extra = make_events(rx.app_id, [late], now_ms=minute)
        await publish_events(rx.nc, rx.settings, extra)
        assert await wait_for(lambda: alert_count(rx.pool, detector_id=rate), interval=0.1) == 1


async def test_baseline_fires_at_a_step_change_and_not_in_steady_state(rx: Rx) -> None:
    """A synthetic 3-hour series with a known drop, replayed with a controlled clock."""
    detector = await add_detector(
        rx.pool,
        kind="baseline",
        params={"bucket_s": 60, "k": 4.0, "warmup_buckets": 30, "alpha": 0.1},
        app_id=rx.app_id,
        cooldown_s=3600,
    )
    start = (int(time.time()) // 60 - 240) * 60  # four hours ago, on a minute boundary
    step_at = 150  # minutes 0..149 steady around 40 per minute, then purchases collapse to ~5
    pattern = [38, 41, 40, 43, 37, 40, 42, 39, 44, 36]
    envelopes_by_minute = []
    for minute in range(180):
        n = pattern[minute % len(pattern)] if minute < step_at else 5
        envelopes_by_minute.append((minute, n))
    clock_now = [float(start)]
    async with running(rx, clock=lambda: clock_now[0]) as engine:
        total = 0
        for minute, n in envelopes_by_minute:
            at_ms = (start + minute * 60 + 30) * 1000
            batch = [{**custom("purchase"), "timestamp_ms": at_ms} for _ in range(n)]
            await publish_events(rx.nc, rx.settings, make_events(rx.app_id, batch, now_ms=at_ms))
            total += n

        async def all_counted() -> bool:
            return await counted(rx.pool, detector) >= total

        await wait_for(all_counted, timeout=90, interval=0.2)
        assert await alert_count(rx.pool, detector_id=detector) == 0
        clock_now[0] = float(start + 180 * 60)
        await engine.tick(now_s=clock_now[0])
    rows = await rx.pool.fetch(
        "SELECT details FROM alerts WHERE detector_id = $1", uuid.UUID(detector)
    )
    assert len(rows) == 1
    details = rows[0]["details"]
    assert '"direction": "down"' in details or '"down"' in details
    bucket_start = start + step_at * 60
    assert (
        str(bucket_start) in details or time.strftime("%H:%M", time.gmtime(bucket_start)) in details
    )
