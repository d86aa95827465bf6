"""Helpers for tests of the account and admin APIs: logged-in clients and error checks.

The fixtures built on them live in ``tests/integration/auth_fixtures.py`` (load it with
``pytest_plugins``); this module has none, so test modules can import it freely.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import httpx

from causality.auth.roles import Role
from causality.store.users import User, create_user

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
TOKENS = "/api/v1/auth/tokens"
PASSWORD = "a test password 123"
_MISSING: Any = object()


class UserClient(httpx.AsyncClient):
    """An httpx client logged in as ``user`` (cookie jar + CSRF header)."""

    user: User
    email: str
    password: str
    csrf_token: str
    session_id: str


LoggedIn = Callable[..., Awaitable[UserClient]]


def assert_error(
    r: httpx.Response, status: int, code: str, field: str | None = _MISSING
) -> dict[str, Any]:
    """The response is ``status`` with a JSON error of ``code`` (and ``field``, when given)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    error = r.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    if field is not _MISSING:
        assert error.get("field") == field, error
    return error


def unique_email(role: str = "user") -> str:
    return f"{role}-{secrets.token_hex(5)}@test.local"


async def login_client(base_url: str, email: str, password: str = PASSWORD) -> UserClient:
    """A new client that logged in as ``email`` (the caller closes it)."""
    client = UserClient(base_url=base_url, timeout=30)
    r = await client.post(LOGIN, json={"email": email, "password": password})
    if r.status_code != 200:
        await client.aclose()
        raise AssertionError(f"login failed: {r.status_code} {r.text}")
    client.email = email
    client.password = password
    client.csrf_token = r.json()["csrf_token"]
    client.session_id = r.cookies["causality_session"]
    client.headers["X-CSRF-Token"] = client.csrf_token
    return client


async def new_user_client(
    base_url: str,
    pool: asyncpg.Pool,
    password_hash: str,
    role: str | Role = Role.VIEWER,
    app_ids: Sequence[str] | None = None,
) -> UserClient:
    """Create a user with ``PASSWORD`` and log in as them."""
    email = unique_email(str(role))
    user = await create_user(
        pool, email=email, password_hash=password_hash, role=Role(role), app_ids=app_ids
    )
    client = await login_client(base_url, email)
    client.user = user
    return client
