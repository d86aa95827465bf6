"""Keeping a running engine's configuration current without restarting it.

Triggers on the rule, detector and webhook tables NOTIFY ``causality_reactions`` (migration
004); the watcher LISTENs on a connection of its own, reloads the whole configuration in one
consistent read, compiles it and swaps it in. A periodic reload covers notifications lost
while the listening connection was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import asyncpg

from causality.reactions.evaluate import CompiledConfig
from causality.reactions.model import ReactionConfig
from causality.store.reaction_config import load_reaction_config

log = logging.getLogger(__name__)

CHANNEL = "causality_reactions"
# notifications arrive in bursts (a rule and its webhook links are separate statements)
DEBOUNCE_S = 0.05

Loader = Callable[[asyncpg.Pool], Awaitable[ReactionConfig]]


class ConfigWatcher:
    """Holds the current ``CompiledConfig`` and replaces it when PostgreSQL says it changed."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        refresh_s: float = 30.0,
        loader: Loader = load_reaction_config,
    ) -> None:
        self._pool = pool
        self._refresh_s = refresh_s
        self._loader = loader
        self._changed = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self.current = CompiledConfig(ReactionConfig())
        self.version = 0
        self.loaded_at = 0.0

    async def start(self) -> None:
        """Load once (so the engine starts with the real configuration), then keep watching."""
        await self._listen()
        await self.reload()
        self._task = asyncio.create_task(self._watch(), name="reaction-config-watch")

    async def reload(self) -> CompiledConfig:
        """Read and compile the configuration now; the swap is a single assignment."""
        config = await self._loader(self._pool)
        compiled = await asyncio.to_thread(CompiledConfig, config)
        self.current = compiled
        self.version += 1
        self.loaded_at = time.monotonic()
        return compiled

    async def _listen(self) -> None:
        if self._listener is not None:
            if not self._listener.is_closed():
                return
            lost, self._listener = self._listener, None
            with contextlib.suppress(Exception):
                await self._pool.release(lost)
        try:
            conn = await self._pool.acquire()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("reaction config: cannot listen (%s); polling instead", exc)
            return
        try:
            await conn.add_listener(CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await self._pool.release(conn)
            log.warning("reaction config: LISTEN failed (%s); polling instead", exc)
            return
        self._listener = conn

    def _on_notify(self, *_: object) -> None:
        self._changed.set()

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self._refresh_s)
            await asyncio.sleep(DEBOUNCE_S)
            self._changed.clear()
            try:
                await self._listen()  # again, if the connection was lost
                await self.reload()
            except Exception as exc:
                log.warning("reaction config reload failed (%s); keeping the last one", exc)
                await asyncio.sleep(1.0)

    async def aclose(self) -> None:
        """Stop watching and give the listening connection back."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener is not None:
            conn, self._listener = self._listener, None
            with contextlib.suppress(Exception):
                await conn.remove_listener(CHANNEL, self._on_notify)
            with contextlib.suppress(Exception):
                await self._pool.release(conn)
