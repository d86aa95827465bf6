"""What the gateway's lifespan opens and every handler uses."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from nats.aio.client import Client as NATS

from causality.auth.api_keys import ApiKeyAuthenticator
from causality.bus.publisher import EventPublisher
from causality.config import Settings
from causality.events.validation import EventValidator
from causality.gateway.ratelimit import TokenBucketLimiter
from causality.llm.schema_context import SchemaContextProvider
from causality.llm.types import ModelClient
from causality.observability.metrics import GatewayMetrics
from causality.query.engine import QueryEngine
from causality.reactions.sender import WebhookSender


@dataclass(frozen=True)
class GatewayState:
    """Typed lifespan state; handlers read it from ``request.app.state.gateway``."""

    settings: Settings
    pool: asyncpg.Pool
    publisher: EventPublisher
    authenticator: ApiKeyAuthenticator
    validator: EventValidator
    limiter: TokenBucketLimiter
    metrics: GatewayMetrics
    engine: QueryEngine
    nc: NATS
    # test deliveries from the admin API (the dispatcher actors have their own)
    sender: WebhookSender
    # questions in plain English (docs/llm.md): None when llm_provider is none, and then
    # llm_setup_error says how to configure a model
    llm: ModelClient | None
    llm_setup_error: str
    schema_contexts: SchemaContextProvider
    # per user: llm_requests_per_minute
    llm_limiter: TokenBucketLimiter
