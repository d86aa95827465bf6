"""PostHog's capture API on the gateway: legacy ``/batch/``, ``/capture/``, ``/e/``,
``/i/v0/e/``, capture v1 ``/i/v1/analytics/events``, and ``/flags`` / ``/decide/``.

The project API key (``api_key`` or ``token`` in the body, or ``Authorization: Bearer``) is
a Causality ingestion API key. Legacy endpoints answer 200 ``{"status": 1}``; v1 answers per
event (``ok``, ``warning`` for a duplicate, ``drop`` with the reason), which posthog-python
uses to resend only what it should. Errors use PostHog's shape,
``{"type": ..., "code": ..., "detail": ..., "attr": ...}``, whose ``detail`` the clients log.
There are no feature flags here: the flags endpoints answer with none, so clients stay quiet.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from causality.auth.errors import InvalidApiKey, MissingApiKey
from causality.gateway.compat.body import malformed, read_posthog
from causality.gateway.compat.envelope import Mapped
from causality.gateway.compat.pipeline import Outcome, store
from causality.gateway.compat.posthog_mapping import map_event
from causality.gateway.compat.values import MappingError
from causality.gateway.errors import ApiError, json_response, to_api_error
from causality.gateway.state import GatewayState

ROUTE_LABEL: Final = "posthog"
LEGACY_PATHS: Final = ("/batch", "/capture", "/e", "/i/v0/e", "/track")
V1_PATH: Final = "/i/v1/analytics/events"
_KEY_HELP: Final = "send the project API key as api_key in the body or as a Bearer token"
_ERROR_TYPES: Final = {401: "authentication_error", 429: "throttled_error", 503: "server_error"}

Handler = Callable[[Request], Awaitable[Response]]


def _state(request: Request) -> GatewayState:
    return request.app.state.gateway  # type: ignore[no-any-return]


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def render_error(api: ApiError) -> Response:
    """An error in PostHog's shape; the clients log ``detail``."""
    body = {
        "type": _ERROR_TYPES.get(api.status, "validation_error"),
        "code": api.code,
        "detail": api.message,
        "attr": api.field,
    }
    return json_response(api.status, body, api.headers)


def _auth_error(exc: Exception) -> ApiError | None:
    if isinstance(exc, MissingApiKey):
        return ApiError(401, "invalid_api_key", f"API key not provided: {_KEY_HELP}")
    if isinstance(exc, InvalidApiKey):
        return ApiError(401, "invalid_api_key", "project API key invalid or revoked")
    return None


def _token_of(value: Any) -> str | None:
    """``api_key`` or ``token`` of a body or event, or posthog-js's ``properties.token``."""
    if not isinstance(value, dict):
        return None
    properties = value.get("properties")
    for token in (
        value.get("api_key"),
        value.get("token"),
        properties.get("token") if isinstance(properties, dict) else None,
    ):
        if isinstance(token, str) and token:
            return token
    return None


def _events_of(payload: Any) -> tuple[list[Any], str | None]:
    """The events and the request's key from any legacy shape: a list of events,
    ``{"batch": [...]}`` or one event."""
    if isinstance(payload, list):
        return payload, _token_of(payload[0]) if payload else None
    if not isinstance(payload, dict):
        raise malformed("expected a JSON object or array")
    if "batch" in payload:
        events = payload["batch"]
        if not isinstance(events, list):
            raise ApiError(400, "malformed_body", "batch must be an array", field="batch")
        token = _token_of(payload) or (_token_of(events[0]) if events else None)
        return events, token
    return [payload], _token_of(payload)


def _map_all(events: list[Any], token: str | None, now_ms: int) -> list[Mapped | MappingError]:
    """Map each event; one naming a different project key than the request's is refused."""
    items: list[Mapped | MappingError] = []
    for event in events:
        own = _token_of(event)
        if own is not None and token is not None and own != token:
            items.append(MappingError("api_key", "differs from the request's API key"))
            continue
        try:
            items.append(map_event(event, now_ms=now_ms))
        except MappingError as exc:
            items.append(exc)
    return items


