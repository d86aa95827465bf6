"""The asyncio client: ``track`` is a plain (non-async) call, one task delivers.

``track`` never awaits, so it can be called from sync code running on the loop (a
Starlette dependency, a logging hook) as well as from coroutines; it must be called from
the loop's thread. Delivery, retries and backoff run in a background task started on the
first ``track`` (or ``start``); a disk queue's SQLite work runs in a worker thread so the
loop never waits on the file. There is no atexit hook (the loop is gone by then): use
``async with AsyncClient(...)`` or ``await client.aclose()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from types import TracebackType
from typing import TYPE_CHECKING

from causality_sdk.queue import Batch, MemoryQueue
from causality_sdk.tracker import DEFAULT_HOST, Tracker
from causality_sdk.transport import AsyncTransport, Verdict, log_retry, log_settled

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from typing_extensions import Self, Unpack

    from causality_sdk.options import ClientOptions

    T = TypeVar("T")

log = logging.getLogger("causality_sdk")


class AsyncClient(Tracker):
    """Track events from asyncio code; the options are those listed on ``Tracker``."""

    def __init__(
        self, api_key: str, host: str = DEFAULT_HOST, **options: Unpack[ClientOptions]
    ) -> None:
        super().__init__(api_key, host, **options)
        self._transport = AsyncTransport(
            host=self.host, api_key=api_key, timeout=self._timeout, compress=self._gzip
        )
        self._on_disk = not isinstance(self._queue, MemoryQueue)
        self._wake: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._progress: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._aborting = False

    async def _io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Queue operations: inline for memory, in a thread for SQLite."""
        if self._on_disk:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    # -- handing over

    def start(self) -> None:
        """Start the sender task on the running loop (``track`` does this on first use)."""
        if self._task is None and not self._closed:
            self._wake = asyncio.Event()
            self._idle = asyncio.Event()
            self._idle.set()
            self._progress = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="causality-sender"
            )

    def _enqueue(self, body: bytes) -> None:
        if self._task is None:
            self.start()  # outside a running loop this raises before anything is queued
        assert self._wake is not None
        self._queue.put(body)
        if self._queue.buffered() >= self._flush_at:
            self._wake.set()

    # -- the sender task

    async def _run(self) -> None:
        assert self._wake is not None and self._idle is not None and self._progress is not None
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_interval)
            self._wake.clear()
            closing = self._closing
            self._idle.clear()
            try:
                await self._drain()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("causality: delivery failed unexpectedly; retrying")
                await asyncio.sleep(self._flush_interval)
            finally:
                self._idle.set()
                self._progress.set()
            if closing or self._aborting:
                return

    async def _drain(self) -> None:
        while not self._aborting:
            batch = await self._io(
                self._queue.lease,
                max_events=self._max_batch_events,
                max_bytes=self._max_batch_bytes,
            )
            if batch is None:
                await self._io(self._queue.persist)
                return
            self._in_flight = len(batch)
            try:
                settled = await self._deliver(batch)
            except BaseException:
                await asyncio.shield(self._io(self._queue.release, batch))
                raise
            finally:
                self._in_flight = 0
            if not settled:
                await self._io(self._queue.release, batch)
                return
            await self._io(self._queue.ack, batch)
            assert self._progress is not None
            self._progress.set()

    async def _deliver(self, batch: Batch) -> bool:
        """Send until every event is settled; False when aclose() gave up first."""
        chunks = [batch.bodies]  # a stack: a 413 splits the chunk on top in two
        attempt = 0
        while chunks:
            bodies = chunks[-1]
            outcome = await self._transport.send(bodies)
            self._requests += 1
            if outcome.verdict is Verdict.RETRY:
                self._retries += 1
                attempt += 1
                delay = self._backoff.delay(attempt, retry_after=outcome.retry_after)
                log_retry(outcome, len(bodies), attempt=attempt, delay=delay)
                await asyncio.sleep(delay)
                if self._aborting:
                    return False
                await self._io(self._queue.renew, batch)
                continue
            attempt = 0
            chunks.pop()
            if outcome.verdict is Verdict.TOO_LARGE and len(bodies) > 1:
                half = len(bodies) // 2
                chunks += [bodies[half:], bodies[:half]]
                continue
            log_settled(outcome, bodies)
            self._record(outcome, len(bodies))
        return True

    # -- flush and close

    async def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now and wait until the queue is empty; False on timeout."""
        if self._task is None:
            self.start()
        if self._task is None:  # closed
            return await self._io(self._queue.pending) == 0
        assert self._wake and self._idle and self._progress
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._progress.clear()
            # the queue first: events being moved by the sender are counted nowhere, but
            # then it is not idle, which the next check sees
            pending = await self._io(self._queue.pending)
            if pending == 0 and self._idle.is_set():
                return True
            if self._task.done():
                return False
            if pending:  # only then: a wake-up with nothing to send just keeps it busy
                self._wake.set()
            wait = 0.2
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    return False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._progress.wait(), wait)

    async def aclose(self, timeout: float | None = None) -> None:
        """Deliver what is queued (for up to ``timeout``, default ``shutdown_timeout``), then
        stop. Undelivered events are logged: lost in memory, kept in a disk queue's file."""
        if self._closed:
            return
        self._closed = True
        timeout = self._shutdown_timeout if timeout is None else timeout
        task = self._task
        if task is not None and not task.done():
            assert self._wake is not None
            self._closing = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout)
            except asyncio.TimeoutError:
                self._aborting = True
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        left = await self._io(self._queue.pending)
        await self._io(self._queue.close)
        await self._transport.aclose()
        if left:
            where = "kept in the queue file for the next run" if self._on_disk else "lost"
            log.warning("causality: %d events not delivered at close: %s", left, where)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
