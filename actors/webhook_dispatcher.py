"""The WebhookDispatcher Ray actor: a long-lived async home for causality.reactions.dispatcher."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from typing import Any

import ray
from nats.aio.client import Client as NATS

from causality.bus.connection import connect
from causality.bus.stream import ensure_topology
from causality.config import Settings
from causality.observability.logs import configure_logging
from causality.observability.metrics import DISPATCHER_COUNTERS, ActorMetrics
from causality.reactions.dispatcher import Dispatcher, pool_size_for
from causality.reactions.sender import WebhookSender
from causality.store.db import open_pool

log = logging.getLogger(__name__)


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=100)
class WebhookDispatcherActor:
    """Restarted by Ray when its process dies; the supervisor then calls ``ensure_running``.

    Deliveries it had claimed but not recorded were only locked: the locks die with its
    database connections and any dispatcher sends them again, so a crash loses nothing.
    """

    def __init__(self, settings: Settings, name: str):
        configure_logging(settings)
        self._metrics = ActorMetrics(kind="webhooks", name=name, counters=DISPATCHER_COUNTERS)
        self._settings = settings
        self._name = name
        self._nc: NATS | None = None
        self._resources: AsyncExitStack | None = None
        self._dispatcher: Dispatcher | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._error: str | None = None

    async def ensure_running(self) -> dict[str, Any]:
        """Start dispatching if not already; idempotent, called by the supervisor's heartbeat."""
        if self._task is None or (self._task.done() and not self._stop.is_set()):
            if self._task is not None and self._task.exception() is not None:
                self._error = repr(self._task.exception())
                log.error("dispatcher %s loop died: %s; restarting it", self._name, self._error)
            await self._start()
        return self.status()

    async def _start(self) -> None:
        s = self._settings
        assert s.nats_url, "nats_url must be set for dispatcher actors"
        assert s.postgres_dsn, "postgres_dsn must be set for dispatcher actors"
        if self._nc is None or self._nc.is_closed:
            self._nc = await connect(s.nats_url, name=f"causality-{self._name}")
        await ensure_topology(self._nc.jetstream(), s)
        if self._resources is None:
            resources = AsyncExitStack()
            try:
                pool = await resources.enter_async_context(
                    open_pool(
                        s.postgres_dsn,
                        min_size=1,
                        max_size=pool_size_for(s) + 1,
                        application_name=f"causality-{self._name}",
                    )
                )
                sender = await resources.enter_async_context(WebhookSender(s))
            except BaseException:
                await resources.aclose()
                raise
            self._resources = resources
            self._metrics.reset()  # the new one's stats start at zero
            self._dispatcher = Dispatcher(
                pool=pool, nc=self._nc, settings=s, sender=sender, name=self._name
            )
        assert self._dispatcher is not None
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._dispatcher.run(self._stop))

    def status(self) -> dict[str, Any]:
        """Counters and liveness of this dispatcher (for `causality status`)."""
        running = self._task is not None and not self._task.done()
        stats = self._dispatcher.status() if self._dispatcher else {"name": self._name}
        self._metrics.sync(stats, running=running)  # the heartbeat calls this every few s
        return {**stats, "name": self._name, "running": running, "last_error": self._error}

    async def stop(self) -> dict[str, Any]:
        """Finish the sends in flight, record them, and close the connections."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=self._settings.webhook_timeout_s + 10)
            except Exception as exc:
                log.error("dispatcher %s did not stop cleanly: %r", self._name, exc)
        if self._resources is not None:
            await self._resources.aclose()
            self._resources = None
            self._dispatcher = None
        if self._nc is not None and not self._nc.is_closed:
            try:
                await self._nc.drain()
            except Exception:
                await self._nc.close()
        return self.status()
