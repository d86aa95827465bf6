"""Segment's HTTP Tracking API on the gateway: ``/v1/batch`` and the single-call endpoints.

RudderStack's SDKs speak the same API, so they work too. The write key is a Causality
ingestion API key, sent as the Basic auth user (what analytics-python and RudderStack do) or
as ``writeKey`` in the body (analytics.js). Answers are Segment's: 200 ``{"success": true}``,
and errors as ``{"success": false, "code": ..., "message": ...}``, which analytics-python
reads into its ``APIError`` (it retries 429 and 5xx, and drops a batch answered with 4xx).
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from causality.auth.api_keys import AuthenticatedKey
from causality.auth.errors import InvalidApiKey, MissingApiKey
from causality.gateway.compat.body import malformed, read_json
from causality.gateway.compat.envelope import Mapped
from causality.gateway.compat.pipeline import Outcome, store
from causality.gateway.compat.segment_mapping import CALLS, map_message
from causality.gateway.compat.values import MappingError
from causality.gateway.errors import ApiError, json_response, to_api_error
from causality.gateway.state import GatewayState

ROUTE_LABEL: Final = "segment"
_KEY_HELP: Final = "send the write key as the Basic auth user or as writeKey in the body"

Handler = Callable[[Request], Awaitable[Response]]


def _state(request: Request) -> GatewayState:
    return request.app.state.gateway  # type: ignore[no-any-return]


def basic_user(request: Request) -> str | None:
    """The user of a Basic ``Authorization`` header (Segment's ``writeKey:``), if any."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(":")[0] or None


def _body_key(body: dict[str, Any], messages: list[Any]) -> str | None:
    """``writeKey`` of the body, or of its first message (some clients put it there)."""
    key = body.get("writeKey")
    if not key and messages and isinstance(messages[0], dict):
        key = messages[0].get("writeKey")
    return key if isinstance(key, str) else None


def render_error(api: ApiError) -> Response:
    """An error in the shape Segment's clients parse (``code`` and ``message``)."""
    body = {"success": False, "code": api.code, "message": api.message}
    return json_response(api.status, body, api.headers)


def _auth_error(exc: Exception) -> ApiError | None:
    if isinstance(exc, MissingApiKey):
        return ApiError(401, "missing_write_key", f"missing write key: {_KEY_HELP}")
    if isinstance(exc, InvalidApiKey):
        return ApiError(401, "invalid_write_key", "invalid or revoked write key")
    return None


async def _authenticate(state: GatewayState, key: str | None) -> AuthenticatedKey:
    return await state.authenticator.authenticate(key)


async def _handle(request: Request, call: str | None) -> Response:
    state = _state(request)
    header_key = basic_user(request)
    key = await _authenticate(state, header_key) if header_key else None
    body = await read_json(request, limit=state.settings.max_body_bytes)
    if not isinstance(body, dict):
        raise malformed("expected a JSON object")
    if call is None:
        messages = body.get("batch")
        if not isinstance(messages, list):
            raise ApiError(400, "malformed_body", "batch must be an array", field="batch")
    else:
        messages = [body]
    if key is None:
        key = await _authenticate(state, _body_key(body, messages))
    batch_context = body.get("context") if call is None else None
    items: list[Mapped | MappingError] = []
    for message in messages:
        try:
            items.append(map_message(message, call=call, batch_context=batch_context))
        except MappingError as exc:
            items.append(exc)
    outcomes = await store(state, key, items, now_ms=time.time_ns() // 1_000_000)
    return _answer(outcomes)


def _answer(outcomes: list[Outcome]) -> Response:
    """200 unless every event was refused; refusals are listed for whoever reads the body."""
    errors = [
        {"index": index, "field": o.field, "reason": o.reason}
        for index, o in enumerate(outcomes)
        if not o.stored
    ]
    if outcomes and len(errors) == len(outcomes):
        first = outcomes[0]
        body = {
            "success": False,
            "code": "invalid_request",
            "message": f"no event is valid; first: {first.describe()}",
            "errors": errors,
        }
        return json_response(400, body)
    answer: dict[str, Any] = {"success": True}
    if errors:
        answer["errors"] = errors
    return json_response(200, answer)


def _endpoint(call: str | None) -> Handler:
    """A handler for one call type that answers every known error in Segment's shape."""

    async def handler(request: Request) -> Response:
        state = _state(request)
        try:
            response = await _handle(request, call)
        except Exception as exc:
            api = _auth_error(exc) or to_api_error(exc)
            if api is None:
                state.metrics.requests.labels(ROUTE_LABEL, "500").inc()
                raise
            response = render_error(api)
        state.metrics.requests.labels(ROUTE_LABEL, str(response.status_code)).inc()
        return response

    handler.__name__ = f"segment_{call or 'batch'}"
    return handler


def routes() -> list[BaseRoute]:
    """``/v1/batch`` (and its alias ``/v1/import``) plus one endpoint per call type."""
    paths: list[tuple[str, str | None]] = [("batch", None), ("import", None)]
    paths += [(call, call) for call in CALLS]
    out: list[BaseRoute] = []
    for name, call in paths:
        handler = _endpoint(call)
        for path in (f"/v1/{name}", f"/v1/{name}/"):
            out.append(Route(path, handler, methods=["POST"]))
    return out
