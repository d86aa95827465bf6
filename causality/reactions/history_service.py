"""Alert and delivery history for the admin API and the CLI, and retrying a dead letter.

Users limited to some apps see the alerts of those apps and the deliveries of those alerts
(test deliveries and other teams' alerts stay hidden); the ``Caller`` carries that limit.
"""

from __future__ import annotations

import asyncpg

from causality.reactions.service import Caller, Conflict, NotFound, parse_id
from causality.store import alerts, deliveries
from causality.store.alerts import AlertFilter, AlertInfo
from causality.store.deliveries import DeliveryDetail, DeliveryFilter, DeliveryInfo, NotDeadLettered


async def list_alerts(
    pool: asyncpg.Pool, caller: Caller, *, limit: int, offset: int, flt: AlertFilter
) -> tuple[list[AlertInfo], int]:
    """A page of alerts, newest first."""
    return await alerts.list_page(pool, limit=limit, offset=offset, flt=flt, app_ids=caller.app_ids)


async def get_alert(pool: asyncpg.Pool, caller: Caller, alert_id: str) -> AlertInfo:
    """One alert the caller may see, or 404."""
    found = await alerts.get(pool, parse_id(alert_id, "alert"), app_ids=caller.app_ids)
    if found is None:
        raise NotFound("no such alert")
    return found


async def list_deliveries(
    pool: asyncpg.Pool, caller: Caller, *, limit: int, offset: int, flt: DeliveryFilter
) -> tuple[list[DeliveryInfo], int]:
    """A page of deliveries, newest first."""
    return await deliveries.list_page(
        pool, limit=limit, offset=offset, flt=flt, app_ids=caller.app_ids
    )


async def get_delivery(pool: asyncpg.Pool, caller: Caller, delivery_id: str) -> DeliveryDetail:
    """One delivery with its payload and attempts, or 404."""
    key = parse_id(delivery_id, "delivery")
    found = await deliveries.get(pool, key, app_ids=caller.app_ids)
    if found is None:
        raise NotFound("no such delivery")
    return found


async def retry_delivery(pool: asyncpg.Pool, caller: Caller, delivery_id: str) -> DeliveryInfo:
    """Queue a dead-lettered delivery again (409 when it is not dead-lettered)."""
    key = parse_id(delivery_id, "delivery")
    try:
        found = await deliveries.retry(pool, key, app_ids=caller.app_ids)
    except NotDeadLettered as exc:
        raise Conflict(str(exc), field="status", code="not_dead_letter") from None
    if found is None:
        raise NotFound("no such delivery")
    return found
