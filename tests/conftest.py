"""Fixtures shared by the whole suite: one NATS and one PostgreSQL per test session.

The servers are the real ones the one-command stack embeds (nats-server from its wheel,
PostgreSQL from pgserver). To reuse servers you already run, set ``CAUSALITY_TEST_NATS_URL``
and/or ``CAUSALITY_TEST_PG_DSN``; fixtures that need to stop or restart a server then skip.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import pytest
import pytest_asyncio

from causality.embedded.nats import EmbeddedNats
from causality.embedded.postgres import EmbeddedPostgres
from causality.store.api_keys import create_key
from causality.store.apps import create_app
from causality.store.db import migrate, open_pool

NATS_URL_ENV = "CAUSALITY_TEST_NATS_URL"
PG_DSN_ENV = "CAUSALITY_TEST_PG_DSN"

AppWithKeyFactory = Callable[..., Awaitable[tuple[str, str]]]


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """The session's nats-server (JetStream on), started on a free port kept across restarts.

    Tests may ``stop()``/``restart()`` it but must leave it running.
    """
    if os.environ.get(NATS_URL_ENV):
        pytest.skip(f"{NATS_URL_ENV} is set: the external NATS cannot be controlled by tests")
    root = tmp_path_factory.mktemp("nats")
    with EmbeddedNats(store_dir=root / "jetstream", port=0) as server:
        yield server


@pytest.fixture(scope="session")
def nats_url(request: pytest.FixtureRequest) -> str:
    """URL of the session's NATS: the external one if configured, else the embedded one."""
    external = os.environ.get(NATS_URL_ENV)
    if external:
        return external
    server: EmbeddedNats = request.getfixturevalue("nats_server")
    return server.url


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """The session's PostgreSQL (pgserver), stopped at the end of the session."""
    if os.environ.get(PG_DSN_ENV):
        pytest.skip(f"{PG_DSN_ENV} is set: the external PostgreSQL cannot be controlled by tests")
    root = tmp_path_factory.mktemp("pg")
    with EmbeddedPostgres(data_dir=root / "data") as server:
        yield server


@pytest.fixture(scope="session")
def pg_dsn(request: pytest.FixtureRequest) -> str:
    """DSN of the session's ``causality`` database (external one if configured)."""
    external = os.environ.get(PG_DSN_ENV)
    if external:
        return external
    server: EmbeddedPostgres = request.getfixturevalue("pg_server")
    return server.dsn


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def pg_pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A migrated pool on the session's database. Tests share it: create fresh apps rather
    than assuming empty tables."""
    async with open_pool(pg_dsn, min_size=1, max_size=5) as pool:
        await migrate(pool)
        yield pool


@pytest_asyncio.fixture(loop_scope="session")
async def make_app_with_key(pg_pool: asyncpg.Pool) -> AppWithKeyFactory:
    """A factory: ``await make_app_with_key(name=...)`` creates an app and one key for it and
    returns ``(app_id, plaintext_key)``."""

    async def make(*, name: str | None = None) -> tuple[str, str]:
        app = await create_app(pg_pool, name=name or f"test app {secrets.token_hex(3)}")
        _, plaintext = await create_key(pg_pool, app_id=app.id, name="test key")
        return app.id, plaintext

    return make


@pytest_asyncio.fixture(loop_scope="session")
async def app_with_key(make_app_with_key: AppWithKeyFactory) -> tuple[str, str]:
    """A fresh app and a valid API key for it: ``(app_id, plaintext_key)``."""
    return await make_app_with_key()


class FreshDatabase:
    """A database of its own on the session's PostgreSQL: ``dsn`` and a migrated ``pool``."""

    def __init__(self, dsn: str, pool: asyncpg.Pool) -> None:
        self.dsn = dsn
        self.pool = pool


def _with_database(dsn: str, name: str) -> str:
    """The same server and credentials, another database (DSN of the URL form)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_db(pg_dsn: str, pg_pool: asyncpg.Pool) -> AsyncIterator[FreshDatabase]:
    """A new, migrated database for one test, dropped afterwards.

    Reaction engines and webhook dispatchers act on everything in their database; the
    session's Serve application runs its own on the shared one, so tests that count
    firings or deliveries give theirs a database nobody else watches.
    """
    name = f"t_{secrets.token_hex(6)}"
    await pg_pool.execute(f'CREATE DATABASE "{name}"')
    dsn = _with_database(pg_dsn, name)
    try:
        async with open_pool(dsn, min_size=1, max_size=10) as pool:
            await migrate(pool)
            yield FreshDatabase(dsn, pool)
    finally:
        await pg_pool.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
