"""Saved SQL queries (shared by the team) and each user's query history."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

HISTORY_KEEP = 500  # per user; older entries are trimmed as new ones arrive


class SavedQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A named query; ``owner_id`` is None once its author's account is deleted."""

    id: str
    owner_id: str | None
    name: str
    description: str
    sql: str
    created_at: datetime
    updated_at: datetime


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One run of a query by a user, successful or not."""

    id: int
    sql: str
    status: str
    row_count: int
    elapsed_ms: float
    error: str | None
    created_at: datetime


_COLUMNS = "id, owner_id, name, description, sql, created_at, updated_at"


def _saved(row: asyncpg.Record) -> SavedQuery:
    return SavedQuery(
        id=str(row["id"]),
        owner_id=None if row["owner_id"] is None else str(row["owner_id"]),
        name=row["name"],
        description=row["description"],
        sql=row["sql"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def create(
    pool: asyncpg.Pool, *, owner_id: str, name: str, description: str, sql: str
) -> SavedQuery:
    """Save a query under a new id."""
    row = await pool.fetchrow(
        f"INSERT INTO saved_queries (id, owner_id, name, description, sql) "
        f"VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
        uuid.uuid4(),
        uuid.UUID(owner_id),
        name,
        description,
        sql,
    )
    return _saved(row)


async def get(pool: asyncpg.Pool, query_id: uuid.UUID) -> SavedQuery | None:
    """One saved query, or None."""
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM saved_queries WHERE id = $1", query_id)
    return None if row is None else _saved(row)


async def list_page(pool: asyncpg.Pool, *, limit: int, offset: int) -> tuple[list[SavedQuery], int]:
    """Most recently changed first, with the total count for paging."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS}, count(*) OVER () AS total FROM saved_queries "
        "ORDER BY updated_at DESC, id LIMIT $1 OFFSET $2",
        limit,
        offset,
    )
    total = rows[0]["total"] if rows else await pool.fetchval("SELECT count(*) FROM saved_queries")
    return [_saved(r) for r in rows], int(total)


async def update(
    pool: asyncpg.Pool, query_id: uuid.UUID, *, name: str, description: str, sql: str
) -> SavedQuery | None:
    """Replace name, description and SQL; None when the query does not exist."""
    row = await pool.fetchrow(
        f"UPDATE saved_queries SET name = $2, description = $3, sql = $4, updated_at = now() "
        f"WHERE id = $1 RETURNING {_COLUMNS}",
        query_id,
        name,
        description,
        sql,
    )
    return None if row is None else _saved(row)


async def delete(pool: asyncpg.Pool, query_id: uuid.UUID) -> bool:
    """Delete; False when it did not exist."""
    return await pool.execute("DELETE FROM saved_queries WHERE id = $1", query_id) == "DELETE 1"


async def record_run(
    pool: asyncpg.Pool,
    *,
    user_id: str,
    sql: str,
    status: str,
    row_count: int,
    elapsed_ms: float,
    error: str | None,
) -> None:
    """Append to the user's history and trim it to the newest HISTORY_KEEP entries."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO query_history (user_id, sql, status, row_count, elapsed_ms, error) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            uuid.UUID(user_id),
            sql,
            status,
            row_count,
            elapsed_ms,
            error,
        )
        await conn.execute(
            "DELETE FROM query_history WHERE user_id = $1 AND id <= ("
            "  SELECT id FROM query_history WHERE user_id = $1 ORDER BY id DESC"
            "  OFFSET $2 LIMIT 1)",
            uuid.UUID(user_id),
            HISTORY_KEEP,
        )


async def history(
    pool: asyncpg.Pool, *, user_id: str, limit: int, before_id: int | None = None
) -> list[HistoryEntry]:
    """The user's runs, newest first; page with ``before_id`` (keyset, stable under inserts)."""
    rows = await pool.fetch(
        "SELECT id, sql, status, row_count, elapsed_ms, error, created_at FROM query_history "
        "WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
        uuid.UUID(user_id),
        before_id,
        limit,
    )
    return [HistoryEntry(**dict(r)) for r in rows]
