"""``/api/v1/admin``: users, apps and ingestion API keys. Every route needs the admin role.

Secrets (generated passwords, ingestion keys) appear in exactly one response, the one that
created them; only hashes are stored.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from causality.auth.passwords import check_policy, generate_password, hash_password
from causality.auth.roles import Role
from causality.gateway.endpoint import endpoint
from causality.gateway.errors import ApiError, json_response
from causality.gateway.guards import require
from causality.gateway.payload import read_struct
from causality.gateway.state import GatewayState
from causality.store import api_keys, apps, users
from causality.store.apps import APP_ID_PATTERN
from causality.store.errors import AppNotFound

NO_STORE = {"Cache-Control": "no-store"}
AppId = Annotated[str, msgspec.Meta(pattern=APP_ID_PATTERN.pattern)]
AppIds = Annotated[list[AppId], msgspec.Meta(min_length=1, max_length=1000)]
Password = Annotated[str, msgspec.Meta(max_length=1024)]


class CreateUserBody(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    role: Role = Role.VIEWER
    password: Password | None = None  # None: generate one and return it once
    app_ids: AppIds | None = None  # None: every app


class UpdateUserBody(msgspec.Struct, forbid_unknown_fields=True):
    role: Role | msgspec.UnsetType = msgspec.UNSET
    disabled: bool | msgspec.UnsetType = msgspec.UNSET
    app_ids: AppIds | msgspec.UnsetType | None = msgspec.UNSET
    password: Password | msgspec.UnsetType = msgspec.UNSET


class CreateAppBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    id: Annotated[str, msgspec.Meta(max_length=63)] | None = None


class CreateKeyBody(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] = "default"


def _pool(request: Request) -> Any:
    state: GatewayState = request.app.state.gateway
    return state.pool


def _unknown_app_in_body(exc: AppNotFound) -> ApiError:
    return ApiError(422, exc.code, str(exc), field="app_ids")


# -- users ---------------------------------------------------------------------------------


@endpoint
async def list_users(request: Request) -> Response:
    await require(request, Role.ADMIN)
    return json_response(200, {"users": await users.list_users(_pool(request))})


@endpoint
async def create_user(request: Request) -> Response:
    """Create a user; without a password one is generated and returned this once."""
    await require(request, Role.ADMIN)
    body = await read_struct(request, CreateUserBody)
    users.normalize_email(body.email)  # a bad address fails before the (slow) hash
    generated = body.password is None
    password = generate_password() if body.password is None else body.password
    check_policy(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        user = await users.create_user(
            _pool(request),
            email=body.email,
            password_hash=password_hash,
            role=body.role,
            app_ids=body.app_ids,
        )
    except AppNotFound as exc:
        raise _unknown_app_in_body(exc) from None
    out: dict[str, Any] = {"user": user}
    if generated:
        out["password"] = password
    return json_response(201, out, NO_STORE)


@endpoint
async def update_user(request: Request) -> Response:
    """Change role, disabled, app_ids (null: all apps) or password; ends sessions when the
    user is disabled or the password changes."""
    await require(request, Role.ADMIN)
    body = await read_struct(request, UpdateUserBody)
    password_hash = None
    if body.password is not msgspec.UNSET:
        check_policy(body.password)
        password_hash = await asyncio.to_thread(hash_password, body.password)
    try:
        user = await users.update_user(
            _pool(request),
            user_id=request.path_params["user_id"],
            role=None if body.role is msgspec.UNSET else body.role,
            disabled=None if body.disabled is msgspec.UNSET else body.disabled,
            app_ids=body.app_ids,
            password_hash=password_hash,
        )
    except AppNotFound as exc:
        raise _unknown_app_in_body(exc) from None
    return json_response(200, {"user": user})


@endpoint
async def delete_user(request: Request) -> Response:
    await require(request, Role.ADMIN)
    await users.delete_user(_pool(request), user_id=request.path_params["user_id"])
    return Response(status_code=204)


# -- apps and keys -------------------------------------------------------------------------


@endpoint
async def list_apps(request: Request) -> Response:
    await require(request, Role.ADMIN)
    return json_response(200, {"apps": await apps.list_apps(_pool(request))})


@endpoint
async def create_app(request: Request) -> Response:
    await require(request, Role.ADMIN)
    body = await read_struct(request, CreateAppBody)
    app = await apps.create_app(_pool(request), name=body.name, app_id=body.id)
    return json_response(201, {"app": app})


async def _existing_app(request: Request) -> str:
    app_id: str = request.path_params["app_id"]
    if await apps.get_app(_pool(request), app_id) is None:
        raise ApiError(404, "app_not_found", f"no app {app_id[:64]!r}")
    return app_id


@endpoint
async def list_keys(request: Request) -> Response:
    await require(request, Role.ADMIN)
    app_id = await _existing_app(request)
    return json_response(200, {"keys": await api_keys.list_keys(_pool(request), app_id=app_id)})


@endpoint
async def create_key(request: Request) -> Response:
    """A new ingestion key; its secret is in this response only."""
    await require(request, Role.ADMIN)
    app_id = await _existing_app(request)
    body = await read_struct(request, CreateKeyBody)
    key, plaintext = await api_keys.create_key(_pool(request), app_id=app_id, name=body.name)
    return json_response(201, {"key": key, "secret": plaintext}, NO_STORE)


@endpoint
async def revoke_key(request: Request) -> Response:
    """Revoke an ingestion key; gateways refuse it within ``api_key_cache_ttl_s``."""
    await require(request, Role.ADMIN)
    key_id: str = request.path_params["key_id"]
    if not await api_keys.revoke_key(_pool(request), key_id=key_id):
        raise ApiError(404, "not_found", f"no active key {key_id[:64]!r}")
    return Response(status_code=204)


def routes() -> list[Route]:
    """The ``/api/v1/admin`` routes, for ``build_gateway_app``."""
    prefix = "/api/v1/admin"
    return [
        Route(f"{prefix}/users", list_users, methods=["GET"]),
        Route(f"{prefix}/users", create_user, methods=["POST"]),
        Route(f"{prefix}/users/{{user_id}}", update_user, methods=["PATCH"]),
        Route(f"{prefix}/users/{{user_id}}", delete_user, methods=["DELETE"]),
        Route(f"{prefix}/apps", list_apps, methods=["GET"]),
        Route(f"{prefix}/apps", create_app, methods=["POST"]),
        Route(f"{prefix}/apps/{{app_id}}/keys", list_keys, methods=["GET"]),
        Route(f"{prefix}/apps/{{app_id}}/keys", create_key, methods=["POST"]),
        Route(f"{prefix}/keys/{{key_id}}", revoke_key, methods=["DELETE"]),
    ]
