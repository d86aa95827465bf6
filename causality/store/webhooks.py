"""Webhooks: the HTTP targets rules and detectors deliver to, with their credentials.

The secret (password, bearer token or HMAC key) is stored in clear because the dispatcher
needs it to authenticate and sign; the API never returns it (``WebhookInfo.has_secret`` only).
A webhook still linked to a rule or detector cannot be deleted (``ON DELETE RESTRICT``):
``delete`` names the rules and detectors in the way instead of failing on a bare constraint.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from causality.reactions.model import AuthType, Webhook
from causality.store.errors import StoreError

_encode = msgspec.json.encode
_decode = msgspec.json.decode

_COLUMNS = (
    "id, name, url, auth_type, auth_username, auth_secret, headers::text AS headers, enabled, "
    "max_attempts, timeout_s, created_by, created_at, updated_at"
)


class WebhookInUse(StoreError):
    """The webhook is still linked to rules or detectors; ``users`` names them."""

    code = "webhook_in_use"
    exposed = True

    def __init__(self, message: str, users: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.users = tuple(users)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.users))


class UnknownWebhooks(StoreError):
    """A rule or detector names webhook ids that do not exist; ``ids`` lists them."""

    code = "unknown_webhook"
    exposed = True

    def __init__(self, ids: Sequence[str]) -> None:
        super().__init__("no webhook with id " + ", ".join(ids))
        self.ids = tuple(ids)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.ids,))


class WebhookInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook as the API shows it: whether it has a secret, never the secret."""

    id: str
    name: str
    url: str
    auth_type: AuthType
    auth_username: str | None
    has_secret: bool
    headers: dict[str, str]
    enabled: bool
    max_attempts: int
    timeout_s: float
    created_by: str | None
    created_at: datetime
    updated_at: datetime


