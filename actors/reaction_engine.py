"""The ReactionEngine Ray actor: a long-lived async home for causality.reactions.engine."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

import msgspec
import ray

from causality.bus.connection import connect
from causality.bus.stream import ensure_consumer, ensure_topology
from causality.config import Settings
from causality.observability.logs import configure_logging
from causality.observability.metrics import ENGINE_COUNTERS, ActorMetrics
from causality.observability.tracing import Tracing
from causality.reactions.config_watch import ConfigWatcher
from causality.reactions.consumer import reactions_consumer_config
from causality.reactions.engine import ReactionEngine
from causality.store.db import migrate, open_pool

log = logging.getLogger(__name__)


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=100)
class ReactionEngineActor:
    """Restarted by Ray when its process dies; the supervisor then calls ``ensure_running``.

    Unacked messages go back to the shared ``reactions`` consumer and committed effects are
    recognised on redelivery, so a crash neither loses nor repeats a reaction.
    """

    def __init__(self, settings: Settings, name: str) -> None:
        configure_logging(settings)
        self._tracing = Tracing.from_settings(settings, "reactions")
        self._metrics = ActorMetrics(kind="reactions", name=name, counters=ENGINE_COUNTERS)
        self._settings = settings
        self._name = name
        self._resources: AsyncExitStack | None = None
        self._engine: ReactionEngine | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._error: str | None = None

    async def ensure_running(self) -> dict[str, Any]:
        """Start consuming if not already; idempotent, called by the supervisor's heartbeat."""
        if self._task is None or (self._task.done() and not self._stop.is_set()):
            if self._task is not None and self._task.exception() is not None:
                self._error = repr(self._task.exception())
                log.error("engine %s loop died: %s; restarting it", self._name, self._error)
            await self._close()
            await self._start()
        return self.status()

    async def _start(self) -> None:
        s = self._settings
        assert s.nats_url and s.postgres_dsn, "reaction engines need nats_url and postgres_dsn"
        stack = AsyncExitStack()
        try:
            nc = await connect(s.nats_url, name=f"causality-{self._name}")
            stack.push_async_callback(nc.close)
            js = nc.jetstream()
            await ensure_topology(js, s)
            await ensure_consumer(js, s.stream_name, reactions_consumer_config(s))
            pool = await stack.enter_async_context(
                open_pool(s.postgres_dsn, min_size=1, max_size=4, application_name=self._name)
            )
            await migrate(pool)
            watcher = ConfigWatcher(pool, refresh_s=s.reaction_config_refresh_s)
            await watcher.start()
            stack.push_async_callback(watcher.aclose)
        except BaseException:
            await stack.aclose()
            raise
        self._resources = stack
        self._metrics.reset()  # the new one's stats start at zero
        self._engine = ReactionEngine(
            nc=nc, pool=pool, settings=s, watcher=watcher, name=self._name, tracing=self._tracing
        )
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._engine.run(self._stop))

    def status(self) -> dict[str, Any]:
        """Counters and liveness of this engine (for `causality status`)."""
        running = self._task is not None and not self._task.done()
        stats = msgspec.structs.asdict(self._engine.stats) if self._engine else {}
        if self._engine is not None:
            stats["config_version"] = self._engine.config_version
        self._metrics.sync(stats, running=running)  # the heartbeat calls this every few s
        return {"name": self._name, "running": running, "last_error": self._error, **stats}

    async def stop(self) -> dict[str, Any]:
        """Finish the batch in hand, then close the connections (graceful shutdown)."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=self._settings.sink_drain_timeout_s)
            except Exception as exc:
                log.error("engine %s did not stop cleanly: %r", self._name, exc)
        await self._close()
        self._tracing.force_flush()
        return self.status()

    async def _close(self) -> None:
        if self._resources is not None:
            resources, self._resources = self._resources, None
            try:
                await resources.aclose()
            except Exception as exc:
                log.warning("engine %s: closing resources failed: %r", self._name, exc)
