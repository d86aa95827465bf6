"""Keeping the pipeline's actor pools alive, from inside the Serve application.

Sinks, reaction engines and webhook dispatchers share one shape: named actors with
``ensure_running``, ``status`` and ``stop``. ``ActorPool`` keeps a fixed number of one kind
running; ``pipeline_pools`` lists the pools a deployment's settings ask for.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import ray
from ray.actor import ActorHandle
from ray.exceptions import GetTimeoutError, RayActorError

from actors.reaction_engine import ReactionEngineActor
from actors.warehouse_sink import WarehouseSinkActor
from actors.webhook_dispatcher import WebhookDispatcherActor
from causality.config import Settings

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
# a restarting actor answers the call queued for it once it is back, so several failed
# heartbeats in a row mean Ray has given up on it
MAX_FAILED_HEARTBEATS = 3
NAMESPACE = "causality"


class ActorPool:
    """Creates ``count`` actors named ``<prefix>-<i>`` and restarts whatever stops running.

    Ray restarts a dead actor process (max_restarts); the heartbeat then restarts its
    consume loop. An actor Ray gave up on is replaced by a new one.
    """

    def __init__(self, settings: Settings, *, actor_class: Any, prefix: str, count: int) -> None:
        self._settings = settings
        self._actor_class = actor_class
        self._prefix = prefix
        self._count = count
        self._actors: dict[str, ActorHandle] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._failures: dict[str, int] = {}

    def _spawn(self, name: str) -> ActorHandle:
        # named, so operators (and tests) can find an actor with ray.get_actor
        return self._actor_class.options(name=name, namespace=NAMESPACE).remote(
            self._settings, name
        )

    async def start(self) -> None:
        """Spawn the actors and begin the heartbeat."""
        for i in range(self._count):
            name = f"{self._prefix}-{i}"
            self._actors[name] = self._spawn(name)
        await self.heartbeat()
        self._task = asyncio.create_task(self._supervise())

    async def heartbeat(self) -> list[dict[str, Any]]:
        """Ask every actor to be running; replace those Ray reports dead."""
        statuses: list[dict[str, Any]] = []
        for name, actor in list(self._actors.items()):
            try:
                statuses.append(await asyncio.wait_for(actor.ensure_running.remote(), 30))
                self._failures[name] = 0
            except (RayActorError, GetTimeoutError, TimeoutError) as exc:
                if self._stopping:
                    continue
                failures = self._failures[name] = self._failures.get(name, 0) + 1
                log.warning("%s unreachable (%d): %s", name, failures, exc)
                statuses.append({"name": name, "running": False, "last_error": repr(exc)})
                if failures >= MAX_FAILED_HEARTBEATS:
                    # Ray is not bringing it back (restarts exhausted, node gone): replace it
                    ray.kill(actor, no_restart=True)
                    self._actors[name] = self._spawn(name)
                    self._failures[name] = 0
        return statuses

    async def _supervise(self) -> None:
        while not self._stopping:
            try:
                await self.heartbeat()
            except Exception:
                log.exception("%s heartbeat failed", self._prefix)
            await asyncio.sleep(HEARTBEAT_S)

    def check(self) -> None:
        """Raise if the heartbeat loop died: then nothing would restart a failed actor."""
        if self._task is not None and self._task.done() and not self._stopping:
            exc = None if self._task.cancelled() else self._task.exception()
            raise RuntimeError(f"{self._prefix} supervision stopped: {exc!r}")

    async def status(self) -> list[dict[str, Any]]:
        """Each actor's counters, without restarting anything."""
        out = []
        for name, actor in self._actors.items():
            try:
                out.append(await asyncio.wait_for(actor.status.remote(), 10))
            except Exception as exc:
                out.append({"name": name, "running": False, "last_error": repr(exc)})
        return out

    async def stop(self) -> list[dict[str, Any]]:
        """Stop supervising, then let every actor flush and close, in parallel."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
        results = await asyncio.gather(
            *(a.stop.remote() for a in self._actors.values()), return_exceptions=True
        )
        for actor in self._actors.values():
            ray.kill(actor, no_restart=True)
        self._actors.clear()
        return [r if isinstance(r, dict) else {"error": repr(r)} for r in results]


def pipeline_pools(settings: Settings) -> dict[str, ActorPool]:
    """The pools the settings ask for, in the order they start and stop.

    Dispatchers come last on stop too: alerts the engines record while they drain can still
    be delivered before shutdown (and are delivered after the next start if not).
    """
    specs = [
        ("sink", WarehouseSinkActor, "warehouse-sink", settings.sink_actors),
        ("reaction", ReactionEngineActor, "reaction-engine", settings.reaction_actors),
        ("dispatcher", WebhookDispatcherActor, "webhook-dispatcher", settings.dispatcher_actors),
    ]
    return {
        kind: ActorPool(settings, actor_class=cls, prefix=prefix, count=count)
        for kind, cls, prefix, count in specs
        if count > 0
    }
