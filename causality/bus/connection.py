"""Opening a NATS connection with the reconnect behaviour every Causality process wants."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
from nats.aio.client import Client as NATS

log = logging.getLogger(__name__)


async def connect(url: str, *, name: str, connect_timeout_s: float = 5.0) -> NATS:
    """Connect and keep reconnecting forever: a NATS restart must not need a process restart."""

    async def _error_cb(exc: Exception) -> None:
        log.warning("nats error (%s): %s", name, exc)

    async def _disconnected_cb() -> None:
        log.warning("nats disconnected (%s)", name)

    async def _reconnected_cb() -> None:
        log.info("nats reconnected (%s)", name)

    return await nats.connect(
        url,
        name=name,
        connect_timeout=connect_timeout_s,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        allow_reconnect=True,
        error_cb=_error_cb,
        disconnected_cb=_disconnected_cb,
        reconnected_cb=_reconnected_cb,
        # keep the client-side buffer small: while disconnected we want publishes to fail
        # fast (503) rather than pile up megabytes that are flushed minutes later.
        pending_size=8 * 1024 * 1024,
    )


@asynccontextmanager
async def open_connection(url: str, *, name: str) -> AsyncIterator[NATS]:
    """A connection that is drained (in-flight acks delivered) when the block exits."""
    nc = await connect(url, name=name)
    try:
        yield nc
    finally:
        try:
            await nc.drain()
        except Exception as exc:  # already closed or server gone: nothing left to drain
            log.debug("nats drain on close failed: %s", exc)
            await nc.close()
