"""Liveness, readiness and the Prometheus scrape endpoint."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from causality.gateway.errors import json_response
from causality.gateway.state import GatewayState


async def health(request: Request) -> Response:
    """The process answers: nothing else is checked (a liveness probe must not flap)."""
    return json_response(200, {"status": "ok"})


async def ready(request: Request) -> Response:
    """NATS connected and PostgreSQL answering within a second: safe to route traffic here."""
    state: GatewayState = request.app.state.gateway
    checks = {"nats": state.publisher.connected, "postgres": False}
    try:
        async with asyncio.timeout(1.0):
            checks["postgres"] = await state.pool.fetchval("SELECT 1") == 1
    except Exception:
        checks["postgres"] = False
    ok = all(checks.values())
    return json_response(
        200 if ok else 503,
        {"status": "ready" if ok else "unavailable", "checks": checks},
        None if ok else {"Retry-After": "2"},
    )


async def metrics(request: Request) -> Response:
    """Prometheus text format of this process's registry."""
    state: GatewayState = request.app.state.gateway
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
