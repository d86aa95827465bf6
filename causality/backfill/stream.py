"""Replaying the JetStream events stream between two times into the warehouse.

The messages are events the gateway already normalized, so they are decoded as they are (ids,
``received_at`` and idempotency keys kept) and go straight to the same dedup and write step
as a file backfill: whatever the sink already stored is found by key and skipped, so a replay
repairs the warehouse after a lost file or a sink outage without storing anything twice.

One ephemeral pull consumer (no acks, deleted by the server when idle) starts at ``start`` by
stream time. The replay ends at the first message at or past ``end``, or once it has had every
message the consumer had pending when it was made: messages published during the replay are
not waited for. Reading one ordered stream is sequential, so this runs in the job's driver;
each partition is then checked and written in turn, like one task of the file pipeline.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import msgspec
from nats.aio.client import Client as NATS
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from causality.backfill.dedup import store_partition
from causality.backfill.normalize import Reject
from causality.backfill.run import BackfillSummary
from causality.bus.subjects import subject_filter
from causality.config import Settings
from causality.events.model import Event, decode_event
from causality.warehouse.filesystem import open_warehouse
from causality.warehouse.layout import partition_dir

Echo = Callable[[str], None]
FETCH_BATCH = 1000
FETCH_WAIT_S = 2.0
_IDLE_CONSUMER_S = 60.0


@dataclass(slots=True)
class Replayed:
    """What a replay read: events per partition, and messages that were not events."""

    partitions: dict[str, list[Event]]
    messages: int = 0
    rejects: list[Reject] | None = None


async def read_window(
    nc: NATS,
    *,
    stream: str,
    app_id: str,
    start: datetime,
    end: datetime,
    settings: Settings,
) -> Replayed:
    """The app's events whose stream time is in ``[start, end)``, grouped by partition."""
    js = nc.jetstream()
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=start,
        ack_policy=AckPolicy.NONE,
        inactive_threshold=_IDLE_CONSUMER_S,
        max_ack_pending=-1,
    )
    sub = await js.pull_subscribe(subject_filter(app_id=app_id), stream=stream, config=config)
    replayed = Replayed(partitions={}, rejects=[])
    name = ""
    try:
        info = await sub.consumer_info()
        name = info.name
        remaining = info.num_pending or 0
        while remaining > 0:
            try:
                msgs = await sub.fetch(min(FETCH_BATCH, remaining), timeout=FETCH_WAIT_S)
            except NatsTimeoutError:
                break  # what was pending is gone (retention); nothing more will come
            for msg in msgs:
                meta = msg.metadata
                if meta.timestamp >= end:
                    return replayed
                remaining -= 1
                replayed.messages += 1
                _add(replayed, msg.data, meta.sequence.stream, stream, settings)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        if name:
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, name)
    return replayed


def _add(replayed: Replayed, data: bytes, seq: int, stream: str, settings: Settings) -> None:
    try:
        event = decode_event(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        assert replayed.rejects is not None
        replayed.rejects.append(Reject(f"nats://{stream}", seq, "message", f"not an event: {exc}"))
        return
    key = partition_dir(event.app_id, event.timestamp_ms, partitioning=settings.partitioning)
    replayed.partitions.setdefault(key, []).append(event)


def store_replayed(
    replayed: Replayed, *, settings: Settings, dry_run: bool, echo: Echo, started: float
) -> BackfillSummary:
    """Dedup and write each partition of a replay, as the file pipeline's stage two does."""
    rejects = replayed.rejects or []
    summary = BackfillSummary(files=0, records=replayed.messages, rejected=len(rejects))
    summary.valid = summary.records - summary.rejected
    for reject in rejects[:10]:
        echo(f"  rejected: {reject.source} seq {reject.row}: {reject.reason[:120]}")
    fs, root = open_warehouse(settings)
    verb = "would write" if dry_run else "wrote"
    for partition in sorted(replayed.partitions):
        result = store_partition(
            partition,
            replayed.partitions[partition],
            fs=fs,
            root=root,
            partitioning=settings.partitioning,
            dry_run=dry_run,
        )
        summary.partitions.append(result)
        summary.already_stored += result.already_stored
        summary.duplicates_in_run += result.duplicates_in_run
        summary.written += result.written
        summary.files_written += result.files
        echo(
            f"  {result.partition}: {verb} {result.written} of {result.rows} "
            f"({result.already_stored} already stored, {result.duplicates_in_run} repeated)"
        )
    summary.seconds = time.monotonic() - started
    return summary


async def replay_stream(
    nc: NATS,
    *,
    settings: Settings,
    app_id: str,
    start: datetime,
    end: datetime,
    dry_run: bool,
    echo: Echo,
) -> BackfillSummary:
    """Read ``[start, end)`` of the events stream for one app and store what is missing."""
    if end <= start:
        raise ValueError("--end must be after --start")
    started = time.monotonic()
    echo(f"replaying {settings.stream_name} for app {app_id} from {start} to {end}")
    replayed = await read_window(
        nc, stream=settings.stream_name, app_id=app_id, start=start, end=end, settings=settings
    )
    echo(f"read {replayed.messages} messages in {len(replayed.partitions)} partitions")
    return store_replayed(replayed, settings=settings, dry_run=dry_run, echo=echo, started=started)
