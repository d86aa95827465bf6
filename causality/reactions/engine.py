"""The reaction engine: the ``reactions`` consumer -> rules and detectors -> PostgreSQL -> ack.

Every batch's effects (rule alerts, detector counts, anomaly alerts, outbox deliveries and the
stream sequences they came from) are committed in one transaction before the batch is acked.
A crash before the commit leaves nothing behind and JetStream redelivers; a crash after it
leaves the sequences recorded, so the redelivered messages are recognised and skipped. Several
engines share the consumer; counts add up in PostgreSQL, so two engines count what one would.

Plain asyncio, so it runs the same in a Ray actor, a test or a benchmark.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import asyncpg
import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from causality.bus.puller import BatchPuller, delivery_info
from causality.bus.stream import DLQ_SUBJECT_PREFIX
from causality.config import Settings
from causality.events.model import Event, decode_event
from causality.observability.tracing import Tracing
from causality.reactions import anomaly_store
from causality.reactions.alerts import record_alerts
from causality.reactions.config_watch import ConfigWatcher
from causality.reactions.evaluate import CompiledConfig, Effects, evaluate
from causality.reactions.model import AlertDraft

log = logging.getLogger(__name__)

REASON_HEADER = "Causality-Dead-Letter-Reason"
PRUNE_EVERY_S = 60.0
# sequences are remembered long enough to outlive any redelivery of their message
REMEMBER_BATCHES_S = 24 * 3600.0

_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class EngineStats(msgspec.Struct):
    """Counters an engine reports through its actor's status."""

    messages: int = 0
    evaluated: int = 0
    undecodable: int = 0
    redelivered_skipped: int = 0
    rule_alerts: int = 0
    anomaly_alerts: int = 0
    duplicate_alerts: int = 0
    deliveries: int = 0
    batches_committed: int = 0
    failures: int = 0
    dead_lettered: int = 0
    config_version: int = 0


