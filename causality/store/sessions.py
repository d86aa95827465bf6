"""Server-side login sessions. Rows are keyed by the SHA-256 of the session id; the id itself
lives only in the user's cookie."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from causality.store.users import USER_SELECT, User, row_to_user


class ActiveSession(msgspec.Struct, frozen=True, kw_only=True):
    """An unexpired session of an enabled user, as authentication sees it."""

    id_hash: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    user: User


async def insert_session(
    pool: asyncpg.Pool,
    *,
    id_hash: str,
    user_id: str,
    csrf_token: str,
    ttl_s: float,
    user_agent: str | None,
    ip: str | None,
    replaces: str | None = None,
) -> datetime:
    """Store a new session and delete the one it ``replaces`` (by id hash) in the same
    transaction; return the expiry, computed by the database clock like every check."""
    async with pool.acquire() as conn, conn.transaction():
        if replaces is not None:
            await conn.execute("DELETE FROM sessions WHERE id_hash = $1", replaces)
        expires_at = await conn.fetchval(
            """
            INSERT INTO sessions (id_hash, user_id, csrf_token, expires_at, user_agent, ip)
            VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5, $6)
            RETURNING expires_at
            """,
            id_hash,
            uuid.UUID(user_id),
            csrf_token,
            float(ttl_s),
            user_agent,
            ip,
        )
    assert isinstance(expires_at, datetime)
    return expires_at


async def find_session(pool: asyncpg.Pool, *, id_hash: str) -> ActiveSession | None:
    """The session with this id hash if unexpired and its user enabled, else None."""
    row = await pool.fetchrow(
        f"""
        SELECT s.id_hash, s.csrf_token, s.created_at AS session_created_at, s.expires_at,
               s.last_seen_at, u.*
        FROM sessions s JOIN ({USER_SELECT}) u ON u.id = s.user_id
        WHERE s.id_hash = $1 AND s.expires_at > now() AND NOT u.disabled
        """,
        id_hash,
    )
    if row is None:
        return None
    return ActiveSession(
        id_hash=row["id_hash"],
        csrf_token=row["csrf_token"],
        created_at=row["session_created_at"],
        expires_at=row["expires_at"],
        last_seen_at=row["last_seen_at"],
        user=row_to_user(row),
    )


async def touch_session(pool: asyncpg.Pool, *, id_hash: str, min_interval_s: float) -> None:
    """Record activity, unless it was recorded less than ``min_interval_s`` ago (one write a
    minute per session, not one per request)."""
    await pool.execute(
        "UPDATE sessions SET last_seen_at = now() "
        "WHERE id_hash = $1 AND last_seen_at < now() - make_interval(secs => $2)",
        id_hash,
        float(min_interval_s),
    )


async def delete_session(pool: asyncpg.Pool, *, id_hash: str) -> bool:
    """End one session; False when it did not exist."""
    return await pool.execute("DELETE FROM sessions WHERE id_hash = $1", id_hash) == "DELETE 1"


async def delete_user_sessions(pool: asyncpg.Pool, *, user_id: str) -> int:
    """End every session of a user; how many there were."""
    status = await pool.execute("DELETE FROM sessions WHERE user_id = $1", uuid.UUID(user_id))
    return int(status.split()[-1])


async def purge_expired_sessions(pool: asyncpg.Pool) -> int:
    """Delete expired sessions (they already fail lookups; this only reclaims space)."""
    status = await pool.execute("DELETE FROM sessions WHERE expires_at <= now()")
    return int(status.split()[-1])
