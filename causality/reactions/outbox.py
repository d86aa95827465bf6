"""The outbox in PostgreSQL: claiming due deliveries, recording attempts, retry schedule.

Deliveries are claimed with ``FOR UPDATE SKIP LOCKED`` inside the caller's transaction and stay
locked while they are sent; the attempt is recorded in the same transaction. So any number of
dispatchers can run at once without sending a row twice in the normal case, and a dispatcher
that dies mid-way only rolls back: its rows become claimable again and are sent by whoever
claims them next. Delivery is therefore at least once; receivers de-duplicate on the delivery
id header.

A delivery to a webhook that is disabled is not claimed at all: it stays pending with its
attempts untouched and goes out as soon as the webhook is enabled again. (A deleted webhook
takes its deliveries with it: ``ON DELETE CASCADE``.)
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg
import msgspec

from causality.config import Settings
from causality.reactions.model import Webhook
from causality.reactions.sender import Attempt, WebhookSender

Outcome = Literal["delivered", "pending", "dead_letter"]
Random = Callable[[], float]


class Due(msgspec.Struct, frozen=True, kw_only=True):
    """A claimed delivery with everything needed to send it: exactly one of ``webhook`` and
    ``subject`` is set; ``payload`` is the exact body (opaque JSON)."""

    id: str
    kind: str
    webhook: Webhook | None
    subject: str | None
    payload: bytes
    attempts: int
    max_attempts: int
    priority: int


_CLAIM = """
SELECT d.id, d.kind, d.subject, d.payload::text AS payload, d.attempts, d.max_attempts,
       d.priority, w.id AS webhook_id, w.name AS webhook_name, w.url, w.auth_type,
       w.auth_username, w.auth_secret, w.headers::text AS headers, w.enabled,
       w.max_attempts AS webhook_max_attempts, w.timeout_s
FROM deliveries d
LEFT JOIN webhooks w ON w.id = d.webhook_id
WHERE d.status = 'pending'
  AND d.next_attempt_at <= now()
  AND (d.webhook_id IS NULL OR w.enabled)
ORDER BY d.priority DESC, d.next_attempt_at
LIMIT $1
FOR UPDATE OF d SKIP LOCKED
"""

# one round trip per attempt: the history row and the delivery's new state, stamped with the
# wall clock at recording time (now() would be the start of a transaction that spans the send)
_RECORD = """
WITH ts AS (SELECT COALESCE($8::timestamptz, clock_timestamp()) AS at),
attempt AS (
    INSERT INTO delivery_attempts (delivery_id, attempt, status_code, error, duration_ms,
                                   attempted_at)
    SELECT $1, $3, $4, $5, $6, ts.at FROM ts
)
UPDATE deliveries d
SET status = $2,
    attempts = $3,
    last_status = $4,
    last_error = $5,
    delivered_at = CASE WHEN $2 = 'delivered' THEN ts.at ELSE d.delivered_at END,
    next_attempt_at = CASE WHEN $2 = 'pending' THEN ts.at + make_interval(secs => $7)
                           ELSE d.next_attempt_at END,
    updated_at = ts.at
FROM ts
WHERE d.id = $1 AND d.status = 'pending'
"""

_INSERT_TEST = """
INSERT INTO deliveries (id, webhook_id, kind, payload, max_attempts)
VALUES ($1, $2, 'test', $3::jsonb, 1)
RETURNING payload::text
"""


def _webhook(row: asyncpg.Record) -> Webhook | None:
    if row["webhook_id"] is None:
        return None
    return Webhook(
        id=str(row["webhook_id"]),
        name=row["webhook_name"],
        url=row["url"],
        auth_type=row["auth_type"],
        auth_username=row["auth_username"],
        auth_secret=row["auth_secret"],
        headers=msgspec.json.decode(row["headers"] or "{}", type=dict[str, str]),
        enabled=row["enabled"],
        max_attempts=row["webhook_max_attempts"],
        timeout_s=row["timeout_s"],
    )


async def claim_due(conn: asyncpg.Connection, *, limit: int) -> list[Due]:
    """Lock and return up to ``limit`` due deliveries, highest priority and oldest first.

    Call inside a transaction; the rows stay locked (invisible to other claimers) until it
    ends, so record their attempts before committing.
    """
    rows = await conn.fetch(_CLAIM, limit)
    return [
        Due(
            id=str(row["id"]),
            kind=row["kind"],
            webhook=_webhook(row),
            subject=row["subject"],
            payload=row["payload"].encode(),
            attempts=row["attempts"],
            max_attempts=row["max_attempts"],
            priority=row["priority"],
        )
        for row in rows
    ]


def backoff_s(failures: int, *, base_s: float, max_s: float, rand: Random = random.random) -> float:
    """Delay before the next try after ``failures`` failed attempts: exponential
    (``base * 2**(failures-1)``, capped at ``max_s``) with full jitter, so receivers coming
    back from an outage are not hit by every retry at the same instant."""
    exponent = min(max(failures - 1, 0), 62)
    ceiling = min(max_s, base_s * float(2**exponent))
    return max(ceiling * rand(), 0.0)


def next_state(
    due: Due, attempt: Attempt, *, settings: Settings, rand: Random = random.random
) -> tuple[Outcome, float]:
    """The delivery's status after ``attempt``, and the retry delay when it stays pending."""
    if attempt.ok:
        return "delivered", 0.0
    failures = due.attempts + 1
    if failures >= due.max_attempts:
        return "dead_letter", 0.0
    delay = backoff_s(
        failures,
        base_s=settings.webhook_backoff_base_s,
        max_s=settings.webhook_backoff_max_s,
        rand=rand,
    )
    return "pending", delay


