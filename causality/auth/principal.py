"""Who is making an analytics or admin request: a user, through a session cookie or a token.

The query layer scopes SQL with ``Principal.app_ids``; the gateway's guards check its role and,
for cookie-authenticated writes, its CSRF token.
"""

from __future__ import annotations

from typing import Any, Literal

import asyncpg
import msgspec
from starlette.requests import Request

from causality.auth.errors import AuthUnavailable
from causality.auth.roles import Role, lower_of
from causality.auth.sessions import SESSION_COOKIE, resolve_session
from causality.auth.tokens import MAX_SECRET_LENGTH, TOKEN_PREFIX, hash_key
from causality.store.api_tokens import find_active_token
from causality.store.users import User

# asyncpg raises these when the server is gone; PostgresError covers server-side failures
_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
_SCOPE_KEY = "causality.principal"
_NOT_YET: Any = object()


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated user as one request sees them.

    ``role`` is effective: for a token, the lower of the token's and the owner's current role.
    ``app_ids`` None means every app. ``session_csrf`` is set only for cookie sessions, which
    alone need CSRF checks (a browser never attaches a bearer token by itself).
    """

    user_id: str
    email: str
    role: Role
    app_ids: frozenset[str] | None
    via: Literal["session", "token"]
    session_csrf: str | None = None
    token_id: str | None = None

    def can_access_app(self, app_id: str) -> bool:
        """Whether this principal may read the app's events."""
        return self.app_ids is None or app_id in self.app_ids


def _from_user(user: User, **extra: Any) -> Principal:
    return Principal(
        user_id=user.id,
        email=user.email,
        app_ids=None if user.app_ids is None else frozenset(user.app_ids),
        **extra,
    )


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or None when the header is absent."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def principal_from_token(pool: asyncpg.Pool, token: str) -> Principal | None:
    """The principal behind a personal API token, or None for an unknown, revoked or expired
    token or a disabled owner."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > MAX_SECRET_LENGTH:
        return None  # cannot be one of ours: no query
    found = await find_active_token(pool, token_hash=hash_key(token))
    if found is None:
        return None
    api_token, user = found
    return _from_user(
        user, role=lower_of(api_token.role, user.role), via="token", token_id=api_token.id
    )


async def principal_from_session(pool: asyncpg.Pool, session_id: str) -> Principal | None:
    """The principal behind a session cookie value, or None when it is not a live session."""
    session = await resolve_session(pool, session_id)
    if session is None:
        return None
    return _from_user(
        session.user, role=session.user.role, via="session", session_csrf=session.csrf_token
    )


async def authenticate_request(
    request: Request, *, pool: asyncpg.Pool | None = None
) -> Principal | None:
    """The request's principal, or None when it carries no valid credentials.

    An ``Authorization`` header wins over the cookie (and a malformed one is not silently
    replaced by it). The result is cached on the request. ``pool`` defaults to the gateway's.
    Raises ``AuthUnavailable`` when PostgreSQL cannot be asked.
    """
    cached = request.scope.get(_SCOPE_KEY, _NOT_YET)
    if cached is not _NOT_YET:
        return cached  # type: ignore[no-any-return]
    if pool is None:
        pool = request.app.state.gateway.pool
    assert pool is not None
    try:
        token = bearer_token(request)
        if token is not None:
            principal = await principal_from_token(pool, token) if token else None
        elif session_id := request.cookies.get(SESSION_COOKIE):
            principal = await principal_from_session(pool, session_id)
        else:
            principal = None
    except _DB_ERRORS as exc:
        raise AuthUnavailable(f"cannot check credentials: {exc}") from exc
    request.scope[_SCOPE_KEY] = principal
    return principal


def forget_principal(request: Request) -> None:
    """Drop the cached principal (after login or logout changed who the request is)."""
    request.scope.pop(_SCOPE_KEY, None)
