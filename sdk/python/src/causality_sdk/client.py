"""The thread-backed client: ``track`` from any thread, one background thread delivers.

Delivery is one batch at a time, in order, retried until the gateway settles it. While a
batch is retried the queue keeps filling (and drops its oldest events past its bound), so an
outage costs memory up to ``max_queue_size`` events, never the caller's time.

Forks (gunicorn, uwsgi, multiprocessing): threads do not survive ``fork``, and sockets and
SQLite connections must not be shared with the parent. A child therefore starts with a
fresh sender thread, connection pool and an *empty* memory queue: the parent keeps, and
delivers, what it had queued; the child delivers what it tracks itself. With a disk queue
the child opens its own connection to the same file and both processes deliver from it.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from types import TracebackType
from typing import TYPE_CHECKING

from causality_sdk.queue import Batch
from causality_sdk.tracker import DEFAULT_HOST, Tracker
from causality_sdk.transport import Transport, Verdict, log_retry, log_settled

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

    from causality_sdk.options import ClientOptions

log = logging.getLogger("causality_sdk")

_LIVE: weakref.WeakSet[Client] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for client in list(_LIVE):
        client._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # POSIX; track() also notices a changed pid
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Client(Tracker):
    """Track events from ordinary (threaded, forking) Python code.

    ``Client(api_key, host)`` takes the options listed on ``Tracker``, plus ``flush_on_exit``:
    deliver what is queued when the interpreter exits (``atexit``, bounded by
    ``shutdown_timeout``). Use it as a context manager, or call ``close()``, to do the same
    earlier.
    """

    def __init__(
        self,
        api_key: str,
        host: str = DEFAULT_HOST,
        *,
        flush_on_exit: bool = True,
        **options: Unpack[ClientOptions],
    ) -> None:
        super().__init__(api_key, host, **options)
        self._transport = Transport(
            host=self.host, api_key=api_key, timeout=self._timeout, compress=self._gzip
        )
        self._flush_on_exit = flush_on_exit
        self._init_threading()
        _LIVE.add(self)
        if flush_on_exit:
            atexit.register(self._at_exit)
        self._start_worker()  # also delivers what a disk queue kept from an earlier run

    def _init_threading(self) -> None:
        self._pid = os.getpid()
        self._lifecycle = threading.Lock()
        self._wake = threading.Event()
        self._abort = threading.Event()
        self._progress = threading.Condition()
        self._closing = False
        self._busy = False
        self._in_flight = 0
        self._worker: threading.Thread | None = None

    # -- handing over

    def _enqueue(self, body: bytes) -> None:
        if self._pid != os.getpid():  # a fork the at-fork hook did not see (C-level fork)
            self._after_fork_in_child()
        self._queue.put(body)
        if self._worker is None:
            self._start_worker()
        if self._queue.buffered() >= self._flush_at and not self._wake.is_set():
            self._wake.set()

    def _start_worker(self) -> None:
        with self._lifecycle:
            if self._worker is None and not self._closed:
                worker = threading.Thread(target=self._run, name="causality-sender", daemon=True)
                worker.start()
                self._worker = worker

    # -- the sender thread

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            closing = self._closing
            try:
                self._drain()
            except Exception:
                if self._abort.is_set():
                    return  # close() gave up and closed the queue under us
                log.exception("causality: delivery failed unexpectedly; retrying")
                self._abort.wait(self._flush_interval)
            finally:
                self._busy = False
                with self._progress:
                    self._progress.notify_all()
            if closing or self._abort.is_set():
                return

    def _drain(self) -> None:
        """Deliver batches until the queue is empty (or close() gives up)."""
        self._busy = True
        while not self._abort.is_set():
            batch = self._queue.lease(
                max_events=self._max_batch_events, max_bytes=self._max_batch_bytes
            )
            if batch is None:
                self._queue.persist()
                return
            self._in_flight = len(batch)
            try:
                settled = self._deliver(batch)
            except BaseException:
                self._queue.release(batch)
                raise
            finally:
                self._in_flight = 0
            if not settled:
                self._queue.release(batch)
                return
            self._queue.ack(batch)
            with self._progress:
                self._progress.notify_all()

    def _deliver(self, batch: Batch) -> bool:
        """Send until every event is settled; False when close() gave up first."""
        chunks = [batch.bodies]  # a stack: a 413 splits the chunk on top in two
        attempt = 0
        while chunks:
            bodies = chunks[-1]
            outcome = self._transport.send(bodies)
            self._requests += 1
            if outcome.verdict is Verdict.RETRY:
                self._retries += 1
                attempt += 1
                delay = self._backoff.delay(attempt, retry_after=outcome.retry_after)
                log_retry(outcome, len(bodies), attempt=attempt, delay=delay)
                if not self._pause(delay):
                    return False
                self._queue.renew(batch)
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

    def _pause(self, delay: float) -> bool:
        """Sleep before a retry; meanwhile keep the disk buffer on disk. False on abort."""
        deadline = time.monotonic() + delay
        while (remaining := deadline - time.monotonic()) > 0:
            if self._abort.wait(min(remaining, self._flush_interval)):
                return False
            self._queue.persist()
        return not self._abort.is_set()

    # -- flush and close

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now and wait until the queue is empty.

        Returns ``False`` if ``timeout`` seconds passed first (the events stay queued and
        delivery goes on). Without a timeout it waits as long as the gateway is down.
        """
        if self._pid != os.getpid():
            self._after_fork_in_child()
        if self._worker is None:
            self._start_worker()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._progress:
            while True:
                # the queue first: while the sender moves events (lease, disk writes) they
                # may be counted nowhere, but it is busy then, which the next check sees
                pending = self._queue.pending()
                if pending == 0 and not self._busy and not self._in_flight:
                    return True
                if self._worker is None or not self._worker.is_alive():
                    return False
                if pending:  # only then: a wake-up with nothing to send just keeps it busy
                    self._wake.set()
                wait = 0.2
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        return False
                self._progress.wait(wait)

    def close(self, timeout: float | None = None) -> None:
        """Deliver what is queued (for up to ``timeout``, default ``shutdown_timeout``), then
        stop the sender. Events still undelivered are logged: lost with the memory queue,
        kept in the file with a disk queue. Later ``track`` calls are dropped."""
        with self._lifecycle:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self._at_exit)
        _LIVE.discard(self)
        timeout = self._shutdown_timeout if timeout is None else timeout
        worker = self._worker if self._pid == os.getpid() else None
        if worker is not None:
            self._closing = True
            self._wake.set()
            worker.join(timeout)
            if worker.is_alive():
                self._abort.set()
                worker.join(min(1.0, self._timeout))
        left = self._queue.pending() + self._in_flight
        self._queue.close()
        self._transport.close()
        if left:
            where = (
                "kept in the queue file for the next run"
                if hasattr(self._queue, "path")
                else "lost"
            )
            log.warning("causality: %d events not delivered at close: %s", left, where)

    def _at_exit(self) -> None:
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- fork

    def _after_fork_in_child(self) -> None:
        """Fresh thread state, connection pool and queue handle; the parent keeps its events."""
        self._init_threading()
        self._queue.after_fork_in_child()
        self._transport.after_fork_in_child()
        self._reset_counters()
