"""The WarehouseSink Ray actor: a long-lived async home for causality.warehouse.sink."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
import ray
from nats.aio.client import Client as NATS

from causality.bus.connection import connect
from causality.bus.stream import ensure_consumer, ensure_topology, sink_consumer_config
from causality.config import Settings
from causality.observability.logs import configure_logging
from causality.observability.metrics import SINK_COUNTERS, ActorMetrics
from causality.observability.tracing import Tracing
from causality.warehouse.sink import AfterWrite, WarehouseSink

log = logging.getLogger(__name__)


@ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=0, max_concurrency=100)
class WarehouseSinkActor:
    """Restarted by Ray when its process dies; the supervisor then calls ``ensure_running``.

    Messages it held but had not acked are redelivered by JetStream to any member of the pool,
    so a crash loses nothing; the sink's commit check keeps it from duplicating anything.
    """

    def __init__(self, settings: Settings, name: str, after_write: AfterWrite | None = None):
        configure_logging(settings)
        self._tracing = Tracing.from_settings(settings, "sink")
        self._metrics = ActorMetrics(kind="sink", name=name, counters=SINK_COUNTERS)
        self._settings = settings
        self._name = name
        self._after_write = after_write
        self._nc: NATS | None = None
        self._sink: WarehouseSink | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._error: str | None = None

    async def ensure_running(self) -> dict[str, Any]:
        """Start consuming if not already; idempotent, called by the supervisor's heartbeat."""
        if self._task is None or (self._task.done() and not self._stop.is_set()):
            if self._task is not None and self._task.exception() is not None:
                self._error = repr(self._task.exception())
                log.error("sink %s loop died: %s; restarting it", self._name, self._error)
            await self._start()
        return self.status()

    async def _start(self) -> None:
        s = self._settings
        assert s.nats_url, "nats_url must be set for sink actors"
        if self._nc is None or self._nc.is_closed:
            self._nc = await connect(s.nats_url, name=f"causality-{self._name}")
        js = self._nc.jetstream()
        await ensure_topology(js, s)
        await ensure_consumer(js, s.stream_name, sink_consumer_config(s))
        self._metrics.reset()  # the new one's stats start at zero
        self._sink = WarehouseSink(
            nc=self._nc,
            settings=s,
            name=self._name,
            after_write=self._after_write,
            tracing=self._tracing,
            observe_flush=self._metrics.observe_flush,
        )
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._sink.run(self._stop))

    def status(self) -> dict[str, Any]:
        """Counters and liveness of this sink (for `causality status`)."""
        running = self._task is not None and not self._task.done()
        stats = msgspec.structs.asdict(self._sink.stats) if self._sink else {}
        self._metrics.sync(stats, running=running)  # the heartbeat calls this every few s
        return {"name": self._name, "running": running, "last_error": self._error, **stats}

    async def stop(self) -> dict[str, Any]:
        """Flush what is held, ack it, and close the connection (graceful shutdown)."""
        self._stop.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=self._settings.sink_drain_timeout_s)
            except Exception as exc:
                log.error("sink %s did not stop cleanly: %r", self._name, exc)
        if self._nc is not None and not self._nc.is_closed:
            try:
                await self._nc.drain()
            except Exception:
                await self._nc.close()
        self._tracing.force_flush()
        return self.status()
