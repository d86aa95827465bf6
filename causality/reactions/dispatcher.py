"""The webhook dispatcher: drains the outbox, concurrently, as soon as something is due.

Plain asyncio (no Ray) so it runs the same in its actor, in tests and in benchmarks. Workers
each claim a small batch in a transaction (``causality.reactions.outbox``), send it
concurrently, record the attempts and commit; a LISTEN on ``causality_deliveries`` wakes them
the moment a delivery is written, and a poll catches what a notification cannot announce
(retries coming due, a missed notification, a webhook enabled again).

Nothing is lost whatever stops it: until the commit the rows are only locked, and a closed
connection or a dead process releases the locks, so the next claimer sends them again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

import asyncpg
import msgspec
from nats.aio.client import Client as NATS

from causality.config import Settings
from causality.reactions.outbox import Due, Outcome, Random, claim_due, record_attempts
from causality.reactions.sender import Attempt, WebhookSender, publish_alert

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "causality_deliveries"
MAX_BATCH = 10


class DispatcherStats(msgspec.Struct):
    """Counters for ``status()`` and metrics; outcomes are counted once committed."""

    delivered: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0
    in_flight: int = 0
    batches: int = 0
    wakeups: int = 0
    db_errors: int = 0
    last_error: str | None = None
    last_batch_at: float = 0.0


def batch_plan(concurrency: int) -> tuple[int, int]:
    """(workers, batch size) for at most ``concurrency`` sends in flight: batches amortize a
    transaction over several sends, several workers keep one slow target from stalling all."""
    concurrency = max(concurrency, 1)
    batch = min(max(concurrency // 4, 1), MAX_BATCH)
    return max(concurrency // batch, 1), batch


def pool_size_for(settings: Settings) -> int:
    """Connections a dispatcher's pool needs: one per worker plus the listener."""
    workers, _ = batch_plan(settings.dispatcher_concurrency)
    return workers + 1


class Dispatcher:
    """Sends due deliveries from the outbox until ``stop`` is set.

    ``nc`` may be None when no NATS is configured: NATS-target deliveries then fail (and are
    retried) with that reason. ``rand`` is the retry jitter source (injectable for tests).
    """

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        nc: NATS | None,
        settings: Settings,
        sender: WebhookSender,
        name: str = "dispatcher",
        poll_interval_s: float = 1.0,
        rand: Random = random.random,
    ) -> None:
        self._pool = pool
        self._js = nc.jetstream() if nc is not None else None
        self._settings = settings
        self._sender = sender
        self.name = name
        self._poll_s = poll_interval_s
        self._rand = rand
        self._workers, self._batch = batch_plan(settings.dispatcher_concurrency)
        self._wake = asyncio.Event()
        self.stats = DispatcherStats()

    def status(self) -> dict[str, Any]:
        """Counters plus the shape of the worker pool."""
        return {
            "name": self.name,
            "workers": self._workers,
            "batch_size": self._batch,
            **msgspec.structs.asdict(self.stats),
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set, then finish the sends in flight and return.

        Cancelling the task instead abandons the batches in flight: their transactions roll
        back and the rows are sent again later (at least once, never lost).
        """
        listener = asyncio.create_task(self._listen(stop), name=f"{self.name}-listen")
        workers = [
            asyncio.create_task(self._work(stop), name=f"{self.name}-worker-{i}")
            for i in range(self._workers)
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in (listener, *workers):
                task.cancel()
            await asyncio.gather(listener, *workers, return_exceptions=True)

    def wake(self) -> None:
        """Look for due deliveries now rather than at the next poll."""
        self._wake.set()

    async def _work(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                claimed = await self._one_batch()
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                _reraise_if_cancelled()
                self.stats.db_errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("dispatcher %s: outbox unavailable: %s", self.name, exc)
                await self._idle(stop)
                continue
            if claimed == 0:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait for a notification, ``stop`` or the poll interval, whichever comes first."""
        await _first(self._wake, stop, wait_s=self._poll_s)

    async def _one_batch(self) -> int:
        outcomes: list[tuple[Attempt, tuple[Outcome, float]]] = []
        async with self._pool.acquire() as conn, conn.transaction():
            due = await claim_due(conn, limit=self._batch)
            if not due:
                return 0
            if len(due) == self._batch:
                self._wake.set()  # more is probably due: get the idle workers going too
            self.stats.in_flight += len(due)
            try:
                attempts = await asyncio.gather(*(self._send(item) for item in due))
            finally:
                self.stats.in_flight -= len(due)
            recorded = await record_attempts(
                conn,
                list(zip(due, attempts, strict=True)),
                settings=self._settings,
                rand=self._rand,
            )
            outcomes = list(zip(attempts, recorded, strict=True))
        # committed: now they count
        self.stats.batches += 1
        self.stats.last_batch_at = time.time()
        retries = [delay for _, (outcome, delay) in outcomes if outcome == "pending"]
        if retries and min(retries) < self._poll_s:
            # a retry due before the next poll: look again then rather than a poll later
            asyncio.get_running_loop().call_later(min(retries), self._wake.set)
        for attempt, (outcome, _) in outcomes:
            if attempt.ok:
                self.stats.delivered += 1
            else:
                self.stats.failed_attempts += 1
                if outcome == "dead_letter":
                    self.stats.dead_lettered += 1
        return len(outcomes)

    async def _send(self, due: Due) -> Attempt:
        try:
            if due.webhook is not None:
                return await self._sender.send(due.webhook, delivery_id=due.id, payload=due.payload)
            if due.subject is None:
                return Attempt(ok=False, error="delivery has neither a webhook nor a subject")
            if self._js is None:
                return Attempt(ok=False, error="NATS is not configured for this dispatcher")
            return await publish_alert(
                self._js,
                due.subject,
                delivery_id=due.id,
                payload=due.payload,
                timeout_s=self._settings.publish_timeout_s,
            )
        except Exception as exc:  # a bug must cost one attempt, not the whole batch
            log.exception("dispatcher %s: sending %s failed unexpectedly", self.name, due.id)
            return Attempt(ok=False, error=f"internal error: {type(exc).__name__}: {exc}"[:500])

    async def _listen(self, stop: asyncio.Event) -> None:
        """Hold one connection LISTENing; on loss reconnect (polling covers the gap)."""

        def notified(*_: object) -> None:
            self.stats.wakeups += 1
            self._wake.set()

        lost = asyncio.Event()

        def terminated(_conn: object) -> None:
            lost.set()

        while not stop.is_set():
            lost.clear()
            try:
                async with self._pool.acquire() as conn:
                    conn.add_termination_listener(terminated)
                    try:
                        await conn.add_listener(NOTIFY_CHANNEL, notified)
                        self._wake.set()  # anything written before we listened
                        await _first(stop, lost)
                    finally:
                        conn.remove_termination_listener(terminated)
                        if not conn.is_closed():
                            await conn.remove_listener(NOTIFY_CHANNEL, notified)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
                _reraise_if_cancelled()
                log.warning("dispatcher %s: LISTEN connection failed: %s", self.name, exc)
            if not stop.is_set():
                await _first(stop, wait_s=self._poll_s)


def _reraise_if_cancelled() -> None:
    """A failed rollback while a cancellation unwinds replaces the CancelledError with a
    connection error; swallowing that would keep a cancelled dispatcher running forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _first(*events: asyncio.Event, wait_s: float | None = None) -> None:
    """Return when any of ``events`` is set (or after ``wait_s`` seconds)."""
    waits = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
