"""The sink neither loses nor duplicates events when it dies, wherever it dies.

Each test gets its own durable consumer (filtered to its own app) and its own warehouse
folder, so it can count exactly while the session's Serve app keeps running beside it.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import ray
from nats.aio.client import Client as NATS

from actors.warehouse_sink import WarehouseSinkActor
from causality.bus.connection import connect
from causality.bus.publisher import EventPublisher
from causality.bus.stream import ensure_consumer, ensure_topology, sink_consumer_config
from causality.config import Settings
from causality.events.validation import EventValidator
from causality.query.duckdb_engine import DuckDBEngine
from causality.warehouse.sink import WarehouseSink
from causality.warehouse.writer import WrittenFile
from tests.helpers import envelope, wait_for

pytestmark = [pytest.mark.integration]


@pytest_asyncio.fixture(loop_scope="session")
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    conn = await connect(nats_url, name="test-durability")
    yield conn
    await conn.close()


def sink_settings(base: Settings, tmp_path: Path, app_id: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "warehouse_uri": str(tmp_path / "warehouse"),
        "sink_consumer": f"test-sink-{uuid.uuid4().hex[:8]}",
        "sink_filter_subject": f"events.{app_id}.>",
        "sink_ack_wait_s": 2.0,
        "sink_flush_interval_s": 0.5,
    }
    return base.replace(**{**values, **changes})


async def publish(nc: NATS, settings: Settings, app_id: str, n: int) -> list[str]:
    """Validate and publish ``n`` events of ``app_id`` straight to JetStream; returns ids."""
    js = nc.jetstream()
    await ensure_topology(js, settings)
    validator = EventValidator(
        backfill_horizon_ms=10**12, max_future_ms=86_400_000, max_batch_events=10_000
    )
    body = json.dumps({"events": [envelope() for _ in range(n)]}).encode()
    result = validator.validate_batch(body, app_id=app_id, now_ms=int(time.time() * 1000))
    assert not result.rejected
    publisher = EventPublisher(nc=nc, stream=settings.stream_name, timeout_s=10)
    flags = await publisher.publish(result.accepted)
    assert not any(flags)
    return [e.id for e in result.accepted]


async def warehouse_counts(settings: Settings) -> tuple[int, int]:
    """(rows, distinct ids) in this test's warehouse."""
    engine = DuckDBEngine(settings=settings)
    try:
        result = await engine.query("SELECT count(*), count(DISTINCT id) FROM events")
    finally:
        await engine.close()
    rows, distinct = result.rows[0]
    return int(rows), int(distinct)


async def consumer_settled(nc: NATS, settings: Settings) -> bool:
    info = await nc.jetstream().consumer_info(settings.stream_name, settings.sink_consumer)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_crash_after_write_before_ack_stores_nothing_twice(
    nc: NATS, base_settings: Settings, tmp_path: Path, app_with_key: tuple[str, str]
) -> None:
    app_id, _ = app_with_key
    settings = sink_settings(base_settings, tmp_path, app_id)
    js = nc.jetstream()
    await ensure_topology(js, settings)
    await ensure_consumer(js, settings.stream_name, sink_consumer_config(settings))
    ids = await publish(nc, settings, app_id, 500)

    # sink A writes its file, then "dies" before acking: its connection goes away unacked
    written: list[WrittenFile] = []
    wrote = asyncio.Event()

    async def hang_after_write(files: list[WrittenFile]) -> None:
        written.extend(files)
        wrote.set()
        await asyncio.Event().wait()

    conn_a = await connect(settings.nats_url or "", name="sink-a")
    sink_a = WarehouseSink(nc=conn_a, settings=settings, name="a", after_write=hang_after_write)
    task_a = asyncio.create_task(sink_a.run(asyncio.Event()))
    await asyncio.wait_for(wrote.wait(), 30)
    await conn_a.close()
    task_a.cancel()
    with pytest.raises(BaseException):  # noqa: B017 - cancelled or connection closed
        await task_a
    assert sum(f.rows for f in written) == 500
    assert await warehouse_counts(settings) == (500, 500)

    # more traffic arrives while sink B takes over the redelivered messages
    ids += await publish(nc, settings, app_id, 300)
    conn_b = await connect(settings.nats_url or "", name="sink-b")
    stop_b = asyncio.Event()
    sink_b = WarehouseSink(nc=conn_b, settings=settings, name="b")
    task_b = asyncio.create_task(sink_b.run(stop_b))
    try:
        await wait_for(lambda: consumer_settled(nc, settings), timeout=60)
    finally:
        stop_b.set()
        await task_b
        await conn_b.close()
    assert sink_b.stats.redelivered_skipped == 500
    assert await warehouse_counts(settings) == (800, 800)
    assert len(ids) == len(set(ids)) == 800


@pytest.fixture(scope="module")
def ray_ready(serve_stack: Any) -> None:
    """The session's Ray instance (started with the Serve app)."""
    assert ray.is_initialized()


async def _ensure_running(actor: Any) -> dict[str, Any]:
    async def attempt() -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(actor.ensure_running.remote(), 10)
        except Exception:
            return None

    return await wait_for(attempt, timeout=90, interval=0.5)