class ReactionEngine:
    """One member of the engine pool; see the module docstring."""

    def __init__(
        self,
        *,
        nc: NATS,
        pool: asyncpg.Pool,
        settings: Settings,
        watcher: ConfigWatcher,
        name: str = "engine",
        clock: Callable[[], float] = time.time,
        tracing: Tracing | None = None,
    ) -> None:
        self._nc = nc
        self._tracing = tracing or Tracing()
        self._js = nc.jetstream()
        self._pool = pool
        self._settings = settings
        self._watcher = watcher
        self._name = name
        self._clock = clock
        self._last_tick = 0.0
        self._last_prune = time.monotonic()
        self.stats = EngineStats()

    @property
    def config_version(self) -> int:
        """How many configurations this engine has loaded (grows with every change)."""
        return self._watcher.version

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is finished first."""
        s = self._settings
        async with BatchPuller(
            nc=self._nc, stream=s.stream_name, durable=s.reaction_consumer
        ) as puller:
            while not stop.is_set():
                try:
                    msgs = await puller.fetch(
                        batch=s.reaction_fetch_size, wait_s=s.reaction_fetch_wait_s
                    )
                except NatsError as exc:
                    log.warning("engine %s: fetch failed (%s); retrying", self._name, exc)
                    await asyncio.sleep(0.5)
                    continue
                if msgs:
                    await self.process(msgs)
                # a full batch means a backlog: the buckets it covers are not all counted
                # yet, and judging them now would report drops that are only lag
                backlogged = len(msgs) >= s.reaction_fetch_size
                if not backlogged and time.monotonic() - self._last_tick >= s.anomaly_tick_s:
                    await self.tick()

    async def process(self, msgs: Sequence[Msg], *, settle: bool = True) -> None:
        """Evaluate one batch, commit its effects, then settle every message.

        ``settle=False`` leaves the messages unacked, as a crash right after the commit would
        (used to show that their redelivery is recognised).
        """
        # recorded in the trace of every message that carries one (see observability/tracing)
        with self._tracing.consumed("reactions evaluate", (m.headers for m in msgs)) as span:
            span["messaging.batch.message_count"] = len(msgs)
            await self._process(msgs, settle=settle, span=span)

    async def _process(self, msgs: Sequence[Msg], *, settle: bool, span: dict[str, object]) -> None:
        self.stats.messages += len(msgs)
        self.stats.config_version = self._watcher.version
        delivery = [delivery_info(m) for m in msgs]
        events: list[Event] = []
        seqs: list[int] = []
        for msg, (_, seq) in zip(msgs, delivery, strict=True):
            try:
                events.append(decode_event(msg.data))
                seqs.append(seq)
            except (msgspec.DecodeError, msgspec.ValidationError):
                # the warehouse sink dead-letters it; there is nothing to react to
                self.stats.undecodable += 1
        compiled = self._watcher.current
        try:
            if any(delivered > 1 for delivered, _ in delivery):
                events, seqs = await self._drop_processed(events, seqs)
            effects = evaluate(compiled, events)
            if not effects.empty:
                await self._commit(compiled, effects, [seqs[i] for i in effects.affected])
            self.stats.evaluated += len(events)  # counted once its effects are committed
        except _DB_ERRORS as exc:
            self.stats.failures += 1
            span["error.type"] = type(exc).__name__
            log.warning("engine %s: batch of %d not applied (%s)", self._name, len(msgs), exc)
            if settle:
                await self._settle_failed(msgs, f"{type(exc).__name__}: {exc}")
            return
        if settle:
            for msg in msgs:
                await msg.ack()

    async def _drop_processed(
        self, events: list[Event], seqs: list[int]
    ) -> tuple[list[Event], list[int]]:
        """Leave out redelivered messages whose effects an earlier commit already holds."""
        rows = await self._pool.fetch(
            "SELECT DISTINCT s FROM reaction_batches, unnest(seqs) AS s "
            "WHERE consumer = $1 AND seqs && $2::bigint[] AND s = ANY($2::bigint[])",
            self._settings.reaction_consumer,
            seqs,
        )
        done = {row["s"] for row in rows}
        if not done:
            return events, seqs
        self.stats.redelivered_skipped += len(done)
        keep = [i for i, seq in enumerate(seqs) if seq not in done]
        return [events[i] for i in keep], [seqs[i] for i in keep]

    async def _commit(self, compiled: CompiledConfig, effects: Effects, seqs: list[int]) -> None:
        drafts: list[AlertDraft] = list(effects.drafts)
        rule_alerts = len(drafts)
        async with self._pool.acquire() as conn, conn.transaction():
            if effects.counts:
                await anomaly_store.add_counts(conn, effects.counts)
            if effects.touched:
                touched = [compiled.by_id[i] for i in sorted(effects.touched)]
                drafts += await anomaly_store.judge_windows(conn, touched, effects.touched)
            if effects.breaches:
                drafts += await anomaly_store.judge_thresholds(conn, effects.breaches)
            drafts.sort(key=lambda d: -d.priority)
            recorded = await record_alerts(
                conn,
                drafts,
                compiled.webhooks,
                nats_max_attempts=self._settings.webhook_max_attempts,
            )
            await conn.execute(
                "INSERT INTO reaction_batches (consumer, seqs) VALUES ($1, $2)",
                self._settings.reaction_consumer,
                seqs,
            )
        self.stats.batches_committed += 1
        self.stats.rule_alerts += rule_alerts
        self.stats.anomaly_alerts += len(drafts) - rule_alerts
        self.stats.duplicate_alerts += recorded.duplicates
        self.stats.deliveries += recorded.deliveries

    async def tick(self, now_s: float | None = None) -> None:
        """Judge the baselines' closed buckets and prune old state; also when no events come
        (a scope that went silent is exactly what a baseline must notice)."""
        self._last_tick = time.monotonic()
        compiled = self._watcher.current
        now = self._clock() if now_s is None else now_s
        try:
            if compiled.baselines:
                async with self._pool.acquire() as conn, conn.transaction():
                    drafts = await anomaly_store.judge_baselines(
                        conn, compiled.baselines, now_s=now, grace_s=self._settings.anomaly_grace_s
                    )
                    recorded = await record_alerts(
                        conn,
                        drafts,
                        compiled.webhooks,
                        nats_max_attempts=self._settings.webhook_max_attempts,
                    )
                self.stats.anomaly_alerts += recorded.alerts
                self.stats.deliveries += recorded.deliveries
            if time.monotonic() - self._last_prune >= PRUNE_EVERY_S:
                self._last_prune = time.monotonic()
                await self._prune(compiled, now)
        except _DB_ERRORS as exc:
            log.warning("engine %s: anomaly tick failed (%s)", self._name, exc)

    async def _prune(self, compiled: CompiledConfig, now_s: float) -> None:
        await anomaly_store.prune_counts(self._pool, tuple(compiled.by_id.values()), now_s)
        await self._pool.execute(
            "DELETE FROM reaction_batches WHERE created_at < now() - make_interval(secs => $1)",
            REMEMBER_BATCHES_S,
        )

    async def _settle_failed(self, msgs: Sequence[Msg], reason: str) -> None:
        """Retry later with backoff; after ``reaction_max_deliver`` tries, dead-letter."""
        for msg in msgs:
            delivered, seq = delivery_info(msg)
            if delivered >= self._settings.reaction_max_deliver:
                await self._dead_letter(msg, seq, reason)
            else:
                await msg.nak(delay=min(2.0**delivered, 30.0))

    async def _dead_letter(self, msg: Msg, seq: int, reason: str) -> None:
        try:
            await self._js.publish(
                f"{DLQ_SUBJECT_PREFIX}.{msg.subject}",
                msg.data,
                headers={
                    REASON_HEADER: f"reactions: {reason}"[:1000],
                    "Causality-Stream-Seq": str(seq),
                    "Causality-Consumer": self._settings.reaction_consumer,
                },
            )
        except NatsError as exc:
            log.error("engine %s: dead-letter failed (%s); will retry", self._name, exc)
            await msg.nak(delay=30.0)
            return
        self.stats.dead_lettered += 1
        await msg.ack()
