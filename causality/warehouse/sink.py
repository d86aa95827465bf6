"""The warehouse sink: durable pull consumer -> Arrow -> Parquet, acking only after the write.

Plain asyncio so it runs the same inside a Ray actor, a test, or a benchmark.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from causality.bus.puller import BatchPuller, delivery_info
from causality.bus.stream import DLQ_SUBJECT_PREFIX
from causality.config import Settings
from causality.events.arrow import events_to_table
from causality.events.model import Event, decode_event
from causality.observability.tracing import Tracing
from causality.warehouse.commits import CommittedIndex
from causality.warehouse.filesystem import open_warehouse
from causality.warehouse.writer import PartitionedWriter, WrittenFile

log = logging.getLogger(__name__)

AfterWrite = Callable[[list[WrittenFile]], Awaitable[None]]

REASON_HEADER = "Causality-Dead-Letter-Reason"
SEQ_HEADER = "Causality-Stream-Seq"
CONSUMER_HEADER = "Causality-Consumer"


class SinkStats(msgspec.Struct):
    """Counters a sink reports through ping/status and the metrics endpoint."""

    messages: int = 0
    rows_written: int = 0
    files_written: int = 0
    duplicates_dropped: int = 0
    redelivered_skipped: int = 0
    dead_lettered: int = 0
    write_failures: int = 0
    flushes: int = 0
    last_flush_at: float = 0.0


class _Outcome(msgspec.Struct):
    written: list[WrittenFile]
    undecodable: list[tuple[int, str]]


class WarehouseSink:
    """One member of the sink pool sharing the durable consumer.

    Batches by size and age, drops duplicates within a batch, skips redelivered messages a
    file already holds (see commits.py), writes one file per partition, then acks. A message
    that keeps failing goes to the dead-letter stream with the reason.
    """

    def __init__(
        self,
        *,
        nc: NATS,
        settings: Settings,
        name: str = "sink",
        after_write: AfterWrite | None = None,
        tracing: Tracing | None = None,
        observe_flush: Callable[[float], None] | None = None,
    ) -> None:
        self._nc = nc
        self._tracing = tracing or Tracing()
        self._observe_flush = observe_flush
        self._js = nc.jetstream()
        self._settings = settings
        self._name = name
        self._after_write = after_write
        fs, root = open_warehouse(settings)
        self._writer = PartitionedWriter(
            fs=fs, root=root, partitioning=settings.partitioning, stream=settings.stream_name
        )
        self._index = CommittedIndex(fs=fs, root=root, stream=settings.stream_name)
        self.stats = SinkStats()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then flush what is held and return."""
        s = self._settings
        async with BatchPuller(
            nc=self._nc, stream=s.stream_name, durable=s.sink_consumer
        ) as puller:
            await self._consume(puller, stop)

    async def _consume(self, puller: BatchPuller, stop: asyncio.Event) -> None:
        s = self._settings
        pending: list[Msg] = []
        flushing: asyncio.Task[None] | None = None
        first_at = 0.0
        last_progress = 0.0
        try:
            while not stop.is_set():
                if flushing is not None and flushing.done():
                    flushing.result()  # a failed flush must not go unnoticed
                    flushing = None
                age = time.monotonic() - first_at if pending else 0.0
                wait = max(0.05, min(1.0, s.sink_flush_interval_s - age))
                want = max(1, min(s.sink_fetch_size, s.sink_batch_size - len(pending)))
                try:
                    msgs = await puller.fetch(batch=want, wait_s=wait)
                except NatsError as exc:
                    # NATS restarting: the client reconnects on its own; what we hold is
                    # still ours to flush, and unacked messages will be redelivered anyway
                    log.warning("sink %s: fetch failed (%s); retrying", self._name, exc)
                    await asyncio.sleep(0.5)
                    msgs = []
                if msgs and not pending:
                    first_at = last_progress = time.monotonic()
                pending.extend(msgs)
                if not pending:
                    continue
                now = time.monotonic()
                if len(pending) >= s.sink_batch_size or now - first_at >= s.sink_flush_interval_s:
                    # hand the batch over first: if the flush is interrupted, the shutdown
                    # path must not write it a second time (redelivery takes care of it).
                    # One flush runs while the next batch is fetched; never two at once.
                    batch, pending = pending, []
                    if flushing is not None:
                        await flushing
                    flushing = asyncio.create_task(self.flush(batch))
                elif now - last_progress > s.sink_ack_wait_s / 3:
                    # still accumulating: keep the server from redelivering what we hold
                    for msg in pending:
                        await msg.in_progress()
                    last_progress = now
        except asyncio.CancelledError:
            # a hard stop: whatever is unacked will be redelivered, to this sink or another
            if flushing is not None:
                flushing.cancel()
            raise
        # a graceful stop: finish the flush in flight, then flush what is held
        if flushing is not None:
            await flushing
        if pending:
            await self.flush(pending)

    async def flush(self, msgs: Sequence[Msg]) -> None:
        """Write one batch and settle every message in it (ack, nak or dead-letter)."""
        started = time.perf_counter()
        # recorded in the trace of every message that carries one (see observability/tracing)
        with self._tracing.consumed("warehouse write", (m.headers for m in msgs)) as span:
            span["messaging.batch.message_count"] = len(msgs)
            await self._flush(msgs, span)
        if self._observe_flush is not None:
            self._observe_flush(time.perf_counter() - started)

    async def _flush(self, msgs: Sequence[Msg], span: dict[str, object]) -> None:
        delivery = [delivery_info(msg) for msg in msgs]
        self.stats.messages += len(msgs)
        try:
            # decoding, Arrow, zstd and file I/O all run off the event loop, so the next
            # batch is pulled and acked meanwhile
            outcome = await asyncio.to_thread(
                self._decode_and_write, [msg.data for msg in msgs], delivery
            )
        except Exception as exc:
            self.stats.write_failures += 1
            span["error.type"] = type(exc).__name__
            log.exception("sink %s: write of %d messages failed", self._name, len(msgs))
            await self._settle_failed(msgs, f"write failed: {type(exc).__name__}: {exc}")
            return
        span["causality.rows_written"] = sum(f.rows for f in outcome.written)
        span["causality.files_written"] = len(outcome.written)
        for i, reason in outcome.undecodable:
            # a message that cannot be decoded will never succeed: dead-letter it now
            await self._dead_letter(msgs[i], delivery[i][1], reason)
        if self._after_write is not None:
            await self._after_write(outcome.written)
        bad = {i for i, _ in outcome.undecodable}
        for i, msg in enumerate(msgs):
            if i not in bad:
                await msg.ack()
        self.stats.flushes += 1
        self.stats.last_flush_at = time.time()

    def _decode_and_write(self, payloads: list[bytes], delivery: list[tuple[int, int]]) -> _Outcome:
        """The blocking part of a flush, in a worker thread: decode, dedup, write."""
        events: list[Event] = []
        seqs: list[int] = []
        redelivered: set[int] = set()
        seen: set[tuple[str, str]] = set()
        undecodable: list[tuple[int, str]] = []
        for i, payload in enumerate(payloads):
            try:
                event = decode_event(payload)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                undecodable.append((i, f"undecodable event: {exc}"))
                continue
            key = (event.app_id, event.idempotency_key)
            if key in seen:
                self.stats.duplicates_dropped += 1
                continue
            seen.add(key)
            delivered, seq = delivery[i]
            if delivered > 1:
                redelivered.add(len(events))
            events.append(event)
            seqs.append(seq)
        return _Outcome(written=self._write(events, seqs, redelivered), undecodable=undecodable)

    def _write(
        self, events: list[Event], seqs: list[int], redelivered: set[int]
    ) -> list[WrittenFile]:
        """Blocking part of a flush (Arrow, zstd, file I/O), run in a worker thread."""
        if not events:
            return []
        groups = self._writer.plan([e.app_id for e in events], [e.timestamp_ms for e in events])
        if redelivered:
            groups = self._drop_already_stored(groups, seqs, redelivered)
            keep = sorted(i for rows in groups.values() for i in rows)
            if len(keep) < len(events):
                remap = {old: new for new, old in enumerate(keep)}
                events = [events[i] for i in keep]
                seqs = [seqs[i] for i in keep]
                groups = {p: [remap[i] for i in rows] for p, rows in groups.items()}
        if not events:
            return []
        table = events_to_table(events)
        written = self._writer.write(table, seqs=seqs, groups=groups)
        for f in written:
            self._index.remember(f.partition, f.seqs, f.path)
        self.stats.rows_written += table.num_rows
        self.stats.files_written += len(written)
        return written

    def _drop_already_stored(
        self, groups: dict[str, list[int]], seqs: list[int], redelivered: set[int]
    ) -> dict[str, list[int]]:
        kept: dict[str, list[int]] = {}
        for partition, rows in groups.items():
            candidates = {seqs[i] for i in rows if i in redelivered}
            stored = self._index.stored(partition, candidates) if candidates else set()
            if stored:
                self.stats.redelivered_skipped += len(stored)
                log.info(
                    "sink %s: %d redelivered events already in %s",
                    self._name,
                    len(stored),
                    partition,
                )
            rest = [i for i in rows if seqs[i] not in stored]
            if rest:
                kept[partition] = rest
        return kept

    async def _settle_failed(self, msgs: Sequence[Msg], reason: str) -> None:
        """Retry later with backoff, or dead-letter after sink_max_deliver attempts."""
        for msg in msgs:
            delivered, seq = delivery_info(msg)
            if delivered >= self._settings.sink_max_deliver:
                await self._dead_letter(msg, seq, reason)
            else:
                await msg.nak(delay=min(2.0**delivered, 60.0))

    async def _dead_letter(self, msg: Msg, seq: int, reason: str) -> None:
        await self._js.publish(
            f"{DLQ_SUBJECT_PREFIX}.{msg.subject}",
            msg.data,
            headers={
                REASON_HEADER: reason[:1000],
                SEQ_HEADER: str(seq),
                CONSUMER_HEADER: self._settings.sink_consumer,
                "Nats-Msg-Id": f"{self._settings.sink_consumer}:{seq}",
            },
        )
        await msg.ack()
        self.stats.dead_lettered += 1
        log.warning("sink %s: dead-lettered stream seq %d: %s", self._name, seq, reason)
