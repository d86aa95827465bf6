"""The durable JetStream consumer the reaction engines share."""

from __future__ import annotations

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from causality.config import Settings


def reactions_consumer_config(settings: Settings) -> ConsumerConfig:
    """``reactions`` on CAUSALITY_EVENTS, starting at new messages.

    Reactions are about now: a fresh install must not replay a week of stored events through
    its rules and page someone for last Tuesday. Once created, the durable consumer remembers
    its position, so restarts and redeploys resume where the engines stopped.
    """
    return ConsumerConfig(
        durable_name=settings.reaction_consumer,
        description="Reaction engines: rules and anomaly detection",
        deliver_policy=DeliverPolicy.NEW,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.reaction_ack_wait_s,
        max_deliver=-1,
        max_ack_pending=max(
            settings.reaction_fetch_size * max(settings.reaction_actors, 1) * 4, 10_000
        ),
        max_waiting=512,
        filter_subject=settings.reaction_filter_subject or None,
    )
