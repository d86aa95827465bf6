"""Reading the outbox as history, and sending a dead-lettered delivery again.

The engines write deliveries and the dispatchers work them off (``causality.reactions``);
this module serves the admin API and the CLI. ``app_ids`` restricts the history to the
deliveries of alerts of those apps (users limited to some apps never see test deliveries or
other teams' alerts); None shows everything.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import Any, Literal

import asyncpg
import msgspec

DeliveryStatus = Literal["pending", "delivered", "dead_letter"]
DeliveryKind = Literal["alert", "test"]

_decode = msgspec.json.decode

_COLUMNS = (
    "d.id, d.alert_id, a.app_id, d.webhook_id, w.name AS webhook_name, d.subject, d.kind, "
    "d.status, d.priority, d.attempts, d.max_attempts, d.next_attempt_at, d.last_status, "
    "d.last_error, d.created_at, d.delivered_at, d.updated_at"
)
_FROM = (
    " FROM deliveries d LEFT JOIN alerts a ON a.id = d.alert_id "
    "LEFT JOIN webhooks w ON w.id = d.webhook_id"
)


class DeliveryInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery of an alert (or a test) to a webhook or a NATS subject."""

    id: str
    alert_id: str | None
    app_id: str | None
    webhook_id: str | None
    webhook_name: str | None
    subject: str | None
    kind: DeliveryKind
    status: DeliveryStatus
    priority: int
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    updated_at: datetime


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """One try: the receiver's status code or the error, and how long it took."""

    attempt: int
    status_code: int | None
    error: str | None
    duration_ms: float
    attempted_at: datetime


class DeliveryDetail(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery with the payload it sends and every attempt so far."""

    delivery: DeliveryInfo
    payload: Any
    attempts: list[Attempt]


class DeliveryFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which deliveries a history page shows; None fields do not filter."""

    status: DeliveryStatus | None = None
    webhook_id: uuid.UUID | None = None
    alert_id: uuid.UUID | None = None
    kind: DeliveryKind | None = None


class NotDeadLettered(Exception):
    """Only a dead-lettered delivery can be retried; ``status`` is where this one stands."""

    def __init__(self, status: str) -> None:
        super().__init__(f"the delivery is {status}, not dead_letter")
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status,))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _info(row: asyncpg.Record) -> DeliveryInfo:
    return DeliveryInfo(
        id=str(row["id"]),
        alert_id=_str(row["alert_id"]),
        app_id=row["app_id"],
        webhook_id=_str(row["webhook_id"]),
        webhook_name=row["webhook_name"],
        subject=row["subject"],
        kind=row["kind"],
        status=row["status"],
        priority=row["priority"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        next_attempt_at=row["next_attempt_at"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        updated_at=row["updated_at"],
    )


def _where(
    flt: DeliveryFilter, app_ids: Collection[str] | None, *, delivery_id: uuid.UUID | None = None
) -> tuple[str, list[Any]]:
    """A WHERE clause over ``d``/``a`` with its parameters ($1...), fixed text only."""
    args: list[Any] = []
    clauses: list[str] = []
    for column, value in (
        ("d.status", flt.status),
        ("d.webhook_id", flt.webhook_id),
        ("d.alert_id", flt.alert_id),
        ("d.kind", flt.kind),
        ("d.id", delivery_id),
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
    flt: DeliveryFilter | None = None,
    app_ids: Collection[str] | None = None,
) -> tuple[list[DeliveryInfo], int]:
    """Newest first, with the total count of matching deliveries for paging."""
    where, args = _where(flt or DeliveryFilter(), app_ids)
    n = len(args)
    rows = await pool.fetch(
        f"SELECT {_COLUMNS}{_FROM}{where} ORDER BY d.created_at DESC, d.id DESC "
        f"LIMIT ${n + 1} OFFSET ${n + 2}",
        *args,
        limit,
        offset,
    )
    total = await pool.fetchval(f"SELECT count(*){_FROM}{where}", *args)
    return [_info(r) for r in rows], int(total)


async def get(
    pool: asyncpg.Pool, delivery_id: uuid.UUID, *, app_ids: Collection[str] | None = None
) -> DeliveryDetail | None:
    """One delivery with its payload and attempts, or None (also outside ``app_ids``)."""
    where, args = _where(DeliveryFilter(), app_ids, delivery_id=delivery_id)
    row = await pool.fetchrow(f"SELECT {_COLUMNS}, d.payload::text AS payload{_FROM}{where}", *args)
    if row is None:
        return None
    attempts = await pool.fetch(
        "SELECT attempt, status_code, error, duration_ms, attempted_at FROM delivery_attempts "
        "WHERE delivery_id = $1 ORDER BY attempted_at, attempt",
        delivery_id,
    )
    return DeliveryDetail(
        delivery=_info(row),
        payload=_decode(row["payload"]),
        attempts=[Attempt(**dict(a)) for a in attempts],
    )


async def retry(
    pool: asyncpg.Pool, delivery_id: uuid.UUID, *, app_ids: Collection[str] | None = None
) -> DeliveryInfo | None:
    """Put a dead-lettered delivery back in the queue, due now, with a fresh budget of
    attempts (the webhook's current ``max_attempts``).

    The attempts already made stay in the history and keep their numbers (the dispatcher
    numbers the next one ``attempts + 1``), so the budget is added to the count rather than
    the count zeroed. None when there is no such delivery (within ``app_ids``);
    ``NotDeadLettered`` when it is still pending or was delivered.
    """
    where, args = _where(DeliveryFilter(), app_ids, delivery_id=delivery_id)
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"SELECT d.status, d.attempts, COALESCE(w.max_attempts, d.max_attempts) AS budget"
            f"{_FROM}{where} FOR UPDATE OF d",
            *args,
        )
        if row is None:
            return None
        if row["status"] != "dead_letter":
            raise NotDeadLettered(row["status"])
        await conn.execute(
            "UPDATE deliveries SET status = 'pending', max_attempts = $2, "
            "next_attempt_at = now(), updated_at = now() WHERE id = $1",
            delivery_id,
            row["attempts"] + row["budget"],
        )
        # wake the dispatchers now rather than at their next poll (the trigger fires on INSERT)
        await conn.execute("SELECT pg_notify('causality_deliveries', '')")
        found = await conn.fetchrow(f"SELECT {_COLUMNS}{_FROM} WHERE d.id = $1", delivery_id)
    return _info(found)
