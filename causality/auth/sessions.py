"""Login sessions: random ids in an HttpOnly cookie, state in PostgreSQL.

Fixation-proof by construction: every login mints a new random id and deletes the session the
browser presented, so an id planted before login (or stolen before a re-login) is worthless.
Expiry is absolute (``session_ttl_s`` after login, matching the cookie's Max-Age) and checked
by the database on every lookup; ``last_seen_at`` is written at most once a minute.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from causality.auth.tokens import MAX_SECRET_LENGTH, generate_secret, hash_key
from causality.store import sessions as repo
from causality.store.sessions import ActiveSession

SESSION_COOKIE = "causality_session"
TOUCH_INTERVAL_S = 60.0

__all__ = [
    "SESSION_COOKIE",
    "ActiveSession",
    "NewSession",
    "end_session",
    "purge_expired",
    "resolve_session",
    "start_session",
]


class NewSession(msgspec.Struct, frozen=True, kw_only=True):
    """What a login hands back: the cookie value (never stored) and the CSRF token."""

    session_id: str
    csrf_token: str
    expires_at: datetime


def _plausible(session_id: str | None) -> bool:
    return bool(session_id) and len(session_id or "") <= MAX_SECRET_LENGTH


async def start_session(
    pool: asyncpg.Pool,
    *,
    user_id: str,
    ttl_s: float,
    previous_id: str | None = None,
    user_agent: str | None = None,
    ip: str | None = None,
) -> NewSession:
    """Create a session with a fresh id, deleting the ``previous_id`` session if it exists."""
    session_id = generate_secret()
    csrf_token = generate_secret()
    expires_at = await repo.insert_session(
        pool,
        id_hash=hash_key(session_id),
        user_id=user_id,
        csrf_token=csrf_token,
        ttl_s=ttl_s,
        user_agent=(user_agent or "")[:512] or None,
        ip=ip,
        replaces=hash_key(previous_id) if previous_id and _plausible(previous_id) else None,
    )
    return NewSession(session_id=session_id, csrf_token=csrf_token, expires_at=expires_at)


async def resolve_session(pool: asyncpg.Pool, session_id: str | None) -> ActiveSession | None:
    """The live session behind a cookie value, or None (unknown, expired, disabled user)."""
    if not _plausible(session_id):
        return None
    assert session_id is not None
    id_hash = hash_key(session_id)
    session = await repo.find_session(pool, id_hash=id_hash)
    if session is None:
        return None
    # a cheap Python-side check spares the write on nearly every request
    age = (datetime.now(session.last_seen_at.tzinfo) - session.last_seen_at).total_seconds()
    if age >= TOUCH_INTERVAL_S:
        await repo.touch_session(pool, id_hash=id_hash, min_interval_s=TOUCH_INTERVAL_S)
    return session


async def end_session(pool: asyncpg.Pool, session_id: str | None) -> bool:
    """Delete the session behind a cookie value (logout); False when there was none."""
    if not _plausible(session_id):
        return False
    assert session_id is not None
    return await repo.delete_session(pool, id_hash=hash_key(session_id))


async def purge_expired(pool: asyncpg.Pool) -> int:
    """Reclaim expired sessions' rows; lookups already ignore them."""
    return await repo.purge_expired_sessions(pool)