async def _capture(request: Request) -> Response:
    """Legacy capture: 200 ``{"status": 1}`` unless no event of the request is valid."""
    state = _state(request)
    payload = await read_posthog(request, limit=state.settings.max_body_bytes)
    events, body_token = _events_of(payload)
    token = body_token or bearer(request) or request.query_params.get("token")
    key = await state.authenticator.authenticate(token)
    now_ms = time.time_ns() // 1_000_000
    outcomes = await store(state, key, _map_all(events, token, now_ms), now_ms=now_ms)
    if outcomes and not any(o.stored for o in outcomes):
        first = outcomes[0]
        raise ApiError(
            400, "invalid_event", f"no event is valid; first: {first.describe()}", field=first.field
        )
    return json_response(200, {"status": 1})


async def _capture_v1(request: Request) -> Response:
    """Capture v1: Bearer auth, ``{"batch": [...]}``, a result per event uuid."""
    state = _state(request)
    key = await state.authenticator.authenticate(bearer(request))
    payload = await read_posthog(request, limit=state.settings.max_body_bytes)
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        raise ApiError(400, "malformed_body", 'expected {"batch": [...]}', field="batch")
    events: list[Any] = payload["batch"]
    now_ms = time.time_ns() // 1_000_000
    outcomes = await store(state, key, _map_all(events, bearer(request), now_ms), now_ms=now_ms)
    results: dict[str, dict[str, str]] = {}
    for event, outcome in zip(events, outcomes, strict=True):
        event_uuid = event.get("uuid") if isinstance(event, dict) else None
        if isinstance(event_uuid, str) and event_uuid:
            results[event_uuid] = _result(outcome)
    return json_response(200, {"results": results})


def _result(outcome: Outcome) -> dict[str, str]:
    if outcome.status == "accepted":
        return {"result": "ok"}
    if outcome.status == "duplicate":
        return {"result": "warning", "details": "duplicate of an event stored earlier"}
    return {"result": "drop", "details": outcome.describe()}


async def flags(request: Request) -> Response:
    """No feature flags, in both the v4 (``flags``) and legacy (``featureFlags``) shapes."""
    body = {
        "flags": {},
        "featureFlags": {},
        "featureFlagPayloads": {},
        "errorsWhileComputingFlags": False,
        "quotaLimited": [],
        "requestId": str(uuid.uuid4()),
        # /decide/ callers (posthog-js) also read their config here: nothing to switch on
        "sessionRecording": False,
        "supportedCompression": ["gzip", "gzip-js"],
        "siteApps": [],
        "surveys": False,
    }
    return json_response(200, body)


def _endpoint(handle: Handler, name: str) -> Handler:
    """Wrap a capture handler so that every known error is answered in PostHog's shape."""

    async def handler(request: Request) -> Response:
        state = _state(request)
        try:
            response = await handle(request)
        except Exception as exc:
            api = _auth_error(exc) or to_api_error(exc)
            if api is None:
                state.metrics.requests.labels(ROUTE_LABEL, "500").inc()
                raise
            response = render_error(api)
        state.metrics.requests.labels(ROUTE_LABEL, str(response.status_code)).inc()
        return response

    handler.__name__ = name
    return handler


def routes() -> list[BaseRoute]:
    """Every path with and without the trailing slash (clients differ)."""
    capture = _endpoint(_capture, "posthog_capture")
    capture_v1 = _endpoint(_capture_v1, "posthog_capture_v1")
    out: list[BaseRoute] = []
    for path in LEGACY_PATHS:
        for variant in (path, path + "/"):
            out.append(Route(variant, capture, methods=["GET", "POST"]))
    for variant in (V1_PATH, V1_PATH + "/"):
        out.append(Route(variant, capture_v1, methods=["POST"]))
    for path in ("/flags", "/decide"):
        for variant in (path, path + "/"):
            out.append(Route(variant, flags, methods=["GET", "POST"]))
    return out
