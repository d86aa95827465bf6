"""The Ray Serve application: the gateway and the pipeline supervisor.

``serve run serve_app:app nats_url=... postgres_dsn=...`` (or KubeRay's serveConfigV2 with
``import_path: serve_app:app``) runs the whole pipeline: the gateway replicas and the warehouse
sink actors, supervised here. Builder arguments override ``CAUSALITY_*`` settings.
"""

from __future__ import annotations

import os
from typing import Any

from ray import serve
from ray.serve import Application
from ray.serve.handle import DeploymentHandle
from starlette.types import ASGIApp

from actors.supervisor import SinkPool
from causality.config import Settings, from_mapping, load_settings
from causality.gateway.app import build_gateway_app


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0}, health_check_period_s=5)
class Pipeline:
    """Owns the sink actor pool; Serve restarts this replica (and so the pool) if it dies."""

    async def __init__(self, config: dict[str, Any]) -> None:
        self._settings = from_mapping(config)
        self._pool = SinkPool(self._settings)
        await self._pool.start()

    async def status(self) -> list[dict[str, Any]]:
        """Per-sink counters for `causality status`."""
        return await self._pool.status()

    async def drain(self) -> list[dict[str, Any]]:
        """Flush every sink and stop them (Ctrl-C in `causality up`, before Serve shuts down)."""
        return await self._pool.stop()

    async def check_health(self) -> None:
        """Serve's health probe: a dead supervision loop makes Serve replace this replica."""
        self._pool.check()

    async def __del__(self) -> None:
        await self._pool.stop()


@serve.deployment(
    ray_actor_options={"num_cpus": 0},
    max_ongoing_requests=1000,
    # per-request access lines cost ~4% of a single-event request; /metrics counts requests
    logging_config={"enable_access_log": False},
)
@serve.ingress()
class Gateway:
    """The Starlette gateway as a Serve ingress; the pipeline handle keeps it in the app."""

    async def __init__(self, config: dict[str, Any], pipeline: DeploymentHandle) -> None:
        self._settings = from_mapping(config)
        self._pipeline = pipeline

    def __serve_build_asgi_app__(self) -> ASGIApp:
        return build_gateway_app(self._settings)


def build(settings: Settings) -> Application:
    """The application for already-validated settings (used by `causality up` and tests)."""
    import msgspec

    config = msgspec.structs.asdict(settings)
    pipeline = Pipeline.bind(config)
    return Gateway.options(num_replicas=settings.gateway_replicas).bind(config, pipeline)


def app(args: dict[str, Any]) -> Application:
    """Serve application builder: ``CAUSALITY_*`` environment, then the builder's arguments."""
    return build(load_settings(environ=os.environ, overrides=args))
