"""POST /api/v1/events/ingest and /api/v1/events/batch.

The order of checks is deliberate: authenticate (cheap, cached), read the body within its
limits, validate every event, charge the rate limit for what would be stored, publish with
pipelined acks, and answer 202 only when JetStream acknowledged every accepted event.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.trace import SpanKind
from starlette.requests import Request
from starlette.responses import Response

from causality.auth.api_keys import AuthenticatedKey
from causality.events.model import Event
from causality.events.validation import BatchValidation, Rejection
from causality.gateway.body import read_body
from causality.gateway.errors import ApiError, error_body, json_response, to_api_error
from causality.gateway.state import GatewayState
from causality.observability.tracing import Tracing

API_KEY_HEADER = "x-api-key"

# rejection metrics are labelled by envelope field; anything else a client invents is folded
# into one label so clients cannot create unbounded time series
_REJECTION_LABELS = frozenset(
    {
        "type",
        "device_id",
        "idempotency_key",
        "id",
        "app_id",
        "user_id",
        "session_id",
        "timestamp_ms",
        "received_at_ms",
        "correlation_id",
        "device_context",
        "properties",
        "event",
    }
)


def _metric_label(field: str) -> str:
    head = field.split(".", 1)[0].split("[", 1)[0]
    return head if head in _REJECTION_LABELS else "unknown_field"


def _state(request: Request) -> GatewayState:
    return request.app.state.gateway  # type: ignore[no-any-return]


def api_key_of(request: Request) -> str | None:
    """X-API-Key, or ``api_key`` in the query for navigator.sendBeacon (which sets no headers)."""
    return request.headers.get(API_KEY_HEADER) or request.query_params.get("api_key")


async def ingest_one(request: Request) -> Response:
    """One envelope; an invalid event is a 400 naming its field."""
    return await _ingest(request, route="ingest", single=True)


async def ingest_batch(request: Request) -> Response:
    """``{"events": [...]}``; answers per-event acceptance."""
    return await _ingest(request, route="batch", single=False)


async def _ingest(request: Request, *, route: str, single: bool) -> Response:
    # the request's span is the root of the event's trace (set up by the app's lifespan)
    tracing: Tracing | None = getattr(request.app.state, "tracing", None)
    if tracing is None or not tracing.enabled:
        return await _ingest_counted(request, route=route, single=single)
    with tracing.tracer.start_as_current_span(
        f"POST {request.url.path}", kind=SpanKind.SERVER, attributes={"http.route": route}
    ) as span:
        response = await _ingest_counted(request, route=route, single=single)
        span.set_attribute("http.response.status_code", response.status_code)
        return response


async def _ingest_counted(request: Request, *, route: str, single: bool) -> Response:
    state = _state(request)
    try:
        response = await _handle(request, state, single=single)
    except Exception as exc:
        api = to_api_error(exc)
        if api is None:
            state.metrics.requests.labels(route, "500").inc()
            raise
        state.metrics.requests.labels(route, str(api.status)).inc()
        return json_response(api.status, error_body(api.code, api.message, api.field), api.headers)
    state.metrics.requests.labels(route, str(response.status_code)).inc()
    return response


async def _handle(request: Request, state: GatewayState, *, single: bool) -> Response:
    settings = state.settings
    key = await state.authenticator.authenticate(api_key_of(request))
    body = await read_body(request, limit=settings.max_body_bytes)
    now_ms = time.time_ns() // 1_000_000
    if single:
        result = state.validator.validate_single(body, app_id=key.app_id, now_ms=now_ms)
    else:
        result = state.validator.validate_batch(body, app_id=key.app_id, now_ms=now_ms)
    count_rejections(state, result.rejected)
    if single and result.rejected:
        r = result.rejected[0]
        raise ApiError(400, "invalid_event", r.reason, field=r.field)
    if not result.accepted:
        return json_response(
            400,
            {
                **error_body("all_events_rejected", "no event in the batch is valid", "events"),
                **_summary(result, duplicates=0),
            },
        )
    duplicate_flags = await publish_accepted(state, key, result.accepted, total=result.total)
    duplicates = sum(duplicate_flags)
    body_out = _summary(result, duplicates=duplicates)
    if single:
        body_out["id"] = result.accepted[0].id
    return json_response(202, body_out)


def count_rejections(state: GatewayState, rejected: Sequence[Rejection]) -> None:
    """Count rejected events by envelope field (shared with the compatibility endpoints)."""
    for rejection in rejected:
        state.metrics.events_rejected.labels(_metric_label(rejection.field)).inc()


async def publish_accepted(
    state: GatewayState, key: AuthenticatedKey, events: Sequence[Event], *, total: int
) -> list[bool]:
    """Charge the key's rate limit for ``events``, publish them and record the metrics;
    returns a duplicate flag per event. Shared with the compatibility endpoints so every
    way in is limited and counted alike.

    Raises ``ApiError`` 429 when the key's bucket is empty and ``BusUnavailable`` when
    JetStream does not acknowledge every event.
    """
    settings = state.settings
    wait = state.limiter.acquire(key.key_id, len(events))
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            f"rate limit of {settings.rate_limit_events_per_s:g} events/s exceeded",
            field="X-API-Key",
            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
        )
    started = time.perf_counter()
    duplicate_flags = await state.publisher.publish(events)
    state.metrics.publish_seconds.observe(time.perf_counter() - started)
    duplicates = sum(duplicate_flags)
    state.metrics.batch_size.observe(total)
    state.metrics.events_ingested.labels(key.app_id).inc(len(events) - duplicates)
    if duplicates:
        state.metrics.events_duplicate.labels(key.app_id).inc(duplicates)
    return duplicate_flags


def _summary(result: BatchValidation, *, duplicates: int) -> dict[str, Any]:
    return {
        "accepted": len(result.accepted) - duplicates,
        "duplicates": duplicates,
        "rejected": len(result.rejected),
        "errors": [
            {"index": r.index, "field": r.field, "reason": r.reason} for r in result.rejected
        ],
    }