def _info(row: asyncpg.Record) -> WebhookInfo:
    return WebhookInfo(
        id=str(row["id"]),
        name=row["name"],
        url=row["url"],
        auth_type=row["auth_type"],
        auth_username=row["auth_username"],
        has_secret=row["auth_secret"] is not None,
        headers=_decode(row["headers"]),
        enabled=row["enabled"],
        max_attempts=row["max_attempts"],
        timeout_s=row["timeout_s"],
        created_by=None if row["created_by"] is None else str(row["created_by"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def webhook_from_row(row: asyncpg.Record) -> Webhook:
    """The engine's and dispatcher's view of a row, secret included."""
    return Webhook(
        id=str(row["id"]),
        name=row["name"],
        url=row["url"],
        auth_type=row["auth_type"],
        auth_username=row["auth_username"],
        auth_secret=row["auth_secret"],
        headers=_decode(row["headers"]),
        enabled=row["enabled"],
        max_attempts=row["max_attempts"],
        timeout_s=row["timeout_s"],
    )


async def create(pool: asyncpg.Pool, webhook: Webhook, *, created_by: str | None) -> WebhookInfo:
    """Store a new webhook under ``webhook.id`` (validated by the caller)."""
    row = await pool.fetchrow(
        "INSERT INTO webhooks (id, name, url, auth_type, auth_username, auth_secret, headers, "
        "enabled, max_attempts, timeout_s, created_by) "
        f"VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11) RETURNING {_COLUMNS}",
        uuid.UUID(webhook.id),
        *_values(webhook),
        None if created_by is None else uuid.UUID(created_by),
    )
    return _info(row)


def _values(webhook: Webhook) -> tuple[Any, ...]:
    return (
        webhook.name,
        webhook.url,
        webhook.auth_type,
        webhook.auth_username,
        webhook.auth_secret,
        _encode(webhook.headers).decode(),
        webhook.enabled,
        webhook.max_attempts,
        webhook.timeout_s,
    )


async def get(pool: asyncpg.Pool, webhook_id: uuid.UUID) -> WebhookInfo | None:
    """One webhook without its secret, or None."""
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM webhooks WHERE id = $1", webhook_id)
    return None if row is None else _info(row)


async def get_full(pool: asyncpg.Pool, webhook_id: uuid.UUID) -> Webhook | None:
    """One webhook with its secret (for a test delivery or a partial update), or None."""
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM webhooks WHERE id = $1", webhook_id)
    return None if row is None else webhook_from_row(row)


async def list_page(
    pool: asyncpg.Pool, *, limit: int, offset: int
) -> tuple[list[WebhookInfo], int]:
    """Most recently changed first, with the total count for paging."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM webhooks ORDER BY updated_at DESC, id LIMIT $1 OFFSET $2",
        limit,
        offset,
    )
    total = await pool.fetchval("SELECT count(*) FROM webhooks")
    return [_info(r) for r in rows], int(total)


async def replace(pool: asyncpg.Pool, webhook: Webhook) -> WebhookInfo | None:
    """Overwrite every field, secret included; None when the webhook does not exist."""
    row = await pool.fetchrow(
        "UPDATE webhooks SET name = $2, url = $3, auth_type = $4, auth_username = $5, "
        "auth_secret = $6, headers = $7::jsonb, enabled = $8, max_attempts = $9, "
        f"timeout_s = $10, updated_at = now() WHERE id = $1 RETURNING {_COLUMNS}",
        uuid.UUID(webhook.id),
        *_values(webhook),
    )
    return None if row is None else _info(row)


async def delete(pool: asyncpg.Pool, webhook_id: uuid.UUID) -> bool:
    """Delete; False when it did not exist, ``WebhookInUse`` while rules or detectors use it.

    Its deliveries go with it (their history would point nowhere).
    """
    try:
        async with pool.acquire() as conn, conn.transaction():
            users = await _users_of(conn, webhook_id)
            if users:
                raise _in_use(users)
            status = await conn.execute("DELETE FROM webhooks WHERE id = $1", webhook_id)
    except asyncpg.ForeignKeyViolationError:  # linked between our check and the delete
        raise _in_use(await _users_of(pool, webhook_id)) from None
    return bool(status == "DELETE 1")


def _in_use(users: list[str]) -> WebhookInUse:
    return WebhookInUse(
        "the webhook is used by " + ", ".join(users) + "; remove it from them first", users
    )


async def _users_of(conn: asyncpg.Pool | asyncpg.Connection, webhook_id: uuid.UUID) -> list[str]:
    rows = await conn.fetch(
        "SELECT 'rule' AS kind, r.name, r.id FROM rule_webhooks l "
        "JOIN reaction_rules r ON r.id = l.rule_id WHERE l.webhook_id = $1 "
        "UNION ALL SELECT 'detector', d.name, d.id FROM detector_webhooks l "
        "JOIN anomaly_detectors d ON d.id = l.detector_id WHERE l.webhook_id = $1 "
        "ORDER BY 1, 2, 3",
        webhook_id,
    )
    return [f"{r['kind']} {r['name']!r} ({r['id']})" for r in rows]


# -- links from rules and detectors ----------------------------------------------------------

# (link table, owner column) of each owner kind; fixed names, never user input
LINK_TABLES: dict[str, tuple[str, str]] = {
    "rule": ("rule_webhooks", "rule_id"),
    "detector": ("detector_webhooks", "detector_id"),
}


async def set_links(
    conn: asyncpg.Connection, *, owner: str, owner_id: uuid.UUID, webhook_ids: Sequence[str]
) -> None:
    """Make ``webhook_ids`` exactly the webhooks of a rule or detector, inside the caller's
    transaction; ``UnknownWebhooks`` names ids that do not exist."""
    table, column = LINK_TABLES[owner]
    wanted = [uuid.UUID(w) for w in webhook_ids]
    # FOR KEY SHARE: a webhook we link cannot be deleted before we commit
    found = {
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM webhooks WHERE id = ANY($1::uuid[]) FOR KEY SHARE", wanted
        )
    }
    missing = [str(w) for w in wanted if w not in found]
    if missing:
        raise UnknownWebhooks(missing)
    await conn.execute(f"DELETE FROM {table} WHERE {column} = $1", owner_id)
    if wanted:
        await conn.execute(
            f"INSERT INTO {table} ({column}, webhook_id) SELECT $1, unnest($2::uuid[])",
            owner_id,
            wanted,
        )


def links_column(owner: str, alias: str) -> str:
    """A SELECT expression: the owner's webhook ids as sorted text, named ``webhook_ids``."""
    table, column = LINK_TABLES[owner]
    return (
        f"ARRAY(SELECT l.webhook_id::text FROM {table} l WHERE l.{column} = {alias}.id "
        "ORDER BY 1) AS webhook_ids"
    )
