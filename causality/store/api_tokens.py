"""Personal API tokens of users. Only a token's SHA-256 is stored; the plaintext is returned
once, at creation."""

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg
import msgspec

from causality.auth.roles import Role
from causality.auth.tokens import generate_token, hash_key, token_prefix
from causality.store.errors import UserNotFound
from causality.store.users import USER_SELECT, User, parse_user_id, row_to_user

_COLUMNS = "id, user_id, name, prefix, role, created_at, expires_at, revoked_at, last_used_at"
# how often last_used_at may be rewritten for one token (it is bookkeeping, not security)
TOUCH_INTERVAL_S = 60.0


class ApiToken(msgspec.Struct, frozen=True, kw_only=True):
    """A token as stored, without its secret; ``role`` is a ceiling under the owner's role."""

    id: str
    user_id: str
    name: str
    prefix: str
    role: Role
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


def _row_to_token(row: asyncpg.Record) -> ApiToken:
    return ApiToken(
        id=str(row["id"]),
        user_id=str(row["user_id"]),
        name=row["name"],
        prefix=row["prefix"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


async def create_token(
    pool: asyncpg.Pool,
    *,
    user_id: str,
    name: str,
    role: Role,
    expires_in_s: float | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; return it with its plaintext, which is never retrievable again.

    The caller checks that ``role`` does not exceed the owner's; lookups cap it again, so a
    later demotion of the owner also lowers the token.
    """
    parsed = parse_user_id(user_id)
    if parsed is None:
        raise UserNotFound(f"no user {user_id}")
    plaintext = generate_token()
    try:
        row = await pool.fetchrow(
            f"""
            INSERT INTO api_tokens (id, user_id, name, prefix, token_hash, role, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7))
            RETURNING {_COLUMNS}
            """,
            uuid.uuid4(),
            parsed,
            name,
            token_prefix(plaintext),
            hash_key(plaintext),
            role.value,
            expires_in_s,
        )
    except asyncpg.ForeignKeyViolationError as exc:
        raise UserNotFound(f"no user {user_id}") from exc
    assert row is not None
    return _row_to_token(row), plaintext


async def list_tokens(pool: asyncpg.Pool, *, user_id: str) -> list[ApiToken]:
    """A user's tokens (revoked and expired ones included, for audit), oldest first."""
    parsed = parse_user_id(user_id)
    if parsed is None:
        return []
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id", parsed
    )
    return [_row_to_token(row) for row in rows]


async def revoke_token(pool: asyncpg.Pool, *, user_id: str, token_id: str) -> bool:
    """Revoke one of the user's tokens; False when the user has no active token with that id."""
    owner, parsed = parse_user_id(user_id), parse_user_id(token_id)
    if owner is None or parsed is None:
        return False
    status = await pool.execute(
        "UPDATE api_tokens SET revoked_at = now() "
        "WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        parsed,
        owner,
    )
    return status == "UPDATE 1"


async def find_active_token(pool: asyncpg.Pool, *, token_hash: str) -> tuple[ApiToken, User] | None:
    """The unrevoked, unexpired token with this hash and its enabled owner, or None.

    ``last_used_at`` is refreshed in the same round trip, at most once a minute per token.
    """
    row = await pool.fetchrow(
        f"""
        WITH t AS (
            SELECT {_COLUMNS} FROM api_tokens
            WHERE token_hash = $1 AND revoked_at IS NULL
              AND (expires_at IS NULL OR expires_at > now())
        ), touched AS (
            UPDATE api_tokens SET last_used_at = now()
            WHERE id = (SELECT id FROM t)
              AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))
        )
        SELECT t.id AS token_id, t.user_id AS token_user_id, t.name AS token_name,
               t.prefix AS token_prefix, t.role AS token_role,
               t.created_at AS token_created_at, t.expires_at AS token_expires_at,
               t.revoked_at AS token_revoked_at, t.last_used_at AS token_last_used_at, u.*
        FROM t JOIN ({USER_SELECT}) u ON u.id = t.user_id
        WHERE NOT u.disabled
        """,
        token_hash,
        TOUCH_INTERVAL_S,
    )
    if row is None:
        return None
    token = ApiToken(
        id=str(row["token_id"]),
        user_id=str(row["token_user_id"]),
        name=row["token_name"],
        prefix=row["token_prefix"],
        role=Role(row["token_role"]),
        created_at=row["token_created_at"],
        expires_at=row["token_expires_at"],
        revoked_at=row["token_revoked_at"],
        last_used_at=row["token_last_used_at"],
    )
    return token, row_to_user(row)
