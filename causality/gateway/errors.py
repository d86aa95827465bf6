"""Every error the gateway answers, as one JSON shape, mapped from package errors in one place.

``{"error": {"code": "...", "message": "...", "field": "..."}}`` with a 4xx status, or 503
with Retry-After when the bus is down; a 500 only for a genuine bug.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from causality.analytics.errors import InvalidInsight
from causality.auth.errors import AuthUnavailable, InvalidApiKey, MissingApiKey
from causality.bus.errors import BusUnavailable
from causality.events.errors import BatchTooLarge, InvalidRequest
from causality.query.errors import (
    QueryError,
    QueryMemoryExceeded,
    QueryTimeout,
    QueryUnavailable,
    ResultTooLarge,
    UnsafeQuery,
    WarehouseChanged,
)

log = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()


class ApiError(Exception):
    """An error with its HTTP status, raised by handlers and rendered by the app."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (self.status, self.code, self.message, self.field, self.headers),
        )


def _rebuild(
    status: int, code: str, message: str, field: str | None, headers: dict[str, str]
) -> ApiError:
    return ApiError(status, code, message, field=field, headers=headers)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response encoded with msgspec (the hot path avoids the stdlib encoder)."""
    return Response(_encoder.encode(body), status, headers, media_type="application/json")


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The error object every 4xx/5xx carries."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


# see causality/query/errors.py for why each status
_QUERY_STATUS: dict[type[QueryError], int] = {
    UnsafeQuery: 400,
    QueryTimeout: 504,
    QueryMemoryExceeded: 422,
    ResultTooLarge: 413,
    WarehouseChanged: 503,
    QueryUnavailable: 503,
}


def to_api_error(exc: Exception) -> ApiError | None:
    """Translate package errors to HTTP; None means "not ours, a bug"."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, MissingApiKey):
        return ApiError(
            401, exc.code, "missing API key (send it in the X-API-Key header)", field=exc.field
        )
    if isinstance(exc, InvalidApiKey):
        return ApiError(401, exc.code, "invalid or revoked API key", field=exc.field)
    if isinstance(exc, BatchTooLarge):
        return ApiError(413, exc.code, str(exc.reason), field=exc.field)
    if isinstance(exc, InvalidRequest):
        return ApiError(400, exc.code, str(exc.reason), field=exc.field)
    if isinstance(exc, AuthUnavailable):
        return ApiError(
            503, exc.code, "key store unavailable, retry later", headers={"Retry-After": "2"}
        )
    if isinstance(exc, QueryError):
        status = _QUERY_STATUS.get(type(exc), 400)
        headers = {"Retry-After": "2"} if status == 503 else None
        return ApiError(status, exc.code, exc.message, field="sql", headers=headers)
    if isinstance(exc, InvalidInsight):
        return ApiError(422, "invalid_insight", f"{exc.field}: {exc.reason}", field=exc.field)
    if isinstance(exc, BusUnavailable):
        return ApiError(
            503,
            "bus_unavailable",
            "event bus unavailable, nothing was stored; retry with the same idempotency keys",
            headers={"Retry-After": "2"},
        )
    return None


async def handle_exception(request: Request, exc: Exception) -> Response:
    """Starlette exception handler: package errors to 4xx/503, anything else logged as 500."""
    api = to_api_error(exc)
    if api is None:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return json_response(500, error_body("internal_error", "internal server error"))
    return json_response(api.status, error_body(api.code, api.message, api.field), api.headers)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """404/405 and friends in the same JSON shape as every other error."""
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return json_response(
        exc.status_code, error_body(code, str(exc.detail)), dict(exc.headers or {})
    )
