"""API keys of apps. Only a key's SHA-256 is stored; the plaintext is returned once, at creation."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

import asyncpg
import msgspec

from causality.auth.keys import generate_key, hash_key, key_prefix
from causality.store.errors import AppNotFound

_COLUMNS = "id, app_id, name, prefix, created_at, revoked_at, last_used_at"


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """An API key as stored, without its secret (``prefix`` is for display)."""

    id: str
    app_id: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Whether the key still authenticates."""
        return self.revoked_at is None


def _row_to_key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        id=str(row["id"]),
        app_id=row["app_id"],
        name=row["name"],
        prefix=row["prefix"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


def _parse_uuid(key_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(key_id)
    except ValueError:
        return None


async def create_key(pool: asyncpg.Pool, *, app_id: str, name: str) -> tuple[ApiKey, str]:
    """Create a key for an app; return it with its plaintext, which is never retrievable again."""
    plaintext = generate_key()
    try:
        row = await pool.fetchrow(
            f"INSERT INTO api_keys (id, app_id, name, prefix, key_hash) "
            f"VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
            uuid.uuid4(),
            app_id,
            name,
            key_prefix(plaintext),
            hash_key(plaintext),
        )
    except asyncpg.ForeignKeyViolationError as exc:
        raise AppNotFound(f"app {app_id!r} does not exist") from exc
    assert row is not None
    return _row_to_key(row), plaintext


async def list_keys(pool: asyncpg.Pool, *, app_id: str | None = None) -> list[ApiKey]:
    """Keys (revoked ones included, for audit), oldest first; all apps when app_id is None."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM api_keys WHERE $1::text IS NULL OR app_id = $1 "
        "ORDER BY created_at, id",
        app_id,
    )
    return [_row_to_key(row) for row in rows]


async def revoke_key(pool: asyncpg.Pool, *, key_id: str) -> bool:
    """Revoke a key by its id; False when no active key has that id (unknown or already
    revoked). Authenticators notice within their cache TTL."""
    parsed = _parse_uuid(key_id)
    if parsed is None:
        return False
    status = await pool.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", parsed
    )
    return status == "UPDATE 1"


async def find_active_key(pool: asyncpg.Pool, *, key_hash: str) -> ApiKey | None:
    """The unrevoked key with this hash, or None; what authentication looks up."""
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", key_hash
    )
    return None if row is None else _row_to_key(row)


async def mark_used(pool: asyncpg.Pool, *, key_ids: Collection[str]) -> None:
    """Set ``last_used_at`` to now for several keys in one statement (batched by the
    authenticator, off the request path)."""
    ids = [parsed for key_id in key_ids if (parsed := _parse_uuid(key_id)) is not None]
    if ids:
        await pool.execute(
            "UPDATE api_keys SET last_used_at = now() WHERE id = ANY($1::uuid[])", ids
        )
