"""The demo sender against a tiny real HTTP server (Starlette on uvicorn, in a thread).

No httpx mocks: gzip, headers, Retry-After and cancellation are exactly the parts a mock
would get wrong.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from causality.demo import DemoStats, TrafficGenerator, stream_traffic
from causality.demo.sender import _retry_after

KEYS = {"shop-mobile": "key-mobile", "shop-web": "key-web"}


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    events: list[dict[str, Any]]


@dataclass
class FakeGateway:
    """Records gzip bodies; answers from ``script`` first ("throttle", "hang"), then 202."""

    url: str = ""
    script: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def batch(self, request: Request) -> Response:
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        events = json.loads(gzip.decompress(raw))["events"]
        with self.lock:
            self.received.append(Received(at=time.monotonic(), headers=headers, events=events))
            mode = self.script.pop(0) if self.script else "accept"
        if mode == "throttle":
            return JSONResponse(
                {"error": "rate_limited"}, status_code=429, headers={"Retry-After": "1"}
            )
        if mode == "hang":
            # The body is read, so the next ASGI message is the client giving up.
            await request.receive()
        body = {"accepted": len(events) - 1, "duplicates": 0, "rejected": 1}
        body["errors"] = [{"index": 0, "field": "timestamp_ms", "reason": "test"}]
        return JSONResponse(body, status_code=202)


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    fake = FakeGateway()
    app = Starlette(routes=[Route("/api/v1/events/batch", fake.batch, methods=["POST"])])
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield fake
    server.should_exit = True
    server.force_exit = True
    thread.join(timeout=5)
    sock.close()


def _generator() -> TrafficGenerator:
    return TrafficGenerator(app_ids=list(KEYS), seed=5)


async def _wait_for(condition: Any, *, within_s: float = 5.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def test_posts_gzip_batches_with_each_apps_key(gateway: FakeGateway) -> None:
    stop = asyncio.Event()
    results: list[tuple[str, int, dict[str, Any]]] = []
    task = asyncio.create_task(
        stream_traffic(
            base_url=gateway.url + "/",
            api_keys=KEYS,
            events_per_s=200,
            stop=stop,
            generator=_generator(),
            on_result=lambda app, status, body: results.append((app, status, body)),
            interval_s=0.1,
        )
    )
    await _wait_for(lambda: len(results) >= 6)
    stop.set()
    stats = await asyncio.wait_for(task, 2)

    assert isinstance(stats, DemoStats)
    for request in gateway.received:
        assert request.headers["content-encoding"] == "gzip"
        assert request.headers["content-type"] == "application/json"
        app = {key: app for app, key in KEYS.items()}[request.headers["x-api-key"]]
        assert request.events and all("app_id" not in e for e in request.events)
        web = {e["device_context"]["platform"] == "web" for e in request.events}
        assert web == {app == "shop-web"}
    assert {app for app, _, _ in results} == set(KEYS)
    answered = [body for _, status, body in results if status == 202]
    assert stats.sent == sum(b["accepted"] + b["rejected"] for b in answered)
    assert stats.accepted == sum(b["accepted"] for b in answered)
    assert stats.rejected == len(answered)
    assert stats.failed_requests == stats.throttled == stats.dropped == 0


async def test_429_waits_for_retry_after_and_resends_the_batch(gateway: FakeGateway) -> None:
    gateway.script = ["throttle"]
    stop = asyncio.Event()
    statuses: list[int] = []
    task = asyncio.create_task(
        stream_traffic(
            base_url=gateway.url,
            api_keys={"shop-web": "key-web"},
            events_per_s=100,
            stop=stop,
            generator=TrafficGenerator(app_ids=["shop-web"], seed=1),
            on_result=lambda _app, status, _body: statuses.append(status),
            interval_s=0.1,
        )
    )
    await _wait_for(lambda: len(statuses) >= 2)
    stop.set()
    stats = await asyncio.wait_for(task, 2)

    first, second = gateway.received[:2]
    assert second.at - first.at >= 0.9, "Retry-After: 1 was not honoured"
    kept = [e["idempotency_key"] for e in first.events]
    assert [e["idempotency_key"] for e in second.events[: len(kept)]] == kept
    assert len(second.events) > len(kept), "events generated while waiting were queued"
    assert statuses[:2] == [429, 202]
    assert stats.throttled == 1
    assert stats.sent >= len(second.events)


async def test_stop_abandons_a_request_in_flight(gateway: FakeGateway) -> None:
    gateway.script = ["hang"]
    stop = asyncio.Event()
    async with httpx.AsyncClient(trust_env=False) as client:
        task = asyncio.create_task(
            stream_traffic(
                base_url=gateway.url,
                api_keys={"shop-web": "key-web"},
                events_per_s=50,
                stop=stop,
                generator=TrafficGenerator(app_ids=["shop-web"], seed=2),
                client=client,
                interval_s=0.1,
            )
        )
        await _wait_for(lambda: len(gateway.received) >= 1)
        started = time.monotonic()
        stop.set()
        stats = await asyncio.wait_for(task, 2)
        assert time.monotonic() - started < 0.5
        assert not client.is_closed, "a caller's client stays open"
    assert stats.sent == 0


async def test_network_errors_back_off_and_never_raise() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before use: nothing listens there
    statuses: list[int] = []
    stop = asyncio.Event()
    task = asyncio.create_task(
        stream_traffic(
            base_url=f"http://127.0.0.1:{port}",
            api_keys={"shop-web": "key-web"},
            events_per_s=100,
            stop=stop,
            generator=TrafficGenerator(app_ids=["shop-web"], seed=3),
            on_result=lambda _app, status, _body: statuses.append(status),
            interval_s=0.05,
        )
    )
    await asyncio.sleep(1.2)
    stop.set()
    stats = await asyncio.wait_for(task, 2)
    # Backoff 0.5 s then 1 s: two or three attempts in 1.2 s, not one per 50 ms tick.
    assert 2 <= stats.failed_requests <= 3
    assert set(statuses) == {0}
    assert stats.sent == 0


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert _retry_after("2") == 2.0
    assert _retry_after(None) is None
    assert _retry_after("soon") is None
    assert _retry_after("99999") == 60.0
    assert _retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
