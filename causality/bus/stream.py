"""JetStream topology: the events, dead-letter and alerts streams and durable consumers.

Everything here is idempotent so every process may call it at start: create when missing,
update in place when the settings changed.
"""

from __future__ import annotations

import logging

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, NotFoundError

from causality.bus.errors import StreamConfigError
from causality.bus.subjects import subject_filter
from causality.config import Settings

log = logging.getLogger(__name__)

DLQ_SUBJECT_PREFIX = "dlq"
ALERTS_SUBJECT_PREFIX = "alerts"


def events_stream_config(settings: Settings) -> StreamConfig:
    """The CAUSALITY_EVENTS stream: file storage, limits retention, Nats-Msg-Id dedup window."""
    return StreamConfig(
        name=settings.stream_name,
        description="Causality events: events.<app_id>.<category>.<type>",
        subjects=[subject_filter()],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=settings.dedup_window_s,
        max_age=settings.stream_max_age_s,
        max_bytes=settings.stream_max_bytes,
        max_msgs=settings.stream_max_msgs,
        num_replicas=settings.stream_replicas,
    )


def dlq_stream_config(settings: Settings) -> StreamConfig:
    """Dead letters are kept longer than events: a person has to look at them."""
    return StreamConfig(
        name=settings.dlq_stream_name,
        description="Causality dead letters: messages a consumer failed to process",
        subjects=[f"{DLQ_SUBJECT_PREFIX}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=max(settings.stream_max_age_s, 30 * 24 * 3600.0),
        num_replicas=settings.stream_replicas,
    )


def alerts_stream_config(settings: Settings) -> StreamConfig:
    """Alerts the reaction engine publishes (``alerts.<app_id>.<rule or detector id>``):
    stored so a subscriber that was away can catch up, de-duplicated on ``Nats-Msg-Id`` (the
    delivery id) so a dispatcher's retry after a lost ack is not seen twice."""
    return StreamConfig(
        name=settings.alerts_stream_name,
        description="Causality alerts: alerts.<app_id>.<rule or detector id>",
        subjects=[f"{ALERTS_SUBJECT_PREFIX}.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=settings.dedup_window_s,
        max_age=settings.stream_max_age_s,
        num_replicas=settings.stream_replicas,
    )


def sink_consumer_config(settings: Settings) -> ConsumerConfig:
    """The durable pull consumer the warehouse sinks share.

    ``max_deliver`` is unlimited on the server: the sink itself moves a message to the
    dead-letter stream after ``sink_max_deliver`` failures, so nothing silently stops
    being redelivered.
    """
    return ConsumerConfig(
        durable_name=settings.sink_consumer,
        description="Parquet warehouse sink",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.sink_ack_wait_s,
        max_deliver=-1,
        max_ack_pending=max(settings.sink_batch_size * max(settings.sink_actors, 1) * 2, 20_000),
        max_waiting=512,
        filter_subject=settings.sink_filter_subject or None,
    )


async def _ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("created stream %s", config.name)
        return
    try:
        await js.update_stream(config)
    except APIError as exc:
        raise StreamConfigError(f"cannot update stream {config.name}: {exc.description}") from exc


async def ensure_topology(js: JetStreamContext, settings: Settings) -> None:
    """Create or update the events, dead-letter and alerts streams (idempotent, every start)."""
    await _ensure_stream(js, events_stream_config(settings))
    await _ensure_stream(js, dlq_stream_config(settings))
    await _ensure_stream(js, alerts_stream_config(settings))


async def ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    """Create the durable consumer, or update its mutable settings (ack wait, limits)."""
    assert config.durable_name is not None
    try:
        await js.consumer_info(stream, config.durable_name)
    except NotFoundError:
        await js.add_consumer(stream, config)
        return
    # add_consumer with an existing durable name updates it when only mutable fields differ
    await js.add_consumer(stream, config)
