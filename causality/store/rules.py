"""Reaction rules: a scope, a condition tree and the actions taken when both match.

The condition is stored as the JSON tree the service validated; the engine compiles it when
it loads the configuration (``causality.store.reaction_config``). A rule and its webhook links
are written in one transaction, so an engine reloading concurrently never sees a rule without
its webhooks. ``app_ids`` arguments restrict reads and writes to the rules of those apps (for
users limited to some apps); None means every rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from causality.store.errors import AppNotFound
from causality.store.scope import apps_param, fetch_page, visible
from causality.store.webhooks import links_column, set_links

_encode = msgspec.json.encode
_decode = msgspec.json.decode

_COLUMNS = (
    "r.id, r.name, r.description, r.app_id, r.event_category, r.event_type, "
    "r.condition::text AS condition, r.priority, r.enabled, r.publish_alert, r.created_by, "
    "r.created_at, r.updated_at, " + links_column("rule", "r")
)
_VISIBLE = visible("r")


class RuleFields(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a client sets on a rule (validated by ``causality.reactions.service``)."""

    name: str
    description: str = ""
    app_id: str | None = None
    event_category: str | None = None
    event_type: str | None = None
    condition: Any = None
    priority: int = 0
    enabled: bool = True
    publish_alert: bool = False
    webhook_ids: tuple[str, ...] = ()


class RuleInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A rule as the API shows it."""

    id: str
    name: str
    description: str
    app_id: str | None
    event_category: str | None
    event_type: str | None
    condition: Any
    priority: int
    enabled: bool
    publish_alert: bool
    webhook_ids: tuple[str, ...]
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    def fields(self) -> RuleFields:
        """The settable part, for a partial update to start from."""
        return RuleFields(**{f: getattr(self, f) for f in RuleFields.__struct_fields__})


def _info(row: asyncpg.Record) -> RuleInfo:
    return RuleInfo(
        id=str(row["id"]),
        name=row["name"],
        description=row["description"],
        app_id=row["app_id"],
        event_category=row["event_category"],
        event_type=row["event_type"],
        condition=None if row["condition"] is None else _decode(row["condition"]),
        priority=row["priority"],
        enabled=row["enabled"],
        publish_alert=row["publish_alert"],
        webhook_ids=tuple(row["webhook_ids"]),
        created_by=None if row["created_by"] is None else str(row["created_by"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _values(fields: RuleFields) -> tuple[Any, ...]:
    return (
        fields.name,
        fields.description,
        fields.app_id,
        fields.event_category,
        fields.event_type,
        None if fields.condition is None else _encode(fields.condition).decode(),
        fields.priority,
        fields.enabled,
        fields.publish_alert,
    )


async def _fetch(conn: asyncpg.Connection | asyncpg.Pool, rule_id: uuid.UUID) -> RuleInfo:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM reaction_rules r WHERE r.id = $1", rule_id)
    return _info(row)


def _unknown_app(app_id: str | None) -> AppNotFound:
    return AppNotFound(f"app {app_id!r} does not exist")


async def create(pool: asyncpg.Pool, fields: RuleFields, *, created_by: str | None) -> RuleInfo:
    """Store a new rule and its webhook links; ``AppNotFound`` or ``UnknownWebhooks`` when
    they name something that does not exist."""
    rule_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO reaction_rules (id, name, description, app_id, event_category, "
                "event_type, condition, priority, enabled, publish_alert, created_by) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11)",
                rule_id,
                *_values(fields),
                None if created_by is None else uuid.UUID(created_by),
            )
        except asyncpg.ForeignKeyViolationError as exc:
            if exc.constraint_name and "app_id" in exc.constraint_name:
                raise _unknown_app(fields.app_id) from None
            raise
        await set_links(conn, owner="rule", owner_id=rule_id, webhook_ids=fields.webhook_ids)
        return await _fetch(conn, rule_id)


async def get(
    pool: asyncpg.Pool, rule_id: uuid.UUID, *, app_ids: Collection[str] | None = None
) -> RuleInfo | None:
    """One rule, or None (also when it belongs to an app outside ``app_ids``)."""
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM reaction_rules r WHERE {_VISIBLE} AND r.id = $2",
        apps_param(app_ids),
        rule_id,
    )
    return None if row is None else _info(row)


async def list_page(
    pool: asyncpg.Pool,
    *,
    limit: int,
    offset: int,
    app_ids: Collection[str] | None = None,
) -> tuple[list[RuleInfo], int]:
    """Highest priority first, then most recently changed, with the total for paging."""
    return await fetch_page(
        pool,
        columns=_COLUMNS,
        source="reaction_rules r",
        alias="r",
        order_by="r.priority DESC, r.updated_at DESC, r.id",
        row=_info,
        limit=limit,
        offset=offset,
        app_ids=app_ids,
    )


async def replace(
    pool: asyncpg.Pool,
    rule_id: uuid.UUID,
    fields: RuleFields,
    *,
    app_ids: Collection[str] | None = None,
) -> RuleInfo | None:
    """Overwrite every field and the webhook links at once; None when there is no such rule
    (within ``app_ids``)."""
    async with pool.acquire() as conn, conn.transaction():
        try:
            status = await conn.execute(
                "UPDATE reaction_rules r SET name = $3, description = $4, app_id = $5, "
                "event_category = $6, event_type = $7, condition = $8::jsonb, priority = $9, "
                f"enabled = $10, publish_alert = $11, updated_at = now() "
                f"WHERE {_VISIBLE} AND r.id = $2",
                apps_param(app_ids),
                rule_id,
                *_values(fields),
            )
        except asyncpg.ForeignKeyViolationError as exc:
            if exc.constraint_name and "app_id" in exc.constraint_name:
                raise _unknown_app(fields.app_id) from None
            raise
        if status != "UPDATE 1":
            return None
        await set_links(conn, owner="rule", owner_id=rule_id, webhook_ids=fields.webhook_ids)
        return await _fetch(conn, rule_id)


async def delete(
    pool: asyncpg.Pool, rule_id: uuid.UUID, *, app_ids: Collection[str] | None = None
) -> bool:
    """Delete a rule (its links go with it, its alerts stay); False when there was none."""
    status = await pool.execute(
        f"DELETE FROM reaction_rules r WHERE {_VISIBLE} AND r.id = $2", apps_param(app_ids), rule_id
    )
    return bool(status == "DELETE 1")
