"""A real HTTP(S) webhook receiver for tests: records every request, can fail, hang or vanish.

It runs uvicorn in a thread on a fixed port, so ``stop()`` makes the port refuse connections
(a receiver that is down) and ``start()`` brings it back on the same address.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.helpers import free_port

Mode = Literal["ok", "fail", "hang", "redirect", "big"]


@dataclass(frozen=True)
class Received:
    """One request as it arrived, and what the receiver answered."""

    delivery_id: str
    headers: dict[str, str]
    body: bytes
    answered: int
    path: str


@dataclass
class WebhookReceiver:
    """Records requests to any path; ``mode`` decides the answer (ok: 200, fail: 503 "busy",
    hang: wait until ``release()`` then 200, redirect: 302 to the metadata address, big: 503
    with a 4 MB body)."""

    port: int = field(default_factory=free_port)
    certfile: str | None = None
    keyfile: str | None = None
    mode: Mode = "ok"
    _records: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.certfile else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def records(self) -> list[Received]:
        with self._lock:
            return list(self._records)

    def ids(self) -> Counter[str]:
        """How many times each delivery id arrived."""
        return Counter(r.delivery_id for r in self.records())

    def clear(self) -> None:
        """Forget what arrived so far (a module-scoped receiver shared by tests)."""
        with self._lock:
            self._records.clear()

    def release(self) -> None:
        """Let hanging requests (and later ones) answer 200."""
        self._released.set()

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        mode = self.mode
        answer = {"ok": 200, "hang": 200, "fail": 503, "redirect": 302, "big": 503}[mode]
        with self._lock:
            self._records.append(
                Received(
                    delivery_id=request.headers.get("x-causality-delivery", ""),
                    headers=dict(request.headers),
                    body=body,
                    answered=answer,
                    path=request.url.path,
                )
            )
        if mode == "hang":
            # a threading.Event: release() is called from the test's thread
            while not self._released.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        if mode == "fail":
            return Response(b"busy" + b"." * 300, status_code=503)
        if mode == "redirect":
            return Response(status_code=302, headers={"Location": "http://169.254.169.254/"})
        if mode == "big":
            return Response(b"x" * (4 * 1024 * 1024), status_code=503)
        return Response(b'{"ok":true}', media_type="application/json")

    def start(self) -> None:
        """Listen on ``port`` (again)."""
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ssl_certfile=self.certfile,
            ssl_keyfile=self.keyfile,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("webhook receiver did not start")
            time.sleep(0.02)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop listening: connections to the port are refused until ``start()``."""
        if self._server is None or self._thread is None:
            return
        self._released.set()
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._server = self._thread = None
        # the port must really refuse now, or the test would not test an outage
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", self.port)) != 0

    def __enter__(self) -> WebhookReceiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