@pytest.mark.ray
async def test_killed_sink_actor_mid_batch_loses_and_duplicates_nothing(
    ray_ready: None,
    nc: NATS,
    base_settings: Settings,
    tmp_path: Path,
    app_with_key: tuple[str, str],
) -> None:
    app_id, _ = app_with_key
    # a long flush interval keeps the first 1000 messages held, unwritten, when we kill it
    settings = sink_settings(base_settings, tmp_path, app_id, sink_flush_interval_s=4.0)
    actor = WarehouseSinkActor.remote(settings, "kill-test")
    try:
        await _ensure_running(actor)
        await publish(nc, settings, app_id, 1000)
        await asyncio.sleep(1.0)
        ray.kill(actor, no_restart=False)
        await publish(nc, settings, app_id, 500)
        await _ensure_running(actor)  # the supervisor's heartbeat does this in the app
        await wait_for(lambda: consumer_settled(nc, settings), timeout=90)
        assert await warehouse_counts(settings) == (1500, 1500)
    finally:
        await actor.stop.remote()
        ray.kill(actor, no_restart=True)


def crash_once_after_write(marker: str) -> Any:
    """An after_write hook that kills the actor's process the first time it has written."""

    async def hook(files: list[WrittenFile]) -> None:
        if files and not os.path.exists(marker):
            Path(marker).write_text("crashed")
            os._exit(1)

    return hook


@pytest.mark.ray
async def test_sink_actor_process_dies_after_write_before_ack(
    ray_ready: None,
    nc: NATS,
    base_settings: Settings,
    tmp_path: Path,
    app_with_key: tuple[str, str],
) -> None:
    app_id, _ = app_with_key
    settings = sink_settings(base_settings, tmp_path, app_id)
    marker = str(tmp_path / "crashed")
    actor = WarehouseSinkActor.remote(settings, "crash-test", crash_once_after_write(marker))
    try:
        await _ensure_running(actor)
        await publish(nc, settings, app_id, 700)
        await wait_for(lambda: asyncio.sleep(0, os.path.exists(marker)), timeout=60)
        rows_after_crash = await warehouse_counts(settings)
        assert rows_after_crash[0] > 0  # the file made it; the ack did not
        status = await _ensure_running(actor)
        await wait_for(lambda: consumer_settled(nc, settings), timeout=90)
        status = await actor.status.remote()
        assert status["redelivered_skipped"] == rows_after_crash[0]
        assert await warehouse_counts(settings) == (700, 700)
    finally:
        await actor.stop.remote()
        ray.kill(actor, no_restart=True)


async def _dead_letters(nc: NATS, settings: Settings, app_id: str) -> list[Any]:
    """Messages of this app in the dead-letter stream (read with an ephemeral consumer)."""
    js = nc.jetstream()
    sub = await js.subscribe(f"dlq.events.{app_id}.>", ordered_consumer=True)
    out = []
    try:
        while True:
            out.append(await sub.next_msg(timeout=1.0))
    except Exception:
        pass
    finally:
        await sub.unsubscribe()
    return out


async def test_poison_and_repeatedly_failing_messages_go_to_the_dead_letter_stream(
    nc: NATS, base_settings: Settings, tmp_path: Path, app_with_key: tuple[str, str]
) -> None:
    app_id, _ = app_with_key
    settings = sink_settings(
        base_settings, tmp_path, app_id, warehouse_uri=str(tmp_path / "ok"), sink_max_deliver=2
    )
    js = nc.jetstream()
    await ensure_topology(js, settings)
    await ensure_consumer(js, settings.stream_name, sink_consumer_config(settings))
    await js.publish(f"events.{app_id}.screen.screen_view", b"{not an event")
    stop = asyncio.Event()
    sink = WarehouseSink(nc=nc, settings=settings, name="dlq")
    task = asyncio.create_task(sink.run(stop))
    try:
        await wait_for(lambda: consumer_settled(nc, settings), timeout=30)
        assert sink.stats.dead_lettered == 1

        # now every write fails: the event is retried, then dead-lettered with the reason
        # a file where the events/ directory should be: every partition write fails
        (tmp_path / "blocked").mkdir()
        (tmp_path / "blocked" / "events").write_text("not a directory")
        failing = settings.replace(warehouse_uri=str(tmp_path / "blocked"))
        stop.set()
        await task
        stop = asyncio.Event()
        sink = WarehouseSink(nc=nc, settings=failing, name="dlq-2")
        task = asyncio.create_task(sink.run(stop))
        await publish(nc, settings, app_id, 1)
        await wait_for(lambda: consumer_settled(nc, settings), timeout=30)
        assert sink.stats.write_failures == 2 and sink.stats.dead_lettered == 1
    finally:
        stop.set()
        await task
    # the session's Serve app consumes (and dead-letters) the same subjects: keep our consumer's
    letters = [
        m
        for m in await _dead_letters(nc, settings, app_id)
        if m.headers["Causality-Consumer"] == settings.sink_consumer
    ]
    reasons = sorted(m.headers["Causality-Dead-Letter-Reason"].split(":")[0] for m in letters)
    assert reasons == ["undecodable event", "write failed"]
