from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest
import pytest_asyncio

from causality.store.db import load_migrations, migrate, open_pool
from causality.store.errors import StoreUnavailable

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_dsn(pg_pool: asyncpg.Pool, pg_dsn: str) -> AsyncIterator[str]:
    """A DSN for a new, empty database on the session's server, dropped afterwards."""
    name = f"migrate_{secrets.token_hex(4)}"
    await pg_pool.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(pg_dsn)._replace(path=f"/{name}").geturl()
    finally:
        await pg_pool.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_migrations_are_ordered_and_start_with_apps() -> None:
    migrations = load_migrations()
    versions = [m.version for m in migrations]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert migrations[0].name == "001_apps_and_api_keys"
    assert "CREATE TABLE apps" in migrations[0].sql


async def test_migrate_twice_is_a_no_op(fresh_dsn: str) -> None:
    names = [m.name for m in load_migrations()]
    async with open_pool(fresh_dsn) as pool:
        assert await migrate(pool) == names
        assert await migrate(pool) == []
        rows = await pool.fetch("SELECT version, name, applied_at FROM schema_migrations")
        assert sorted(r["name"] for r in rows) == sorted(names)
        assert all(r["applied_at"] is not None for r in rows)
        assert await pool.fetchval("SELECT count(*) FROM apps") == 0


async def test_concurrent_migrate_from_two_pools_applies_each_once(fresh_dsn: str) -> None:
    names = [m.name for m in load_migrations()]
    async with open_pool(fresh_dsn) as first, open_pool(fresh_dsn) as second:
        results = await asyncio.gather(*(migrate(p) for p in (first, second, first, second)))
        assert sorted(name for applied in results for name in applied) == sorted(names)
        versions = await first.fetch("SELECT version FROM schema_migrations")
        assert len(versions) == len(names)


async def test_session_pool_is_migrated(pg_pool: asyncpg.Pool) -> None:
    assert await migrate(pg_pool) == []
    tables = {
        r["tablename"]
        for r in await pg_pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert {"apps", "api_keys", "schema_migrations"} <= tables


async def test_open_pool_closes_on_exit(pg_dsn: str) -> None:
    async with open_pool(pg_dsn, min_size=1, max_size=2) as pool:
        assert await pool.fetchval("SELECT 1") == 1
    assert pool.is_closing()


async def test_unreachable_server_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable) as excinfo:
        async with open_pool("postgresql://postgres@127.0.0.1:1/causality"):
            pass
    assert excinfo.value.transient
