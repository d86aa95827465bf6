"""Anomaly detectors: a scope and condition like a rule's, plus a kind and its parameters.

``params`` is stored as normalized by ``causality.reactions.detectors.validate_params``. A
detector and its webhook links are written in one transaction. ``app_ids`` arguments restrict
reads and writes to the detectors of those apps (users limited to some apps); None means all.
When a change alters what a detector counts (kind, scope or condition), its counts and learned
state are dropped in the same transaction: they describe another series.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from causality.reactions.model import DetectorKind
from causality.store.errors import AppNotFound
from causality.store.scope import apps_param, fetch_page, visible
from causality.store.webhooks import links_column, set_links

_encode = msgspec.json.encode
_decode = msgspec.json.decode

_COLUMNS = (
    "d.id, d.name, d.description, d.kind, d.app_id, d.event_category, d.event_type, "
    "d.condition::text AS condition, d.params::text AS params, d.cooldown_s, d.enabled, "
    "d.publish_alert, d.created_by, d.created_at, d.updated_at, " + links_column("detector", "d")
)
_VISIBLE = visible("d")
# what a detector counts; a change to any of these invalidates its counts and learned state
_SERIES = ("kind", "app_id", "event_category", "event_type", "condition")


class DetectorFields(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a client sets on a detector (validated by ``causality.reactions.service``)."""

    name: str
    description: str = ""
    kind: DetectorKind
    app_id: str | None = None
    event_category: str | None = None
    event_type: str | None = None
    condition: Any = None
    params: dict[str, Any] = {}
    cooldown_s: int = 300
    enabled: bool = True
    publish_alert: bool = False
    webhook_ids: tuple[str, ...] = ()


class DetectorInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A detector as the API shows it."""

    id: str
    name: str
    description: str
    kind: DetectorKind
    app_id: str | None
    event_category: str | None
    event_type: str | None
    condition: Any
    params: dict[str, Any]
    cooldown_s: int
    enabled: bool
    publish_alert: bool
    webhook_ids: tuple[str, ...]
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    def fields(self) -> DetectorFields:
        """The settable part, for a partial update to start from."""
        return DetectorFields(**{f: getattr(self, f) for f in DetectorFields.__struct_fields__})


def _info(row: asyncpg.Record) -> DetectorInfo:
    return DetectorInfo(
        id=str(row["id"]),
        name=row["name"],
        description=row["description"],
        kind=row["kind"],
        app_id=row["app_id"],
        event_category=row["event_category"],
        event_type=row["event_type"],
        condition=None if row["condition"] is None else _decode(row["condition"]),
        params=_decode(row["params"]),
        cooldown_s=row["cooldown_s"],
        enabled=row["enabled"],
        publish_alert=row["publish_alert"],
        webhook_ids=tuple(row["webhook_ids"]),
        created_by=None if row["created_by"] is None else str(row["created_by"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _values(fields: DetectorFields) -> tuple[Any, ...]:
    return (
        fields.name,
        fields.description,
        fields.kind,
        fields.app_id,
        fields.event_category,
        fields.event_type,
        None if fields.condition is None else _encode(fields.condition).decode(),
        _encode(fields.params).decode(),
        fields.cooldown_s,
        fields.enabled,
        fields.publish_alert,
    )


async def _fetch(conn: asyncpg.Connection, detector_id: uuid.UUID) -> DetectorInfo:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM anomaly_detectors d WHERE d.id = $1", detector_id
    )
    return _info(row)


def _app_error(exc: asyncpg.ForeignKeyViolationError, app_id: str | None) -> Exception:
    if exc.constraint_name and "app_id" in exc.constraint_name:
        return AppNotFound(f"app {app_id!r} does not exist")
    return exc


async def create(
    pool: asyncpg.Pool, fields: DetectorFields, *, created_by: str | None
) -> DetectorInfo:
    """Store a new detector and its webhook links; ``AppNotFound`` or ``UnknownWebhooks``
    when they name something that does not exist."""
    detector_id = uuid.uuid4()
    async with pool.acquire() as conn, conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO anomaly_detectors (id, name, description, kind, app_id, "
                "event_category, event_type, condition, params, cooldown_s, enabled, "
                "publish_alert, created_by) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10, $11, $12, $13)",
                detector_id,
                *_values(fields),
                None if created_by is None else uuid.UUID(created_by),
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise _app_error(exc, fields.app_id) from None
        await set_links(
            conn, owner="detector", owner_id=detector_id, webhook_ids=fields.webhook_ids
        )
        return await _fetch(conn, detector_id)


async def get(
    pool: asyncpg.Pool, detector_id: uuid.UUID, *, app_ids: Collection[str] | None = None
) -> DetectorInfo | None:
    """One detector, or None (also when it belongs to an app outside ``app_ids``)."""
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM anomaly_detectors d WHERE {_VISIBLE} AND d.id = $2",
        apps_param(app_ids),
        detector_id,
    )
    return None if row is None else _info(row)


async def list_page(
    pool: asyncpg.Pool,
    *,
    limit: int,
    offset: int,
    app_ids: Collection[str] | None = None,
) -> tuple[list[DetectorInfo], int]:
    """Most recently changed first, with the total count for paging."""
    return await fetch_page(
        pool,
        columns=_COLUMNS,
        source="anomaly_detectors d",
        alias="d",
        order_by="d.updated_at DESC, d.id",
        row=_info,
        limit=limit,
        offset=offset,
        app_ids=app_ids,
    )


async def replace(
    pool: asyncpg.Pool,
    detector_id: uuid.UUID,
    fields: DetectorFields,
    *,
    app_ids: Collection[str] | None = None,
) -> DetectorInfo | None:
    """Overwrite every field and the webhook links at once; None when there is no such
    detector (within ``app_ids``)."""
    async with pool.acquire() as conn, conn.transaction():
        old = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM anomaly_detectors d WHERE {_VISIBLE} AND d.id = $2 "
            "FOR UPDATE OF d",
            apps_param(app_ids),
            detector_id,
        )
        if old is None:
            return None
        try:
            await conn.execute(
                "UPDATE anomaly_detectors SET name = $2, description = $3, kind = $4, "
                "app_id = $5, event_category = $6, event_type = $7, condition = $8::jsonb, "
                "params = $9::jsonb, cooldown_s = $10, enabled = $11, publish_alert = $12, "
                "updated_at = now() WHERE id = $1",
                detector_id,
                *_values(fields),
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise _app_error(exc, fields.app_id) from None
        before = _info(old)
        if any(getattr(before, f) != getattr(fields, f) for f in _SERIES):
            await conn.execute("DELETE FROM anomaly_counts WHERE detector_id = $1", detector_id)
            await conn.execute("DELETE FROM anomaly_state WHERE detector_id = $1", detector_id)
        await set_links(
            conn, owner="detector", owner_id=detector_id, webhook_ids=fields.webhook_ids
        )
        return await _fetch(conn, detector_id)


async def delete(
    pool: asyncpg.Pool, detector_id: uuid.UUID, *, app_ids: Collection[str] | None = None
) -> bool:
    """Delete a detector (links, counts and state go with it; its alerts stay); False when
    there was none."""
    status = await pool.execute(
        f"DELETE FROM anomaly_detectors d WHERE {_VISIBLE} AND d.id = $2",
        apps_param(app_ids),
        detector_id,
    )
    return bool(status == "DELETE 1")
