"""Periodic deletion of expired sessions and stale login attempts.

Both already stop counting when they expire; this only keeps the tables small. Every gateway
replica runs it, which is harmless (idempotent DELETEs) and needs no leader election.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

from causality.auth.sessions import purge_expired
from causality.store.login_attempts import purge_older_than

_log = logging.getLogger(__name__)


async def purge_once(pool: asyncpg.Pool, *, login_window_s: float) -> tuple[int, int]:
    """One pass: (expired sessions, stale login attempts) deleted."""
    sessions = await purge_expired(pool)
    attempts = await purge_older_than(pool, window_s=login_window_s)
    return sessions, attempts


async def _loop(pool: asyncpg.Pool, *, interval_s: float, login_window_s: float) -> None:
    while True:
        try:
            await purge_once(pool, login_window_s=login_window_s)
        except Exception as exc:  # bookkeeping only: log and try again next time
            _log.warning("auth housekeeping failed: %s", exc)
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def auth_housekeeping(
    pool: asyncpg.Pool, *, login_window_s: float, interval_s: float = 600.0
) -> AsyncIterator[None]:
    """Run the purge every ``interval_s`` while the context is open; cancelled on exit."""
    task = asyncio.create_task(
        _loop(pool, interval_s=interval_s, login_window_s=login_window_s),
        name="auth-housekeeping",
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
