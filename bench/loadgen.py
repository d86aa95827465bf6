"""A cheap HTTP/1.1 load generator, identical for every target so that ratios are fair.

Each of ``concurrency`` keep-alive connections is an ``asyncio.Protocol`` that writes one
pre-built request, parses the status line and ``Content-Length`` of the answer, and writes the
next: no HTTP library, no coroutine per request. It runs in its own process (uvloop when
installed) so it never shares a GIL with the server it measures.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from array import array
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

from bench.events import BodyFactory


@dataclass(frozen=True)
class LoadSpec:
    """What to send, where, how hard and for how long."""

    host: str
    port: int
    path: str
    api_key: str
    events_per_request: int
    key_prefix: str
    concurrency: int
    seconds: float
    warmup_s: float = 1.0


@dataclass
class LoadResult:
    """Counts of the measured window, and the latency of every answer in it (seconds)."""

    seconds: float
    ok: int = 0
    events: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    latencies: array = field(default_factory=lambda: array("d"))
    first_error: str = ""

    @property
    def failed(self) -> int:
        return sum(n for code, n in self.statuses.items() if code != 202) + self.connection_errors


class _Window:
    """Shared state of the run: the measured window and what happened in it."""

    def __init__(self, spec: LoadSpec, result: LoadResult) -> None:
        self.spec = spec
        self.result = result
        self.bodies = BodyFactory(size=spec.events_per_request, prefix=spec.key_prefix)
        self.head = (
            f"POST {spec.path} HTTP/1.1\r\nHost: {spec.host}:{spec.port}\r\n"
            f"X-API-Key: {spec.api_key}\r\nContent-Type: application/json\r\n"
            "Content-Length: "
        ).encode()
        now = time.perf_counter()
        self.start = now + spec.warmup_s
        self.end = self.start + spec.seconds
        self.stopping = False
        self.open = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.all_closed = asyncio.get_running_loop().create_future()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """A background (re)connect, referenced until done."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def request(self) -> bytes:
        body = self.bodies()
        return b"".join((self.head, str(len(body)).encode(), b"\r\n\r\n", body))

    def done(self, status: int, sent_at: float, body: bytes) -> None:
        now = time.perf_counter()
        if self.start <= now <= self.end:
            r = self.result
            r.statuses[status] += 1
            r.latencies.append(now - sent_at)
            if status == 202:
                r.ok += 1
                r.events += self.spec.events_per_request
            elif not r.first_error:
                r.first_error = f"{status}: {body[:300]!r}"


class _Client(asyncio.Protocol):
    """One keep-alive connection sending requests back to back."""

    def __init__(self, window: _Window) -> None:
        self._w = window
        self._buf = bytearray()
        self._need = -1
        self._status = 0
        self._body_at = 0
        self._sent_at = 0.0
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._w.open += 1
        self._send()

    def _send(self) -> None:
        assert self._transport is not None
        if self._w.stopping or time.perf_counter() > self._w.end:
            self._transport.close()
            return
        self._sent_at = time.perf_counter()
        self._transport.write(self._w.request())

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        while True:
            if self._need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buf[:end]).lower()
                self._status = int(head[9:12])
                at = head.find(b"\r\ncontent-length:")
                if at < 0:
                    raise RuntimeError(f"answer without Content-Length: {head[:200]!r}")
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : stop if stop > 0 else len(head)])
                self._need = end + 4 + length
                self._body_at = end + 4
            if len(buf) < self._need:
                return
            body = bytes(buf[self._body_at : self._need])
            del buf[: self._need]
            self._need = -1
            self._w.done(self._status, self._sent_at, body)
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        w = self._w
        w.open -= 1
        now = time.perf_counter()
        if exc is not None or (not w.stopping and now < w.end):
            if w.start <= now <= w.end:
                w.result.connection_errors += 1
                w.result.first_error = w.result.first_error or f"connection lost: {exc!r}"
            if not w.stopping and now < w.end:
                w.spawn(_connect(w))
                return
        if w.open == 0 and not w.all_closed.done():
            w.all_closed.set_result(None)


async def _connect(window: _Window) -> None:
    loop = asyncio.get_running_loop()
    try:
        await loop.create_connection(lambda: _Client(window), window.spec.host, window.spec.port)
    except OSError as exc:
        window.result.connection_errors += 1
        window.result.first_error = window.result.first_error or f"connect: {exc!r}"
        await asyncio.sleep(0.1)
        if time.perf_counter() < window.end:
            window.spawn(_connect(window))


async def _run(spec: LoadSpec) -> LoadResult:
    result = LoadResult(seconds=spec.seconds)
    window = _Window(spec, result)
    for _ in range(spec.concurrency):
        await _connect(window)
    await asyncio.sleep(max(0.0, window.end - time.perf_counter()))
    window.stopping = True
    try:  # let answers in flight arrive (not counted) so the server sees clean closes
        await asyncio.wait_for(asyncio.shield(window.all_closed), timeout=10)
    except TimeoutError:
        pass
    return result


def _child(spec: LoadSpec, conn: mp.connection.Connection) -> None:
    try:
        import uvloop

        result = uvloop.run(_run(spec))
    except ImportError:
        result = asyncio.run(_run(spec))
    conn.send(result)
    conn.close()


def run_load(spec: LoadSpec, *, processes: int = 1) -> LoadResult:
    """Run the load from ``processes`` child processes; their results are merged."""
    ctx = mp.get_context("spawn")
    children = []
    for i in range(processes):
        share = spec.concurrency // processes + (1 if i < spec.concurrency % processes else 0)
        part = LoadSpec(
            **{**spec.__dict__, "concurrency": share, "key_prefix": f"{spec.key_prefix}p{i}"}
        )
        parent_end, child_end = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(part, child_end), daemon=True)
        proc.start()
        child_end.close()
        children.append((proc, parent_end))
    merged = LoadResult(seconds=spec.seconds)
    try:
        for proc, pipe in children:
            if not pipe.poll(spec.warmup_s + spec.seconds + 60):
                raise RuntimeError("load generator did not report")
            r: LoadResult = pipe.recv()
            merged.ok += r.ok
            merged.events += r.events
            merged.statuses.update(r.statuses)
            merged.connection_errors += r.connection_errors
            merged.latencies.extend(r.latencies)
            merged.first_error = merged.first_error or r.first_error
            proc.join(timeout=10)
    finally:
        for proc, _ in children:
            if proc.is_alive():
                proc.kill()
                proc.join()
    return merged
