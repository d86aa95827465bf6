"""Dashboards: a name, a shared date range and ordered tiles, each a saved insight definition.

The tiles are stored as JSON exactly as the gateway validated them; the store does not
interpret them, so a new insight kind needs no migration.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

_encode = msgspec.json.encode
_decode = msgspec.json.decode


class Dashboard(msgspec.Struct, frozen=True, kw_only=True):
    """A dashboard as the API returns it."""

    id: str
    owner_id: str | None
    name: str
    description: str
    date_range: Any
    tiles: list[Any]
    refresh_s: int
    created_at: datetime
    updated_at: datetime


_COLUMNS = (
    "id, owner_id, name, description, date_range::text AS date_range, tiles::text AS tiles, "
    "refresh_s, created_at, updated_at"
)


def _dashboard(row: asyncpg.Record) -> Dashboard:
    return Dashboard(
        id=str(row["id"]),
        owner_id=None if row["owner_id"] is None else str(row["owner_id"]),
        name=row["name"],
        description=row["description"],
        date_range=None if row["date_range"] is None else _decode(row["date_range"]),
        tiles=_decode(row["tiles"]),
        refresh_s=row["refresh_s"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def create(
    pool: asyncpg.Pool,
    *,
    owner_id: str,
    name: str,
    description: str,
    date_range: Any,
    tiles: list[Any],
    refresh_s: int,
) -> Dashboard:
    """Store a new dashboard."""
    row = await pool.fetchrow(
        f"INSERT INTO dashboards (id, owner_id, name, description, date_range, tiles, refresh_s) "
        f"VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7) RETURNING {_COLUMNS}",
        uuid.uuid4(),
        uuid.UUID(owner_id),
        name,
        description,
        None if date_range is None else _encode(date_range).decode(),
        _encode(tiles).decode(),
        refresh_s,
    )
    return _dashboard(row)


async def get(pool: asyncpg.Pool, dashboard_id: uuid.UUID) -> Dashboard | None:
    """One dashboard, or None."""
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM dashboards WHERE id = $1", dashboard_id)
    return None if row is None else _dashboard(row)


async def list_page(pool: asyncpg.Pool, *, limit: int, offset: int) -> tuple[list[Dashboard], int]:
    """Most recently changed first, with the total count for paging."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM dashboards ORDER BY updated_at DESC, id LIMIT $1 OFFSET $2",
        limit,
        offset,
    )
    total = await pool.fetchval("SELECT count(*) FROM dashboards")
    return [_dashboard(r) for r in rows], int(total)


async def replace(
    pool: asyncpg.Pool,
    dashboard_id: uuid.UUID,
    *,
    name: str,
    description: str,
    date_range: Any,
    tiles: list[Any],
    refresh_s: int,
) -> Dashboard | None:
    """Replace every editable field; None when the dashboard does not exist."""
    row = await pool.fetchrow(
        f"UPDATE dashboards SET name = $2, description = $3, date_range = $4::jsonb, "
        f"tiles = $5::jsonb, refresh_s = $6, updated_at = now() WHERE id = $1 "
        f"RETURNING {_COLUMNS}",
        dashboard_id,
        name,
        description,
        None if date_range is None else _encode(date_range).decode(),
        _encode(tiles).decode(),
        refresh_s,
    )
    return None if row is None else _dashboard(row)


async def delete(pool: asyncpg.Pool, dashboard_id: uuid.UUID) -> bool:
    """Delete; False when it did not exist."""
    return await pool.execute("DELETE FROM dashboards WHERE id = $1", dashboard_id) == "DELETE 1"
