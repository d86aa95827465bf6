"""``/api/v1/auth``: login, logout, who am I, and personal API tokens.

The session id travels only in an HttpOnly, SameSite=Strict cookie (page scripts cannot read
it, other sites cannot send it); the CSRF token is returned in the body for the web UI to echo
in ``X-CSRF-Token`` on writes.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from causality.auth.login import check_credentials
from causality.auth.login_limit import LoginLimiter
from causality.auth.principal import Principal, forget_principal
from causality.auth.roles import Role
from causality.auth.sessions import SESSION_COOKIE, end_session, start_session
from causality.gateway.endpoint import endpoint
from causality.gateway.errors import ApiError, json_response
from causality.gateway.guards import require
from causality.gateway.payload import read_struct
from causality.gateway.state import GatewayState
from causality.store import api_tokens

NO_STORE = {"Cache-Control": "no-store"}


class LoginBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]
    password: Annotated[str, msgspec.Meta(max_length=4096)]


class CreateTokenBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    role: Role | None = None
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None


def _state(request: Request) -> GatewayState:
    return request.app.state.gateway  # type: ignore[no-any-return]


def client_ip(request: Request) -> str:
    """The peer address (the proxy's when one sits in front; see the README)."""
    return request.client.host if request.client else "unknown"


def principal_json(principal: Principal) -> dict[str, Any]:
    """The caller as the UI needs it: role is the effective one."""
    return {
        "id": principal.user_id,
        "email": principal.email,
        "role": principal.role,
        "app_ids": None if principal.app_ids is None else sorted(principal.app_ids),
    }


def _cookie_args(request: Request) -> dict[str, Any]:
    return {
        "path": "/",
        "secure": _state(request).settings.session_cookie_secure,
        "httponly": True,
        "samesite": "strict",
    }


@endpoint
async def login(request: Request) -> Response:
    """Email and password in; a new session cookie and the CSRF token out."""
    state = _state(request)
    settings = state.settings
    body = await read_struct(request, LoginBody)
    ip = client_ip(request)
    limiter = LoginLimiter(
        pool=state.pool,
        max_failures=settings.login_max_failures,
        max_failures_per_ip=settings.login_max_failures_per_ip,
        window_s=settings.login_window_s,
    )
    user = await check_credentials(
        state.pool, email=body.email, password=body.password, ip=ip, limiter=limiter
    )
    session = await start_session(
        state.pool,
        user_id=user.id,
        ttl_s=settings.session_ttl_s,
        previous_id=request.cookies.get(SESSION_COOKIE),
        user_agent=request.headers.get("user-agent"),
        ip=ip,
    )
    forget_principal(request)
    response = json_response(
        200,
        {
            "user": {
                "id": user.id,
                "email": user.email,
                "role": user.role,
                "app_ids": user.app_ids,
            },
            "csrf_token": session.csrf_token,
            "expires_at": session.expires_at,
        },
        NO_STORE,
    )
    response.set_cookie(
        SESSION_COOKIE,
        session.session_id,
        max_age=int(settings.session_ttl_s),
        **_cookie_args(request),
    )
    return response


@endpoint
async def logout(request: Request) -> Response:
    """End the cookie session (a write: the CSRF header is required)."""
    principal = await require(request, Role.VIEWER)
    if principal.via != "session":
        raise ApiError(
            400,
            "not_a_session",
            "logout ends cookie sessions; revoke a token with DELETE /api/v1/auth/tokens/{id}",
        )
    await end_session(_state(request).pool, request.cookies.get(SESSION_COOKIE))
    forget_principal(request)
    response = Response(status_code=204, headers=NO_STORE)
    response.delete_cookie(SESSION_COOKIE, **_cookie_args(request))
    return response


@endpoint
async def me(request: Request) -> Response:
    """The caller; for a session also its CSRF token (the UI loses it on reload)."""
    principal = await require(request, Role.VIEWER)
    body: dict[str, Any] = {"user": principal_json(principal), "via": principal.via}
    if principal.session_csrf is not None:
        body["csrf_token"] = principal.session_csrf
    return json_response(200, body, NO_STORE)


@endpoint
async def create_token(request: Request) -> Response:
    """A personal token with a role at most the caller's; the secret is shown this once."""
    principal = await require(request, Role.VIEWER)
    body = await read_struct(request, CreateTokenBody)
    role = body.role or principal.role
    if role > principal.role:
        raise ApiError(
            403,
            "forbidden",
            f"a token cannot have more than your role ({principal.role.value})",
            field="role",
        )
    token, plaintext = await api_tokens.create_token(
        _state(request).pool,
        user_id=principal.user_id,
        name=body.name,
        role=role,
        expires_in_s=None if body.expires_in_days is None else body.expires_in_days * 86_400.0,
    )
    return json_response(201, {"token": token, "secret": plaintext}, NO_STORE)


@endpoint
async def list_tokens(request: Request) -> Response:
    """The caller's tokens, without secrets."""
    principal = await require(request, Role.VIEWER)
    tokens = await api_tokens.list_tokens(_state(request).pool, user_id=principal.user_id)
    return json_response(200, {"tokens": tokens})


@endpoint
async def revoke_token(request: Request) -> Response:
    """Revoke one of the caller's tokens; effective on its next use."""
    principal = await require(request, Role.VIEWER)
    token_id = request.path_params["token_id"]
    done = await api_tokens.revoke_token(
        _state(request).pool, user_id=principal.user_id, token_id=token_id
    )
    if not done:
        raise ApiError(404, "not_found", f"no active token {token_id[:64]!r}")
    return Response(status_code=204)


def routes() -> list[Route]:
    """The ``/api/v1/auth`` routes, for ``build_gateway_app``."""
    return [
        Route("/api/v1/auth/login", login, methods=["POST"]),
        Route("/api/v1/auth/logout", logout, methods=["POST"]),
        Route("/api/v1/auth/me", me, methods=["GET"]),
        Route("/api/v1/auth/tokens", create_token, methods=["POST"]),
        Route("/api/v1/auth/tokens", list_tokens, methods=["GET"]),
        Route("/api/v1/auth/tokens/{token_id}", revoke_token, methods=["DELETE"]),
    ]
