"""Rendering account and admin errors: package errors to HTTP in one table, as JSON.

Handlers wrapped in ``@endpoint`` may raise ``ApiError`` (guards, bodies) or the exposed store
and auth errors; the wrapper answers with the usual JSON error instead of letting the
exception reach Starlette's last-resort handler (which would log it as a crash).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from causality.auth.errors import InvalidCredentials, LoginRateLimited, WeakPassword
from causality.gateway.errors import ApiError, error_body, json_response, to_api_error
from causality.llm.types import LLMError, LLMNotConfigured, LLMRateLimited
from causality.reactions.service import AdminError
from causality.store.errors import (
    AppExists,
    AppNotFound,
    InvalidAppId,
    InvalidAppName,
    InvalidEmail,
    LastAdmin,
    StoreUnavailable,
    UserExists,
    UserNotFound,
)

Handler = Callable[[Request], Awaitable[Response]]

# exception class -> (status, field); the code and message come from the exception
_STATUS: dict[type[Exception], tuple[int, str | None]] = {
    InvalidCredentials: (401, None),
    WeakPassword: (422, "password"),
    InvalidEmail: (422, "email"),
    UserExists: (409, "email"),
    UserNotFound: (404, None),
    LastAdmin: (409, None),
    InvalidAppId: (422, "id"),
    InvalidAppName: (422, "name"),
    AppExists: (409, "id"),
    AppNotFound: (404, None),
}
_DB_DOWN = (StoreUnavailable, OSError, TimeoutError, asyncpg.InterfaceError)


def translate(exc: Exception) -> ApiError | None:
    """The HTTP form of an error, or None for a bug."""
    api = to_api_error(exc)
    if api is not None:
        return api
    if isinstance(exc, LoginRateLimited):
        return ApiError(
            429,
            exc.code,
            str(exc),
            headers={"Retry-After": str(exc.retry_after_s)},
        )
    if isinstance(exc, LLMRateLimited):
        return ApiError(
            429,
            exc.code,
            exc.message,
            headers={"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))},
        )
    if isinstance(exc, LLMError):  # status and code are set by causality.llm.types
        transient = exc.status == 503 and not isinstance(exc, LLMNotConfigured)
        return ApiError(
            exc.status,
            exc.code,
            exc.message,
            headers={"Retry-After": "5"} if transient else None,
        )
    if isinstance(exc, AdminError):  # rules, detectors, webhooks: status and field set there
        return ApiError(exc.status, exc.code, exc.message, field=exc.field)
    for cls, (status, field) in _STATUS.items():
        if isinstance(exc, cls):
            return ApiError(status, getattr(exc, "code", "error"), str(exc), field=field)
    if isinstance(exc, _DB_DOWN):
        return ApiError(
            503,
            "store_unavailable",
            "database unavailable, retry later",
            headers={"Retry-After": "2"},
        )
    return None


def render(api: ApiError) -> Response:
    """An ``ApiError`` as the gateway's JSON error response."""
    return json_response(api.status, error_body(api.code, api.message, api.field), api.headers)


def endpoint(handler: Handler) -> Handler:
    """Wrap a handler so that known errors become JSON 4xx/503 responses."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:
            api = translate(exc)
            if api is None:
                raise
            return render(api)

    return wrapped