async def record_attempts(
    conn: asyncpg.Connection,
    results: Sequence[tuple[Due, Attempt]],
    *,
    settings: Settings,
    now: datetime | None = None,
    rand: Random = random.random,
) -> list[tuple[Outcome, float]]:
    """Record several attempts (one pipelined statement each) in the caller's transaction;
    return each delivery's new status and, when it stays pending, the seconds until its retry.

    ``attempts`` counts every try, the successful one included; a failure that reaches
    ``max_attempts`` turns the delivery into a dead letter. ``now`` (default: the database's
    clock) and ``rand`` (the jitter) are injectable for tests.
    """
    outcomes: list[tuple[Outcome, float]] = []
    args: list[tuple[Any, ...]] = []
    for due, attempt in results:
        outcome, delay = next_state(due, attempt, settings=settings, rand=rand)
        outcomes.append((outcome, delay))
        args.append(
            (
                uuid.UUID(due.id),
                outcome,
                due.attempts + 1,
                attempt.status_code,
                attempt.error,
                attempt.duration_ms,
                delay,
                now,
            )
        )
    if args:
        await conn.executemany(_RECORD, args)
    return outcomes


async def record_attempt(
    conn: asyncpg.Connection,
    due: Due,
    attempt: Attempt,
    *,
    settings: Settings,
    now: datetime | None = None,
    rand: Random = random.random,
) -> Outcome:
    """Record one attempt: delivered, retried later (backoff), or dead-lettered."""
    ((outcome, _),) = await record_attempts(
        conn, [(due, attempt)], settings=settings, now=now, rand=rand
    )
    return outcome


def build_test_payload(*, delivery_id: str, webhook: Webhook, sent_at: datetime) -> dict[str, Any]:
    """The body of a test delivery: shaped like an alert delivery (``type``, ``delivery_id``,
    ``text``) so a receiver's parsing is exercised too."""
    return {
        "type": "test",
        "delivery_id": delivery_id,
        "text": f"Test delivery from Causality to webhook {webhook.name!r}",
        "webhook": {"id": webhook.id, "name": webhook.name},
        "sent_at": sent_at.isoformat().replace("+00:00", "Z"),
    }


async def deliver_test(
    pool: asyncpg.Pool, sender: WebhookSender, webhook: Webhook
) -> dict[str, Any]:
    """Send one test delivery now (no retries) and keep it in the history.

    The row is inserted, sent and recorded in one transaction, so no dispatcher can see (and
    send) it before the outcome is known; with ``max_attempts`` 1 a failure is final.
    """
    delivery_id = str(uuid.uuid4())
    body = build_test_payload(delivery_id=delivery_id, webhook=webhook, sent_at=datetime.now(UTC))
    async with pool.acquire() as conn, conn.transaction():
        stored = await conn.fetchval(
            _INSERT_TEST,
            uuid.UUID(delivery_id),
            uuid.UUID(webhook.id),
            msgspec.json.encode(body).decode(),
        )
        due = Due(
            id=delivery_id,
            kind="test",
            webhook=webhook,
            subject=None,
            payload=stored.encode(),
            attempts=0,
            max_attempts=1,
            priority=0,
        )
        attempt = await sender.send(webhook, delivery_id=delivery_id, payload=due.payload)
        await record_attempt(conn, due, attempt, settings=sender.settings)
    return {
        "delivery_id": delivery_id,
        "ok": attempt.ok,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "duration_ms": attempt.duration_ms,
    }
