"""What both clients share: building events and handing them to the queue without blocking.

An event is complete the moment ``track`` returns: its idempotency key, its timestamp and
the identity in force are fixed and it is encoded to JSON, so later mutation of the caller's
dicts cannot change it, a retry resends exactly the same bytes, and a value JSON cannot
carry fails at the call site instead of poisoning a whole batch later.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from causality_sdk.context import device_context as build_device_context
from causality_sdk.events import EventHelpers
from causality_sdk.queue import EventQueue, MemoryQueue, SQLiteQueue
from causality_sdk.retry import Backoff
from causality_sdk.transport import Outcome, Verdict

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from causality_sdk.options import IdentifiedTrackOptions, TrackOptions

log = logging.getLogger("causality_sdk")

DEFAULT_HOST = "http://127.0.0.1:8000"
MAX_BATCH_EVENTS = 1000
"""The gateway's default ``max_batch_events``."""
MAX_BATCH_BYTES = 4_500_000
"""Under the gateway's 5 MiB ``max_body_bytes`` (checked after decompression too)."""
_BATCH_OVERHEAD = len(b'{"events":[]}')
_VARIANT = "89ab"


def new_key() -> str:
    """A random (version 4) UUID string, as ``str(uuid.uuid4())`` but in a third of the time:
    track() makes one per event, and this is a measurable part of its cost."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


@dataclass(frozen=True)
class Stats:
    """Counters since the client started (or since a fork, in a child)."""

    tracked: int
    """Events handed to ``track`` (and the helpers)."""
    queued: int
    """Events not yet settled: waiting or being sent (a disk queue: this process's share)."""
    delivered: int
    """Events the gateway accepted and stored."""
    duplicates: int
    """Events the gateway had already stored (a retry of a batch whose answer was lost)."""
    rejected: int
    """Events the gateway refused (validation, auth): logged with the reason, not retried."""
    dropped: int
    """Oldest events dropped because the bounded queue was full."""
    requests: int
    """HTTP attempts, retries included."""
    retries: int
    """Attempts that were answered with a retryable failure."""


class Tracker(EventHelpers):
    """Builds events and queues them; ``Client`` and ``AsyncClient`` deliver them.

    Options, all keyword-only:

    * ``flush_at`` events waiting wake the sender early; otherwise it sends every
      ``flush_interval`` seconds whatever is waiting.
    * ``max_batch_events`` / ``max_batch_bytes`` cap one request (the gateway's limits).
    * ``max_queue_size``: events kept while the gateway is unreachable; past it the oldest
      are dropped and counted (``stats().dropped``).
    * ``queue_path``: keep the queue in this SQLite file instead of memory, so undelivered
      events survive a restart (see ``SQLiteQueue``).
    * ``gzip``: compress request bodies over 1 KB.
    * ``timeout``: per HTTP request; ``retry_base`` / ``retry_cap``: the exponential backoff.
    * ``shutdown_timeout``: how long ``close`` keeps trying to deliver before giving up.
    * ``device_id`` (default: a random one per client), ``user_id`` (see ``identify``),
      ``app_version`` and ``device_context`` (extra EVENTS.md device fields) describe the
      sender; ``platform`` is ``server``.
    """

    def __init__(
        self,
        api_key: str,
        host: str = DEFAULT_HOST,
        *,
        flush_at: int = 100,
        flush_interval: float = 1.0,
        max_batch_events: int = MAX_BATCH_EVENTS,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        max_queue_size: int = 10_000,
        queue_path: str | os.PathLike[str] | None = None,
        gzip: bool = True,
        timeout: float = 10.0,
        retry_base: float = 0.5,
        retry_cap: float = 30.0,
        shutdown_timeout: float = 5.0,
        device_id: str | None = None,
        user_id: str | None = None,
        app_version: str | None = None,
        device_context: dict[str, object] | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        if not 1 <= max_batch_events <= MAX_BATCH_EVENTS:
            raise ValueError(f"max_batch_events must be within 1..{MAX_BATCH_EVENTS}")
        if flush_at < 1 or flush_interval <= 0:
            raise ValueError("flush_at must be >= 1 and flush_interval > 0")
        self.host = host.rstrip("/")
        self._api_key = api_key
        self._flush_at = flush_at
        self._flush_interval = flush_interval
        self._max_batch_events = max_batch_events
        self._max_batch_bytes = max_batch_bytes
        self._max_event_bytes = max_batch_bytes - _BATCH_OVERHEAD
        self._gzip = gzip
        self._timeout = timeout
        self._shutdown_timeout = shutdown_timeout
        self._backoff = Backoff(base=retry_base, cap=retry_cap)
        self._queue: EventQueue = (
            SQLiteQueue(queue_path, max_size=max_queue_size)
            if queue_path is not None
            else MemoryQueue(max_size=max_queue_size)
        )
        self._device_id = device_id or str(uuid.uuid4())
        self._user_id = user_id
        self._context = build_device_context(app_version=app_version, extra=device_context)
        # allow_nan=False: NaN is not JSON and the gateway would refuse the whole batch
        self._encode = json.JSONEncoder(
            separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode
        self._closed = False
        self._warned_closed = False
        self._in_flight = 0  # events of the batch being sent, for stats()
        self._reset_counters()

    def _reset_counters(self) -> None:
        self._delivered = 0
        self._duplicates = 0
        self._rejected = 0
        self._requests = 0
        self._retries = 0

    # -- identity

    @property
    def device_id(self) -> str:
        """The device id events get unless ``track`` names another."""
        return self._device_id

    @property
    def user_id(self) -> str | None:
        """The user set by ``identify`` (``None`` after ``reset``)."""
        return self._user_id

    def identify(
        self,
        user_id: str,
        traits: Mapping[str, Any] | None = None,
        **options: Unpack[IdentifiedTrackOptions],
    ) -> str | None:
        """Attribute later events to ``user_id``; with ``traits``, also record which changed.

        Causality keeps no profile store, so traits are reported the contract's way: one
        ``profile_update`` event with ``fields_updated`` = the trait *names*; their values
        are not sent (EVENTS.md: "only the names of the fields, never their values").
        Returns that event's idempotency key, or ``None`` when no event was sent.

        On a server handling many users, prefer ``user_id=`` on each call: the identity set
        here is shared by every thread using this client.
        """
        self._user_id = user_id
        if not traits:
            return None
        fields = {"user_id": user_id, "fields_updated": sorted(traits)}
        return self.track("profile_update", fields, user_id=user_id, **options)

    def reset(self) -> None:
        """Forget the user and start a new anonymous device id (e.g. on logout)."""
        self._user_id = None
        self._device_id = str(uuid.uuid4())

    # -- tracking

    def track(
        self,
        type: str,
        properties: Mapping[str, Any] | None = None,
        *,
        device_id: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        correlation_id: str | None = None,
        timestamp_ms: int | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Queue one event and return its idempotency key; never waits for the network.

        ``type`` is a catalogued type or ``custom`` (see ``custom``); the gateway validates
        the payload, and its per-event rejections are logged, not raised. Raises
        ``TypeError``/``ValueError`` for what can never be sent: properties that are not a
        JSON object (or hold NaN, sets, datetimes ...) and events over the batch size.
        """
        if not isinstance(type, str) or not type:
            raise TypeError("type must be a non-empty string")
        if properties is not None and properties.__class__ is not dict:  # `type` is shadowed
            if not isinstance(properties, Mapping):
                raise TypeError("properties must be a mapping")
            properties = dict(properties)  # json encodes dicts only
        key = idempotency_key or new_key()
        envelope: dict[str, Any] = {
            "type": type,
            "device_id": device_id or self._device_id,
            "idempotency_key": key,
            "timestamp_ms": time.time_ns() // 1_000_000 if timestamp_ms is None else timestamp_ms,
        }
        uid = user_id or self._user_id
        if uid:
            envelope["user_id"] = uid
        if session_id:
            envelope["session_id"] = session_id
        if correlation_id:
            envelope["correlation_id"] = correlation_id
        envelope["device_context"] = self._context
        if properties:
            envelope["properties"] = properties
        body = self._encode(envelope).encode()
        if len(body) + 1 > self._max_event_bytes:
            raise ValueError(
                f"event of {len(body)} bytes exceeds the batch limit of {self._max_batch_bytes}"
            )
        if self._closed:
            if not self._warned_closed:
                self._warned_closed = True
                log.warning("causality: track() after close(): events are dropped")
            return key
        self._enqueue(body)
        return key

    def custom(
        self,
        event_name: str,
        properties: Mapping[str, Any] | None = None,
        **options: Unpack[TrackOptions],
    ) -> str:
        """A ``custom`` event: ``event_name`` plus free properties (scalars or flat lists)."""
        return self.track("custom", {**(properties or {}), "event_name": event_name}, **options)

    def _track_typed(
        self,
        event_type: str,
        fields: dict[str, Any],
        extra: Mapping[str, Any] | None,
        options: Mapping[str, Any],
    ) -> str:
        properties = {k: v for k, v in fields.items() if v is not None}
        if extra:
            properties = {**extra, **properties}
        return self.track(event_type, properties, **options)

    def _enqueue(self, body: bytes) -> None:
        raise NotImplementedError

    # -- results

    def _record(self, outcome: Outcome, events: int) -> None:
        """Count a settled attempt (the sender logs it)."""
        if outcome.verdict is Verdict.DELIVERED:
            self._delivered += outcome.accepted
            self._duplicates += outcome.duplicates
            self._rejected += outcome.rejected
        else:
            self._rejected += events

    def stats(self) -> Stats:
        """A snapshot of the counters; cheap, except a disk queue's count."""
        return Stats(
            tracked=self._queue.added,
            queued=self._queue.pending() + self._in_flight,
            delivered=self._delivered,
            duplicates=self._duplicates,
            rejected=self._rejected,
            dropped=self._queue.dropped,
            requests=self._requests,
            retries=self._retries,
        )
