"""The Python SDK (sdk/python) against the real gateway, never a mock of it.

The gateway is ``build_gateway_app`` under uvicorn in a thread (``serve_in_thread``) on a fixed
port, so a test can stop it and start it again at the same address; each start has its own
Prometheus registry, so ``/metrics`` counts exactly this test's requests and events. Tests
about storage read the warehouse that the session's Serve sinks write (``serve_stack``) with
DuckDB and count idempotency keys. Exits, crashes and forks run in child processes
(``tests/sdk/programs.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from causality_sdk import AsyncClient, Client, SQLiteQueue
from prometheus_client.parser import text_string_to_metric_families

from causality.config import Settings
from causality.embedded.nats import EmbeddedNats
from causality.gateway.app import build_gateway_app
from causality.query.duckdb_engine import DuckDBEngine
from causality.stack import ServeStack
from tests.helpers import free_port, serve_in_thread, wait_for

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
QUIET: dict[str, Any] = {"flush_interval": 3600.0, "flush_at": 1_000_000}
"""Client options under which nothing is sent until flush, close or a size trigger."""
FAST_RETRY: dict[str, Any] = {"retry_base": 0.1, "retry_cap": 0.5}


# -- the gateway, its metrics, the warehouse ------------------------------------------------


class Gateway:
    """The real gateway app under uvicorn in a thread; stop() and start() keep the port."""

    def __init__(self, settings: Settings, *, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._running: AbstractContextManager[str] | None = None

    def start(self) -> None:
        assert self._running is None
        self._running = serve_in_thread(build_gateway_app(self.settings), port=self.port)
        self._running.__enter__()

    def stop(self) -> None:
        if self._running is not None:
            running, self._running = self._running, None
            running.__exit__(None, None, None)

    def samples(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples().items() if n == name and want <= ls)

    def ingested(self, app_id: str) -> int:
        return int(self.metric("causality_events_ingested_total", app_id=app_id))

    def requests(self, status: str | None = None) -> int:
        labels = {"route": "batch"} | ({"status": status} if status else {})
        return int(self.metric("causality_ingest_requests_total", **labels))


@pytest.fixture
def gateway(base_settings: Settings) -> Iterator[Gateway]:
    g = Gateway(base_settings)
    g.start()
    yield g
    g.stop()


async def stored_keys(settings: Settings, app_id: str) -> Counter[str]:
    """Idempotency key -> rows in the warehouse, for one app."""
    engine = DuckDBEngine(settings=settings)
    try:
        result = await engine.query(
            "SELECT idempotency_key, count(*) FROM events GROUP BY 1",
            app_ids=frozenset({app_id}),
            limit=100_000,
        )
    finally:
        await engine.close()
    return Counter({key: int(n) for key, n in result.rows})


async def wait_stored(settings: Settings, app_id: str, keys: list[str]) -> Counter[str]:
    """Wait until every key is in the warehouse; return what is stored."""

    async def check() -> Counter[str] | None:
        got = await stored_keys(settings, app_id)
        return got if set(keys) <= set(got) else None

    await wait_for(check, timeout=120)
    await asyncio.sleep(2)  # a late duplicate would land within a sink flush interval
    return await stored_keys(settings, app_id)


async def wait_ingested(gateway: Gateway, app_id: str, n: int, *, timeout: float = 30) -> None:
    async def check() -> bool:
        return await asyncio.to_thread(gateway.ingested, app_id) >= n

    await wait_for(check, timeout=timeout, interval=0.1)


def run_program(*args: str, timeout: float = 120) -> tuple[int, list[dict[str, Any]]]:
    """Run a ``tests.sdk.programs`` scenario; its exit code and the JSON lines it printed."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.sdk.programs", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode not in (0, 3):
        pytest.fail(f"program {args[0]} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc.returncode, lines


# -- batching and flushing ------------------------------------------------------------------


async def test_a_batch_goes_as_soon_as_flush_at_events_wait(
    gateway: Gateway, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    client = Client(key, gateway.url, flush_at=10, max_batch_events=10, flush_interval=3600)
    try:
        for i in range(30):
            client.custom("size trigger", {"i": i})
        await wait_ingested(gateway, app_id, 30, timeout=15)  # long before the 1 h interval
        batches = gateway.metric("causality_ingest_batch_events_count")
        small = gateway.metric("causality_ingest_batch_events_bucket", le="10.0")
        assert batches == small == 3, "three requests of at most ten events"
        assert client.stats().delivered == 30
    finally:
        await asyncio.to_thread(client.close)


async def test_what_waits_is_sent_every_flush_interval(
    gateway: Gateway, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    started = time.monotonic()
    client = Client(key, gateway.url, flush_at=1000, flush_interval=0.5)
    try:
        for i in range(5):
            client.custom("interval trigger", {"i": i})
        await wait_ingested(gateway, app_id, 5, timeout=10)
        assert 0.4 <= time.monotonic() - started < 5
        assert gateway.requests() == 1, "the five events travel together"
    finally:
        await asyncio.to_thread(client.close)


async def test_close_delivers_everything_queued(
    gateway: Gateway, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key

    def track_and_close() -> Client:
        with Client(key, gateway.url, **QUIET) as client:
            for i in range(250):
                client.screen_view(screen_name=f"screen-{i}")
        return client

    client = await asyncio.to_thread(track_and_close)
    assert gateway.ingested(app_id) == 250, "close() returns after delivery"
    stats = client.stats()
    assert (stats.tracked, stats.delivered, stats.queued) == (250, 250, 0)


async def test_exit_delivers_through_atexit(
    gateway: Gateway, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    code, out = await asyncio.to_thread(run_program, "at_exit", gateway.url, key, "40")
    assert code == 0 and len(out[0]["keys"]) == 40
    assert gateway.ingested(app_id) == 40


# -- what is not retried, and 429 ---------------------------------------------------------------


async def test_validation_errors_are_logged_and_not_retried(
    gateway: Gateway, app_with_key: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    app_id, key = app_with_key
    caplog.set_level(logging.WARNING, logger="causality_sdk")
    client = Client(key, gateway.url, **QUIET, retry_base=0.05)
    try:
        for i in range(3):
            client.screen_view(screen_name=f"s{i}")
        bad_currency = client.track("add_to_cart", {"product_id": "p-1", "currency": "eur"})
        client.track("no_such_type")
        assert await asyncio.to_thread(client.flush, 10)
        stats = client.stats()
        assert (stats.delivered, stats.rejected, stats.requests, stats.retries) == (3, 2, 1, 0)
        assert gateway.requests() == gateway.requests("202") == 1
        assert gateway.ingested(app_id) == 3
        text = caplog.text
        assert f"event 3 rejected (type 'add_to_cart', idempotency_key {bad_currency})" in text
        assert "field properties.currency" in text
        assert "event 4 rejected (type 'no_such_type'" in text and "field type" in text

        # a batch whose every event is invalid is a 400: refused, logged, sent once
        client.track("no_such_type")
        client.track("add_to_cart", {"product_id": 5})
        assert await asyncio.to_thread(client.flush, 10)
        await asyncio.sleep(1.5)  # time for retries, were there any
        assert gateway.requests("400") == 1 and gateway.requests() == 2
        assert client.stats().rejected == 4
        assert "refused, not retried: HTTP 400 all_events_rejected" in caplog.text
    finally:
        await asyncio.to_thread(client.close)

    # an unknown API key: 401, once
    stranger = Client("ck_not_a_real_key", gateway.url, **QUIET, retry_base=0.05)
    stranger.custom("lost", {"n": 1})
    assert await asyncio.to_thread(stranger.flush, 10)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stranger.close)
    assert gateway.requests("401") == 1
    assert stranger.stats().rejected == 1 and stranger.stats().retries == 0
    assert "HTTP 401" in caplog.text


async def test_429_waits_for_retry_after_and_delivers_everything(
    base_settings: Settings, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    limited = Gateway(base_settings.replace(rate_limit_events_per_s=20, rate_limit_burst=20))
    await asyncio.to_thread(limited.start)
    # a backoff of at most 0.1 s: only Retry-After (>= 1 s from this gateway) slows it down
    client = Client(
        key, limited.url, flush_at=10, max_batch_events=10, retry_base=0.05, retry_cap=0.1
    )
    try:
        started = time.monotonic()
        keys = [client.custom("rate limited", {"i": i}) for i in range(100)]
        assert await asyncio.to_thread(client.flush, 60)
        elapsed = time.monotonic() - started
        assert limited.ingested(app_id) == 100 and len(set(keys)) == 100
        assert limited.requests("202") == 10
        refused = limited.requests("429")
        assert refused >= 1 and client.stats().retries == refused
        # each 429 said "Retry-After: 1" (or more) and the client waited that long
        assert refused <= elapsed + 1, (refused, elapsed)
        assert elapsed >= 3.5  # 80 events past the burst at 20 events/s
    finally:
        await asyncio.to_thread(client.close)
        await asyncio.to_thread(limited.stop)


# -- forks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("queue", ["memory", "sqlite"])
async def test_forked_workers_deliver_their_own_events_once(
    gateway: Gateway, app_with_key: tuple[str, str], tmp_path: Path, queue: str
) -> None:
    app_id, key = app_with_key
    path = str(tmp_path / "events.db") if queue == "sqlite" else ""
    _, out = await asyncio.to_thread(run_program, "fork", gateway.url, key, "2", path)
    master = next(o for o in out if o["role"] == "master")
    workers = [o for o in out if o["role"] == "worker"]
    assert master["child_codes"] == [0, 0] and len(workers) == 2
    assert all(w["flushed"] for w in workers)
    # the master's 5 + 3 and each worker's 7, each once: no child resent the master's queue
    assert gateway.ingested(app_id) == 5 + 3 + 2 * 7, out
    assert gateway.metric("causality_events_duplicate_total", app_id=app_id) == 0
    delivered = [master["stats"]["delivered"]] + [w["stats"]["delivered"] for w in workers]
    assert sum(delivered) == 22
    if queue == "memory":  # each process delivers exactly what it tracked
        assert delivered == [8, 7, 7]
        assert [w["stats"]["tracked"] for w in workers] == [7, 7]


# -- outages: every event stored exactly once -----------------------------------------------


class LossyProxy:
    """A TCP proxy that swallows the first ``drop`` answers of the gateway behind it.

    The gateway has stored the batch when its answer is lost, so the SDK's retry sends
    events the gateway already has: the idempotency keys must make that harmless.
    """

    def __init__(self, target_port: int, *, drop: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._drop = drop
        self._lock = threading.Lock()
        self.dropped = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def __enter__(self) -> LossyProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError), client:
            with socket.create_connection(self._target) as upstream:
                threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
                while data := upstream.recv(65536):
                    with self._lock:
                        lose = self.dropped < self._drop
                        self.dropped += lose
                    if lose:  # the answer never arrives; shutdown also wakes _pipe's recv
                        client.shutdown(socket.SHUT_RDWR)
                        return
                    client.sendall(data)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
        dst.shutdown(socket.SHUT_WR)


@pytest.mark.ray
async def test_events_arrive_once_after_the_gateway_was_down(
    serve_stack: ServeStack, base_settings: Settings, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    gateway = Gateway(base_settings)
    await asyncio.to_thread(gateway.start)
    client = Client(key, gateway.url, flush_interval=0.1, **FAST_RETRY)
    try:
        before = [client.custom("before outage", {"i": i}) for i in range(10)]
        assert await asyncio.to_thread(client.flush, 15)
        await asyncio.to_thread(gateway.stop)
        during = [client.custom("during outage", {"i": i}) for i in range(40)]

        async def retrying() -> bool:
            return client.stats().retries >= 3

        await wait_for(retrying, timeout=30, interval=0.1)
        assert client.stats().queued == 40
        await asyncio.to_thread(gateway.start)  # same address
        assert await asyncio.to_thread(client.flush, 30)
        stats = client.stats()
        assert (stats.delivered, stats.duplicates, stats.queued) == (50, 0, 0)
    finally:
        await asyncio.to_thread(client.close)
        await asyncio.to_thread(gateway.stop)
    stored = await wait_stored(base_settings, app_id, before + during)
    assert stored == Counter({k: 1 for k in before + during})


@pytest.mark.ray
async def test_a_retry_after_a_lost_answer_is_stored_once(
    serve_stack: ServeStack,
    gateway: Gateway,
    base_settings: Settings,
    app_with_key: tuple[str, str],
) -> None:
    app_id, key = app_with_key
    with LossyProxy(gateway.port, drop=2) as proxy:
        client = Client(key, proxy.url, **QUIET, **FAST_RETRY)
        keys = [client.add_to_cart(product_id=f"p-{i}", quantity=1) for i in range(20)]
        assert await asyncio.to_thread(client.flush, 30)
        await asyncio.to_thread(client.close)
    assert proxy.dropped == 2
    stats = client.stats()
    assert (stats.requests, stats.retries, stats.duplicates, stats.delivered) == (3, 2, 20, 0)
    assert gateway.ingested(app_id) == 20
    assert gateway.metric("causality_events_duplicate_total", app_id=app_id) == 40
    stored = await wait_stored(base_settings, app_id, keys)
    assert stored == Counter({k: 1 for k in keys})


@pytest.mark.ray
async def test_503_while_nats_is_down_is_retried(
    serve_stack: ServeStack,
    gateway: Gateway,
    nats_server: EmbeddedNats,
    base_settings: Settings,
    app_with_key: tuple[str, str],
) -> None:
    app_id, key = app_with_key
    client = Client(key, gateway.url, flush_interval=0.1, **FAST_RETRY)
    try:
        client.custom("warm up")  # the key is cached: the outage is about NATS only
        assert await asyncio.to_thread(client.flush, 15)
        nats_server.stop()
        try:
            keys = [client.custom("nats outage", {"i": i}) for i in range(20)]

            async def refused() -> bool:
                return gateway.requests("503") >= 1

            await wait_for(refused, timeout=30, interval=0.2)
        finally:
            nats_server.start()
        assert await asyncio.to_thread(client.flush, 60)
    finally:
        await asyncio.to_thread(client.close)
    stored = await wait_stored(base_settings, app_id, keys)
    assert all(stored[k] == 1 for k in keys)


@pytest.mark.ray
async def test_the_disk_queue_survives_a_restart(
    serve_stack: ServeStack,
    base_settings: Settings,
    app_with_key: tuple[str, str],
    tmp_path: Path,
) -> None:
    app_id, key = app_with_key
    gateway = Gateway(base_settings)  # not started: nothing listens at its address yet
    queue = str(tmp_path / "events.db")

    # one process gives up at close, one dies without closing; both with the gateway down
    _, (closed,) = await asyncio.to_thread(run_program, "disk_down", gateway.url, key, queue, "30")
    assert closed["stats"]["delivered"] == 0 and closed["stats"]["retries"] >= 1
    code, (crashed,) = await asyncio.to_thread(
        run_program, "disk_crash", gateway.url, key, queue, "20"
    )
    assert code == 3
    keys = closed["keys"] + crashed["keys"]

    await asyncio.to_thread(gateway.start)
    try:
        _, (drained,) = await asyncio.to_thread(run_program, "disk_drain", gateway.url, key, queue)
        assert drained["flushed"] and drained["stats"]["delivered"] == 50
        assert drained["stats"]["tracked"] == 0
    finally:
        await asyncio.to_thread(gateway.stop)
    stored = await wait_stored(base_settings, app_id, keys)
    assert stored == Counter({k: 1 for k in keys})
    left = SQLiteQueue(queue, max_size=10)
    assert left.pending() == 0
    left.close()


# -- asyncio ---------------------------------------------------------------------------------


async def test_asyncio_client_batches_and_delivers_on_close(
    gateway: Gateway, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    async with AsyncClient(
        key, gateway.url, flush_at=10, max_batch_events=10, flush_interval=3600
    ) as client:
        keys = [client.custom("async", {"i": i}) for i in range(25)]
        await wait_ingested(gateway, app_id, 25, timeout=15)  # long before the 1 h interval
        assert gateway.metric("causality_ingest_batch_events_count") == 3
        keys += [client.custom("async", {"i": i}) for i in range(25, 30)]  # under flush_at
        await asyncio.sleep(0.5)
        assert await asyncio.to_thread(gateway.ingested, app_id) == 25
    assert len(set(keys)) == 30
    assert await asyncio.to_thread(gateway.ingested, app_id) == 30  # the rest at close
    assert client.stats().delivered == 30


async def test_asyncio_client_retries_until_the_gateway_is_back(
    base_settings: Settings, app_with_key: tuple[str, str], tmp_path: Path
) -> None:
    app_id, key = app_with_key
    gateway = Gateway(base_settings)
    await asyncio.to_thread(gateway.start)
    client = AsyncClient(
        key, gateway.url, flush_interval=0.1, queue_path=tmp_path / "q.db", **FAST_RETRY
    )
    try:
        client.custom("before")
        assert await client.flush(timeout=15)
        await asyncio.to_thread(gateway.stop)
        for i in range(15):
            client.custom("during", {"i": i})

        async def retrying() -> bool:
            return client.stats().retries >= 2

        await wait_for(retrying, timeout=30, interval=0.1)
        await asyncio.to_thread(gateway.start)
        assert await client.flush(timeout=30)
        # this start's metrics: the 15 events of the outage, each once
        assert await asyncio.to_thread(gateway.ingested, app_id) == 15
    finally:
        await client.aclose()
        await asyncio.to_thread(gateway.stop)
    stats = client.stats()
    assert (stats.delivered, stats.duplicates) == (16, 0)
