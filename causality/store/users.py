"""Users of the web UI and analytics API, with their role and the apps they may see.

Only argon2 hashes are stored (``causality.auth.passwords`` makes them). Every change that
could remove the last enabled admin runs under one advisory lock, so two admins demoting each
other at the same moment cannot both succeed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from datetime import datetime

import asyncpg
import msgspec

from causality.auth.roles import Role
from causality.store.errors import (
    AppNotFound,
    InvalidEmail,
    LastAdmin,
    UserExists,
    UserNotFound,
)

# pg_advisory_xact_lock key serialising admin-count checks (any constant unused elsewhere).
ADMIN_LOCK_KEY = 0x39D7_3356_B448_F101
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")
USER_SELECT = """
SELECT u.id, u.email, u.role, u.disabled, u.created_at, u.updated_at, u.password_hash,
       ARRAY(SELECT ua.app_id FROM user_apps ua WHERE ua.user_id = u.id ORDER BY ua.app_id)
           AS app_ids
FROM users u
"""


class User(msgspec.Struct, frozen=True, kw_only=True):
    """A user as the API shows it: never the password hash. ``app_ids`` None means all apps."""

    id: str
    email: str
    role: Role
    disabled: bool
    app_ids: tuple[str, ...] | None
    created_at: datetime
    updated_at: datetime


def normalize_email(email: str) -> str:
    """The stored form of an address: trimmed and lowercased; raises ``InvalidEmail``.

    Deliberately loose (``local@domain``): the only thing an address does here is identify a
    login, and ``admin@localhost`` must pass.
    """
    normalized = email.strip().lower()
    if len(normalized) > 254 or not _EMAIL.fullmatch(normalized):
        raise InvalidEmail(f"not an email address: {email[:80]!r}")
    return normalized


def parse_user_id(user_id: str) -> uuid.UUID | None:
    """The id as a UUID, or None when it cannot be one (an unknown user, not a bad request)."""
    try:
        return uuid.UUID(user_id)
    except (ValueError, AttributeError):
        return None


def row_to_user(row: asyncpg.Record) -> User:
    app_ids = tuple(row["app_ids"] or ())
    return User(
        id=str(row["id"]),
        email=row["email"],
        role=Role(row["role"]),
        disabled=row["disabled"],
        app_ids=app_ids or None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _fetch_user(conn: asyncpg.Connection | asyncpg.Pool, user_id: uuid.UUID) -> User | None:
    row = await conn.fetchrow(USER_SELECT + "WHERE u.id = $1", user_id)
    return None if row is None else row_to_user(row)


async def _set_apps(
    conn: asyncpg.Connection, user_id: uuid.UUID, app_ids: Collection[str] | None
) -> None:
    await conn.execute("DELETE FROM user_apps WHERE user_id = $1", user_id)
    for app_id in sorted(set(app_ids or ())):
        try:
            await conn.execute(
                "INSERT INTO user_apps (user_id, app_id) VALUES ($1, $2)", user_id, app_id
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise AppNotFound(f"app {app_id!r} does not exist") from exc


async def create_user(
    pool: asyncpg.Pool,
    *,
    email: str,
    password_hash: str,
    role: Role,
    app_ids: Collection[str] | None = None,
) -> User:
    """Create a user; raises ``InvalidEmail``, ``UserExists`` or ``AppNotFound``."""
    normalized = normalize_email(email)
    user_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO users (id, email, password_hash, role) VALUES ($1, $2, $3, $4)",
                user_id,
                normalized,
                password_hash,
                role.value,
            )
        except asyncpg.UniqueViolationError as exc:
            raise UserExists(f"a user with email {normalized!r} already exists") from exc
        except asyncpg.CheckViolationError as exc:  # PostgreSQL lowercases some letters apart
            raise InvalidEmail(f"not a usable email address: {email[:80]!r}") from exc
        await _set_apps(conn, user_id, app_ids)
        user = await _fetch_user(conn, user_id)
    assert user is not None
    return user


async def get_user(pool: asyncpg.Pool, user_id: str) -> User | None:
    """One user, or None for an unknown (or malformed) id."""
    parsed = parse_user_id(user_id)
    return None if parsed is None else await _fetch_user(pool, parsed)


async def find_login(pool: asyncpg.Pool, *, email: str) -> tuple[User, str] | None:
    """The user with this (already normalized) email and their password hash, for login."""
    row = await pool.fetchrow(USER_SELECT + "WHERE u.email = $1", email)
    return None if row is None else (row_to_user(row), row["password_hash"])


async def list_users(pool: asyncpg.Pool) -> list[User]:
    """All users, oldest first."""
    rows = await pool.fetch(USER_SELECT + "ORDER BY u.created_at, u.id")
    return [row_to_user(row) for row in rows]


async def count_users(pool: asyncpg.Pool) -> int:
    """How many users exist (zero means the first-run admin is still to be created)."""
    return int(await pool.fetchval("SELECT count(*) FROM users"))


async def set_password_hash(pool: asyncpg.Pool, *, user_id: str, password_hash: str) -> None:
    """Replace a hash without touching sessions (a transparent rehash at login)."""
    parsed = parse_user_id(user_id)
    if parsed is not None:
        await pool.execute(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
            parsed,
            password_hash,
        )


async def _guard_last_admin(conn: asyncpg.Connection, user_id: uuid.UUID) -> asyncpg.Record:
    """Lock the admin set and the user's row; raise ``UserNotFound`` for an unknown id."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", ADMIN_LOCK_KEY)
    row = await conn.fetchrow("SELECT role, disabled FROM users WHERE id = $1 FOR UPDATE", user_id)
    if row is None:
        raise UserNotFound(f"no user {user_id}")
    return row


