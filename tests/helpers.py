"""Small helpers shared by integration tests (servers in threads, polling, event builders)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app: ASGIApp, *, port: int | None = None) -> Iterator[str]:
    """Run an ASGI app under uvicorn in a thread (lifespan on) and yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


async def wait_for(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 60.0, interval: float = 0.5
) -> Any:
    """Poll an async check until it returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def envelope(**overrides: Any) -> dict[str, Any]:
    """A valid screen_view envelope with a fresh idempotency key."""
    event: dict[str, Any] = {
        "type": "screen_view",
        "device_id": f"dev-{uuid.uuid4().hex[:8]}",
        "idempotency_key": str(uuid.uuid4()),
        "timestamp_ms": int(time.time() * 1000),
        "properties": {"screen_name": "home"},
    }
    event.update(overrides)
    return event
