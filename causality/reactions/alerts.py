"""Recording firings: the alert rows and their outbox deliveries, in the caller's transaction.

An alert and the deliveries it owes are written together or not at all, so a webhook is never
promised without a record, nor a record left without its webhooks. A rule alert is unique per
(rule, event): a message redelivered after a crash cannot fire the same rule twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec

from causality.bus.subjects import sanitize_token
from causality.reactions.model import AlertDraft, Webhook

ALERT_SUBJECT_PREFIX = "alerts"
_encode = msgspec.json.encode

_INSERT_ALERTS = """
INSERT INTO alerts (id, source, rule_id, detector_id, name, app_id, event_id, summary, details,
                    created_at)
SELECT a.id, a.source, a.rule_id, a.detector_id, a.name, a.app_id, a.event_id, a.summary,
       a.details::jsonb, a.created_at
FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::timestamptz[])
     AS a(id, source, rule_id, detector_id, name, app_id, event_id, summary, details, created_at)
ON CONFLICT DO NOTHING
RETURNING id
"""

_INSERT_DELIVERIES = """
INSERT INTO deliveries (id, alert_id, webhook_id, subject, kind, payload, priority, max_attempts)
SELECT d.id, d.alert_id, d.webhook_id, d.subject, 'alert', d.payload::jsonb, d.priority,
       d.max_attempts
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::int[])
     AS d(id, alert_id, webhook_id, subject, payload, priority, max_attempts)
"""


def alert_subject(app_id: str | None, owner_id: str) -> str:
    """``alerts.<app_id>.<rule or detector id>``; ``_`` stands for "any app"."""
    return f"{ALERT_SUBJECT_PREFIX}.{sanitize_token(app_id or '')}.{sanitize_token(owner_id)}"


def alert_payload(
    draft: AlertDraft, *, alert_id: str, delivery_id: str, created_at: datetime
) -> dict[str, Any]:
    """The JSON body a webhook receives (and a NATS subscriber reads).

    ``text`` is a one-line summary, which is all a Slack or Mattermost incoming webhook needs.
    """
    kind = "rule.fired" if draft.source == "rule" else "anomaly.detected"
    return {
        "type": kind,
        "delivery_id": delivery_id,
        "text": draft.summary,
        "alert": {
            "id": alert_id,
            "source": draft.source,
            "name": draft.name,
            "rule_id": draft.rule_id,
            "detector_id": draft.detector_id,
            "app_id": draft.app_id,
            "event_id": draft.event_id,
            "summary": draft.summary,
            "details": draft.details,
            "created_at": created_at.isoformat().replace("+00:00", "Z"),
        },
    }


class Recorded(msgspec.Struct, frozen=True):
    """What ``record_alerts`` wrote: alerts new in this call and the deliveries they owe."""

    alerts: int
    duplicates: int
    deliveries: int


async def record_alerts(
    conn: asyncpg.Connection,
    drafts: Sequence[AlertDraft],
    webhooks: Mapping[str, Webhook],
    *,
    now: datetime | None = None,
    nats_max_attempts: int = 8,
) -> Recorded:
    """Insert alerts and, for those not already recorded, one delivery per enabled webhook and
    one for NATS when the alert is published. Call inside a transaction."""
    if not drafts:
        return Recorded(0, 0, 0)
    created_at = now or datetime.now(UTC)
    ids = [uuid.uuid4() for _ in drafts]
    inserted = {
        row["id"]
        for row in await conn.fetch(
            _INSERT_ALERTS,
            ids,
            [d.source for d in drafts],
            [_uuid(d.rule_id) for d in drafts],
            [_uuid(d.detector_id) for d in drafts],
            [d.name for d in drafts],
            [d.app_id for d in drafts],
            [d.event_id for d in drafts],
            [d.summary for d in drafts],
            [_encode(d.details).decode() for d in drafts],
            [created_at] * len(drafts),
        )
    }
    columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
    for alert_id, draft in zip(ids, drafts, strict=True):
        if alert_id not in inserted:
            continue
        targets: list[tuple[uuid.UUID | None, str | None, int]] = []
        for webhook_id in draft.webhook_ids:
            webhook = webhooks.get(webhook_id)
            if webhook is not None and webhook.enabled:
                targets.append((uuid.UUID(webhook_id), None, webhook.max_attempts))
        if draft.publish_alert:
            owner = draft.rule_id or draft.detector_id or ""
            targets.append((None, alert_subject(draft.app_id, owner), nats_max_attempts))
        for webhook_uuid, subject, max_attempts in targets:
            delivery_id = uuid.uuid4()
            payload = alert_payload(
                draft, alert_id=str(alert_id), delivery_id=str(delivery_id), created_at=created_at
            )
            for column, value in zip(
                columns,
                (
                    delivery_id,
                    alert_id,
                    webhook_uuid,
                    subject,
                    _encode(payload).decode(),
                    draft.priority,
                    max_attempts,
                ),
                strict=True,
            ):
                column.append(value)
    if columns[0]:
        await conn.execute(_INSERT_DELIVERIES, *columns)
    return Recorded(
        alerts=len(inserted), duplicates=len(drafts) - len(inserted), deliveries=len(columns[0])
    )


def _uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)
