"""The Ray Serve application: the gateway and the pipeline supervisor.

``serve run serve_app:app nats_url=... postgres_dsn=...`` (or KubeRay's serveConfigV2 with
``import_path: serve_app:app``) runs the whole pipeline: the gateway replicas, and the
warehouse sinks, reaction engines and webhook dispatchers, supervised here. Builder arguments
override ``CAUSALITY_*`` settings.

``serve_app:llm_app`` is the second application for ``llm_provider`` vllm: the model served by
Ray Serve LLM (vLLM) on GPU workers, deployed under ``llm_vllm_route_prefix`` (docs/llm.md).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ray import serve
from ray.serve import Application
from ray.serve.handle import DeploymentHandle
from starlette.types import ASGIApp

from actors.supervisor import ActorPool, pipeline_pools
from causality.config import Settings, from_mapping, load_settings
from causality.gateway.app import build_gateway_app


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0}, health_check_period_s=5)
class Pipeline:
    """Owns the actor pools (sinks, reaction engines, webhook dispatchers); Serve restarts
    this replica, and so the pools, if it dies."""

    async def __init__(self, config: dict[str, Any]) -> None:
        self._settings = from_mapping(config)
        self._pools: dict[str, ActorPool] = pipeline_pools(self._settings)
        for pool in self._pools.values():
            await pool.start()

    async def status(self) -> list[dict[str, Any]]:
        """Per-actor counters for `causality status`, each tagged with its ``kind``."""
        out: list[dict[str, Any]] = []
        for kind, pool in self._pools.items():
            out.extend({"kind": kind, **status} for status in await pool.status())
        return out

    async def drain(self) -> list[dict[str, Any]]:
        """Flush and stop every actor (Ctrl-C in `causality up`, before Serve shuts down):
        sinks and engines together, then the dispatchers, which deliver what they recorded."""
        kinds = [k for k in self._pools if k != "dispatcher"]
        results = await asyncio.gather(*(self._pools[k].stop() for k in kinds))
        out = [{"kind": k, **r} for k, rs in zip(kinds, results, strict=True) for r in rs]
        if "dispatcher" in self._pools:
            out.extend({"kind": "dispatcher", **r} for r in await self._pools["dispatcher"].stop())
        return out

    async def check_health(self) -> None:
        """Serve's health probe: a dead supervision loop makes Serve replace this replica."""
        for pool in self._pools.values():
            pool.check()

    async def __del__(self) -> None:
        for pool in self._pools.values():
            await pool.stop()


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


def llm_app(args: dict[str, Any]) -> Application:
    """Builder of the model application (KubeRay serveConfigV2 ``import_path:
    serve_app:llm_app``, ``route_prefix`` = ``llm_vllm_route_prefix``): the ``llm_vllm_*``
    settings from the environment and the builder's arguments. Needs ``causality[llm]``."""
    from causality.llm.serving import build_llm_app

    return build_llm_app(load_settings(environ=os.environ, overrides=args))