async def _other_admins(conn: asyncpg.Connection, user_id: uuid.UUID) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled AND id <> $1",
            user_id,
        )
    )


async def update_user(
    pool: asyncpg.Pool,
    *,
    user_id: str,
    role: Role | None = None,
    disabled: bool | None = None,
    app_ids: Collection[str] | msgspec.UnsetType | None = msgspec.UNSET,
    password_hash: str | None = None,
) -> User:
    """Change a user's role, enabled state, apps (None = all) or password hash.

    Raises ``UserNotFound``, ``AppNotFound``, or ``LastAdmin`` when the change would leave no
    enabled admin. Disabling a user or changing the password ends their sessions.
    """
    parsed = parse_user_id(user_id)
    if parsed is None:
        raise UserNotFound(f"no user {user_id}")
    async with pool.acquire() as conn, conn.transaction():
        current = await _guard_last_admin(conn, parsed)
        was_admin = current["role"] == Role.ADMIN.value and not current["disabled"]
        stays_admin = (role or Role(current["role"])) == Role.ADMIN and not (
            current["disabled"] if disabled is None else disabled
        )
        if was_admin and not stays_admin and await _other_admins(conn, parsed) == 0:
            raise LastAdmin("this is the last enabled admin; promote another user first")
        await conn.execute(
            """
            UPDATE users SET role = coalesce($2, role), disabled = coalesce($3, disabled),
                   password_hash = coalesce($4, password_hash), updated_at = now()
            WHERE id = $1
            """,
            parsed,
            None if role is None else role.value,
            disabled,
            password_hash,
        )
        if app_ids is not msgspec.UNSET:
            await _set_apps(conn, parsed, app_ids)
        if disabled or password_hash is not None:
            await conn.execute("DELETE FROM sessions WHERE user_id = $1", parsed)
        user = await _fetch_user(conn, parsed)
    assert user is not None
    return user


async def delete_user(pool: asyncpg.Pool, *, user_id: str) -> None:
    """Delete a user with their sessions and tokens; raises ``UserNotFound`` or
    ``LastAdmin``."""
    parsed = parse_user_id(user_id)
    if parsed is None:
        raise UserNotFound(f"no user {user_id}")
    async with pool.acquire() as conn, conn.transaction():
        current = await _guard_last_admin(conn, parsed)
        is_admin = current["role"] == Role.ADMIN.value and not current["disabled"]
        if is_admin and await _other_admins(conn, parsed) == 0:
            raise LastAdmin("this is the last enabled admin; promote another user first")
        await conn.execute("DELETE FROM users WHERE id = $1", parsed)
