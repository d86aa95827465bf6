"""Building the gateway's Starlette app; the same app runs under Ray Serve or plain uvicorn."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route

from causality.auth.api_keys import ApiKeyAuthenticator
from causality.auth.housekeeping import auth_housekeeping
from causality.bus.connection import open_connection
from causality.bus.publisher import EventPublisher
from causality.bus.stream import ensure_topology
from causality.config import Settings, SettingsError
from causality.events.validation import EventValidator
from causality.gateway import (
    admin_routes,
    auth_routes,
    compat,
    health,
    ingest,
    insight_routes,
    llm_routes,
    public_routes,
    query_routes,
    reaction_routes,
    sdk_routes,
    stream_routes,
    webhook_routes,
    webui_routes,
)
from causality.gateway.errors import ApiError, handle_exception, handle_http_exception
from causality.gateway.ratelimit import TokenBucketLimiter
from causality.gateway.state import GatewayState
from causality.llm.client import build_model_client
from causality.llm.schema_context import SchemaContextProvider
from causality.llm.types import LLMNotConfigured, ModelClient
from causality.observability.logs import configure_logging
from causality.observability.metrics import GatewayMetrics
from causality.observability.tracing import Tracing
from causality.query.factory import query_engine
from causality.reactions.sender import WebhookSender
from causality.store.db import migrate, open_pool

log = logging.getLogger(__name__)


@asynccontextmanager
async def gateway_resources(
    settings: Settings, *, tracing: Tracing | None = None
) -> AsyncIterator[GatewayState]:
    """Open NATS and PostgreSQL for the gateway; closed in reverse order on exit."""
    if not settings.nats_url or not settings.postgres_dsn:
        raise SettingsError(
            "the gateway needs nats_url and postgres_dsn (`causality up` starts embedded ones)"
        )
    async with AsyncExitStack() as stack:
        nc = await stack.enter_async_context(open_connection(settings.nats_url, name="gateway"))
        await ensure_topology(nc.jetstream(timeout=settings.publish_timeout_s), settings)
        publisher = EventPublisher(
            nc=nc,
            stream=settings.stream_name,
            timeout_s=settings.publish_timeout_s,
            tracing=tracing,
        )
        stack.push_async_callback(publisher.aclose)
        pool = await stack.enter_async_context(
            open_pool(
                settings.postgres_dsn,
                min_size=settings.postgres_pool_min,
                max_size=settings.postgres_pool_max,
            )
        )
        await migrate(pool)
        # entered after the pool so its pending last-used writes flush before the pool closes
        authenticator = await stack.enter_async_context(
            ApiKeyAuthenticator(pool=pool, ttl_s=settings.api_key_cache_ttl_s)
        )
        await stack.enter_async_context(
            auth_housekeeping(pool, login_window_s=settings.login_window_s)
        )
        engine = await stack.enter_async_context(query_engine(settings))
        sender = await stack.enter_async_context(WebhookSender(settings))
        # after the engine (its schema context queries it), closed before it
        llm: ModelClient | None = None
        llm_setup_error = ""
        try:
            llm = build_model_client(settings)
        except LLMNotConfigured as exc:
            llm_setup_error = exc.message
        else:
            stack.push_async_callback(llm.aclose)
        yield GatewayState(
            settings=settings,
            pool=pool,
            publisher=publisher,
            authenticator=authenticator,
            validator=EventValidator.from_settings(settings),
            limiter=TokenBucketLimiter(
                rate=settings.rate_limit_events_per_s, burst=settings.rate_limit_burst
            ),
            metrics=GatewayMetrics(),
            engine=engine,
            nc=nc,
            sender=sender,
            llm=llm,
            llm_setup_error=llm_setup_error,
            schema_contexts=SchemaContextProvider(engine, settings),
            llm_limiter=TokenBucketLimiter(
                rate=settings.llm_requests_per_minute / 60.0,
                burst=settings.llm_requests_per_minute,
            ),
        )


def build_gateway_app(settings: Settings) -> Starlette:
    """The ASGI app: routes, CORS for browser SDKs, JSON errors, one lifespan."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.log_format == "json":
            configure_logging(settings)
        tracing = Tracing.from_settings(settings, "gateway")
        try:
            async with gateway_resources(settings, tracing=tracing) as state:
                app.state.gateway = state
                app.state.tracing = tracing
                log.info("gateway ready")
                yield
        finally:
            tracing.shutdown()  # exports the spans still buffered

    routes = [
        Route("/health", health.health, methods=["GET"]),
        Route("/ready", health.ready, methods=["GET"]),
        Route("/metrics", health.metrics, methods=["GET"]),
        Route("/api/v1/events/ingest", ingest.ingest_one, methods=["POST"]),
        Route("/api/v1/events/batch", ingest.ingest_batch, methods=["POST"]),
        *auth_routes.routes(),
        *admin_routes.routes(),
        *query_routes.routes(),
        *insight_routes.routes(),
        *stream_routes.routes(),
        # the reaction engine's configuration and history (docs/reactions.md)
        *reaction_routes.routes(),
        *webhook_routes.routes(),
        # questions in plain English, conversations, explanations (docs/llm.md)
        *llm_routes.routes(),
        # Segment and PostHog clients pointed at the gateway (docs/compat.md)
        *compat.routes(),
        # the web SDK's script-tag build, /sdk/causality.js (sdk/web)
        *sdk_routes.routes(),
        # the analyst web UI at /app (webui/, `make webui`)
        *webui_routes.routes(),
        # the public pages (/, /docs), /api/v1/openapi.json and /static: public_routes.py
        *public_routes.routes(),
    ]
    middleware = [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_allow_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=[
                "Content-Type",
                "Content-Encoding",
                "X-API-Key",
                "X-CSRF-Token",
                "Authorization",
            ],
            expose_headers=["Retry-After"],
            max_age=86_400,
        )
    ]
    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        # ApiError listed on its own so that Starlette renders it without logging a crash
        exception_handlers={
            HTTPException: handle_http_exception,
            ApiError: handle_exception,
            Exception: handle_exception,
        },
    )
