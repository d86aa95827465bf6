"""Reading the history of alerts: every rule firing and every detected anomaly.

The engines write alerts (``causality.reactions.alerts``); this module only reads them for
the admin API and the CLI. ``app_ids`` restricts the history to alerts of those apps, for
users limited to some apps (an alert with no app is then hidden); None shows everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from causality.reactions.model import AlertSource

_decode = msgspec.json.decode

_COLUMNS = (
    "a.id, a.source, a.rule_id, a.detector_id, a.name, a.app_id, a.event_id, a.summary, "
    "a.details::text AS details, a.created_at"
)


class AlertInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded firing."""

    id: str
    source: AlertSource
    rule_id: str | None
    detector_id: str | None
    name: str
    app_id: str | None
    event_id: str | None
    summary: str
    details: dict[str, Any]
    created_at: datetime


class AlertFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which alerts a history page shows; None fields do not filter."""

    source: AlertSource | None = None
    rule_id: uuid.UUID | None = None
    detector_id: uuid.UUID | None = None
    app_id: str | None = None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _info(row: asyncpg.Record) -> AlertInfo:
    return AlertInfo(
        id=str(row["id"]),
        source=row["source"],
        rule_id=_str(row["rule_id"]),
        detector_id=_str(row["detector_id"]),
        name=row["name"],
        app_id=row["app_id"],
        event_id=row["event_id"],
        summary=row["summary"],
        details=_decode(row["details"]),
        created_at=row["created_at"],
    )


def _where(flt: AlertFilter, app_ids: Collection[str] | None) -> tuple[str, list[Any]]:
    """A WHERE clause over alias ``a`` with its parameters ($1...), fixed text only."""
    args: list[Any] = []
    clauses: list[str] = []
    for column, value in (
        ("a.source", flt.source),
        ("a.rule_id", flt.rule_id),
        ("a.detector_id", flt.detector_id),
        ("a.app_id", flt.app_id),
    ):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    if app_ids is not None:
        args.append(sorted(app_ids))
        clauses.append(f"a.app_id = ANY(${len(args)}::text[])")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


async def list_page(
    pool: asyncpg.Pool,
    *,
    limit: int,
    offset: int,
    flt: AlertFilter | None = None,
    app_ids: Collection[str] | None = None,
) -> tuple[list[AlertInfo], int]:
    """Newest first, with the total count of matching alerts for paging."""
    where, args = _where(flt or AlertFilter(), app_ids)
    n = len(args)
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM alerts a{where} ORDER BY a.created_at DESC, a.id DESC "
        f"LIMIT ${n + 1} OFFSET ${n + 2}",
        *args,
        limit,
        offset,
    )
    total = await pool.fetchval(f"SELECT count(*) FROM alerts a{where}", *args)
    return [_info(r) for r in rows], int(total)


async def get(
    pool: asyncpg.Pool, alert_id: uuid.UUID, *, app_ids: Collection[str] | None = None
) -> AlertInfo | None:
    """One alert, or None (also when its app is outside ``app_ids``)."""
    where, args = _where(AlertFilter(), app_ids)
    args.append(alert_id)
    joiner = " AND " if where else " WHERE "
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM alerts a{where}{joiner}a.id = ${len(args)}", *args
    )
    return None if row is None else _info(row)
