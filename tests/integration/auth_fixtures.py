"""Fixtures for tests of the account and admin APIs: a uvicorn gateway and logged-in clients.

Load with ``pytest_plugins = ["tests.integration.auth_fixtures"]`` in a test module, then ask
for ``logged_in`` (a factory: ``await logged_in("editor", app_ids=["shop"])`` returns a client
carrying the session cookie and the ``X-CSRF-Token`` header), ``as_role`` (one logged-in
client per role, shared by the module: do not disable or demote those users) or ``anon``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

import asyncpg
import httpx
import pytest
import pytest_asyncio

from causality.auth.passwords import hash_password
from causality.auth.roles import Role
from causality.config import Settings
from causality.gateway.app import build_gateway_app
from tests.auth_helpers import PASSWORD, LoggedIn, UserClient, new_user_client
from tests.helpers import serve_in_thread


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2 hash of ``PASSWORD`` reused by every test user (hashing costs ~0.3 s)."""
    return hash_password(PASSWORD)


@pytest.fixture(scope="module")
def auth_settings(base_settings: Settings) -> Settings:
    """The session's settings with a per-address login limit high enough that one test's
    failed logins (all from 127.0.0.1) never lock out another's."""
    return base_settings.replace(login_max_failures_per_ip=100_000)


@pytest.fixture(scope="module")
def auth_gateway(auth_settings: Settings) -> Iterator[str]:
    """The gateway app under plain uvicorn in a thread."""
    with serve_in_thread(build_gateway_app(auth_settings)) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session")
async def logged_in(
    auth_gateway: str, pg_pool: asyncpg.Pool, password_hash: str
) -> AsyncIterator[LoggedIn]:
    """``await logged_in(role, app_ids=None)``: a fresh user of that role, logged in."""
    clients: list[UserClient] = []

    async def make(
        role: str | Role = Role.VIEWER, app_ids: Sequence[str] | None = None
    ) -> UserClient:
        client = await new_user_client(auth_gateway, pg_pool, password_hash, role, app_ids)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def as_role(
    auth_gateway: str, pg_pool: asyncpg.Pool, password_hash: str
) -> AsyncIterator[dict[Role, UserClient]]:
    """One logged-in client per role, shared by the module's tests."""
    clients = {
        role: await new_user_client(auth_gateway, pg_pool, password_hash, role) for role in Role
    }
    yield clients
    for client in clients.values():
        await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def anon(auth_gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials."""
    async with httpx.AsyncClient(base_url=auth_gateway, timeout=30) as client:
        yield client
