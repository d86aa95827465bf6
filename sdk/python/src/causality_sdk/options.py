"""Keyword arguments shared by several signatures, as TypedDicts for type checkers.

At runtime these are plain dicts; ``track`` and ``Tracker.__init__`` spell every argument out,
so a misspelt keyword raises ``TypeError`` there whatever the type checker says.
"""

from __future__ import annotations

import os
from typing import TypedDict


class IdentifiedTrackOptions(TypedDict, total=False):
    """Envelope fields of one event, for helpers whose payload already names the user."""

    device_id: str
    session_id: str
    correlation_id: str
    timestamp_ms: int
    idempotency_key: str


class TrackOptions(IdentifiedTrackOptions, total=False):
    """Envelope fields of one event; unset ones come from the client (device, user, now)."""

    user_id: str


class ClientOptions(TypedDict, total=False):
    """Construction options both clients share (see ``Tracker`` for their meaning)."""

    flush_at: int
    flush_interval: float
    max_batch_events: int
    max_batch_bytes: int
    max_queue_size: int
    queue_path: str | os.PathLike[str] | None
    gzip: bool
    timeout: float
    retry_base: float
    retry_cap: float
    shutdown_timeout: float
    device_id: str | None
    user_id: str | None
    app_version: str | None
    device_context: dict[str, object] | None
