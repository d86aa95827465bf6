"""The asyncpg pool and the schema migrations.

Migrations are plain SQL files, ``migrations/NNN_name.sql``, applied in order, each in its own
transaction, and recorded in ``schema_migrations``. A transaction-scoped advisory lock makes
concurrent starts (several gateway replicas, a CLI) safe: one applies, the others wait and skip.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import msgspec

from causality.store.errors import MigrationError, StoreError, StoreUnavailable

_MIGRATION_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")

# pg_advisory_xact_lock key: the first 8 bytes of sha256(b"causality.store.migrate"), signed.
# Any constant works as long as nothing else in the database uses it.
MIGRATION_LOCK_KEY = 0x39D7_3356_B448_F100

_CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class Migration(msgspec.Struct, frozen=True, kw_only=True):
    """One migration file: ``version`` orders them, ``name`` is the file's stem."""

    version: int
    name: str
    sql: str


@asynccontextmanager
async def open_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    close_timeout_s: float = 10.0,
    application_name: str = "causality",
) -> AsyncIterator[asyncpg.Pool]:
    """Open an asyncpg pool; on exit close it gracefully, terminating after a timeout.

    A graceful close waits for acquired connections to be released, which a stuck query can
    prevent forever, hence the bound.
    """
    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            server_settings={"application_name": application_name},
        )
    except (
        OSError,
        TimeoutError,
        asyncpg.CannotConnectNowError,
        asyncpg.TooManyConnectionsError,
    ) as exc:
        raise StoreUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
    except asyncpg.PostgresError as exc:  # bad credentials, missing database: fix the config
        raise StoreError(f"PostgreSQL refused the connection: {exc}") from exc
    try:
        yield pool
    finally:
        try:
            await asyncio.wait_for(pool.close(), timeout=close_timeout_s)
        except TimeoutError:
            pool.terminate()


def load_migrations() -> list[Migration]:
    """The packaged migrations in version order (read with importlib.resources so they are
    found inside wheels and zipped installs too)."""
    folder = importlib.resources.files("causality.store").joinpath("migrations")
    migrations: dict[int, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file name must look like 001_name.sql: {entry.name}")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(
                f"two migrations share version {version}: {migrations[version].name}, {entry.name}"
            )
        migrations[version] = Migration(
            version=version, name=entry.name[: -len(".sql")], sql=entry.read_text("utf-8")
        )
    return [migrations[version] for version in sorted(migrations)]


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Apply the migrations not applied yet; return their names (empty when up to date)."""
    applied: list[str] = []
    async with pool.acquire() as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
            await conn.execute(_CREATE_SCHEMA_MIGRATIONS)
            done = {
                row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")
            }
        for migration in load_migrations():
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
                # Another process may have applied it while we waited for the lock.
                if await conn.fetchval(
                    "SELECT 1 FROM schema_migrations WHERE version = $1", migration.version
                ):
                    continue
                try:
                    await conn.execute(migration.sql)
                except asyncpg.PostgresError as exc:
                    raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            applied.append(migration.name)
    return applied
