"""Pipelined JetStream publishing of validated events.

All messages of a request are written to the socket back to back and their acks awaited
together, so a batch of 100 events costs about one round trip, not 100.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from nats.aio.client import Client as NATS
from nats.errors import ConnectionClosedError, OutboundBufferLimitError
from nats.js import JetStreamContext
from nats.js.errors import Error as JetStreamError
from nats.js.errors import NoStreamResponseError, TooManyStalledMsgsError

from causality.bus.errors import BusUnavailable
from causality.bus.subjects import subject_for
from causality.events.model import Event, encode_event

MSG_ID_HEADER = "Nats-Msg-Id"
EXPECTED_STREAM_HEADER = "Nats-Expected-Stream"


def message_id(event: Event) -> str:
    """JetStream dedup key; scoped by app so two apps' SDK keys can never collide."""
    return f"{event.app_id}:{event.idempotency_key}"


class EventPublisher:
    """Publishes events to the events stream and reports which ones JetStream saw before."""

    def __init__(self, *, nc: NATS, js: JetStreamContext, stream: str, timeout_s: float) -> None:
        self._nc = nc
        self._js = js
        self._stream = stream
        self._timeout_s = timeout_s

    @property
    def connected(self) -> bool:
        """Whether NATS is reachable right now (used by /ready and to fail fast)."""
        return self._nc.is_connected

    async def publish(self, events: Sequence[Event]) -> list[bool]:
        """Publish and wait for every ack; returns a duplicate flag per event.

        Raises BusUnavailable when any ack is missing: the caller answers 503 and the SDK
        retries the whole request, which is safe because of the message ids.
        """
        if not events:
            return []
        if not self._nc.is_connected:
            raise BusUnavailable("NATS is not connected")
        futures: list[asyncio.Future] = []
        try:
            for event in events:
                futures.append(
                    await self._js.publish_async(
                        subject_for(event),
                        encode_event(event),
                        wait_stall=self._timeout_s,
                        headers={
                            MSG_ID_HEADER: message_id(event),
                            EXPECTED_STREAM_HEADER: self._stream,
                        },
                    )
                )
            acks = await asyncio.wait_for(asyncio.gather(*futures), timeout=self._timeout_s)
        except (TimeoutError, ConnectionClosedError, OutboundBufferLimitError) as exc:
            raise BusUnavailable(f"JetStream did not acknowledge: {type(exc).__name__}") from exc
        except (NoStreamResponseError, TooManyStalledMsgsError, JetStreamError) as exc:
            raise BusUnavailable(f"JetStream refused the publish: {exc}") from exc
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()
        return [bool(ack.duplicate) for ack in acks]
