"""Reliable delivery against real PostgreSQL, NATS and a real local HTTP(S) receiver.

Every test gets a database of its own (``fresh_db``): the session's Serve app runs dispatchers
on the shared one, and a dispatcher works off everything in its database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import random
import ssl
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from nats.aio.client import Client as NATS

from causality.bus.connection import connect
from causality.bus.stream import alerts_stream_config, ensure_topology
from causality.config import Settings
from causality.reactions.dispatcher import Dispatcher, pool_size_for
from causality.reactions.model import Webhook
from causality.reactions.outbox import (
    backoff_s,
    claim_due,
    deliver_test,
    record_attempt,
)
from causality.reactions.sender import Attempt, WebhookSender, publish_alert
from causality.reactions.signing import verify
from causality.store.db import open_pool
from tests.conftest import FreshDatabase
from tests.helpers import wait_for
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.integration]


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    """Loopback allowlisted explicitly (the receiver is local); fast retries."""
    return base_settings.replace(
        webhook_allowed_networks=("127.0.0.0/8",),
        webhook_backoff_base_s=0.05,
        webhook_backoff_max_s=0.4,
        dispatcher_concurrency=8,
        webhook_timeout_s=5.0,
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as rx:
        yield rx


@pytest_asyncio.fixture(loop_scope="session")
async def nc(nats_url: str, settings: Settings) -> AsyncIterator[NATS]:
    conn = await connect(nats_url, name="test-webhook-dispatcher")
    await ensure_topology(conn.jetstream(), settings)
    yield conn
    await conn.close()


async def add_webhook(pool: asyncpg.Pool, url: str, **fields: Any) -> Webhook:
    webhook = Webhook(id=str(uuid.uuid4()), name=f"hook {uuid.uuid4().hex[:4]}", url=url, **fields)
    await pool.execute(
        "INSERT INTO webhooks (id, name, url, auth_type, auth_username, auth_secret, headers, "
        "enabled, max_attempts, timeout_s) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)",
        uuid.UUID(webhook.id),
        webhook.name,
        webhook.url,
        webhook.auth_type,
        webhook.auth_username,
        webhook.auth_secret,
        json.dumps(webhook.headers),
        webhook.enabled,
        webhook.max_attempts,
        webhook.timeout_s,
    )
    return webhook


async def add_deliveries(
    pool: asyncpg.Pool,
    *,
    n: int,
    webhook: Webhook | None = None,
    subject: str | None = None,
    max_attempts: int | None = None,
    priority: int = 0,
) -> list[str]:
    """Outbox rows as the engine writes them; returns their ids, in insertion order."""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    budget = max_attempts or (webhook.max_attempts if webhook else 8)
    await pool.execute(
        "INSERT INTO deliveries (id, webhook_id, subject, payload, priority, max_attempts) "
        "SELECT d.id, $2, $3, d.payload::jsonb, $4, $5 "
        "FROM unnest($1::uuid[], $6::text[]) AS d(id, payload)",
        [uuid.UUID(i) for i in ids],
        uuid.UUID(webhook.id) if webhook else None,
        subject,
        priority,
        budget,
        [json.dumps({"type": "rule.fired", "delivery_id": i, "n": k}) for k, i in enumerate(ids)],
    )
    return ids


async def states(pool: asyncpg.Pool, ids: list[str]) -> dict[str, asyncpg.Record]:
    rows = await pool.fetch(
        "SELECT id::text, status, attempts, last_status, last_error, next_attempt_at, "
        "delivered_at FROM deliveries WHERE id = ANY($1::uuid[])",
        [uuid.UUID(i) for i in ids],
    )
    return {row["id"]: row for row in rows}


async def attempts_of(pool: asyncpg.Pool, delivery_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT attempt, status_code, error, duration_ms, attempted_at FROM delivery_attempts "
        "WHERE delivery_id = $1 ORDER BY attempt",
        uuid.UUID(delivery_id),
    )


def all_in(status: str, pool: asyncpg.Pool, ids: list[str]) -> Any:
    async def check() -> bool:
        found = await states(pool, ids)
        return len(found) == len(ids) and all(r["status"] == status for r in found.values())

    return check


@contextlib.asynccontextmanager
async def dispatching(
    db: FreshDatabase,
    settings: Settings,
    *,
    nc: NATS | None = None,
    name: str = "dispatcher",
    rand: Any = random.random,
    verify_tls: ssl.SSLContext | bool = True,
) -> AsyncIterator[Dispatcher]:
    """A dispatcher with a pool of its own, running until the block ends (graceful stop)."""
    async with (
        open_pool(db.dsn, min_size=1, max_size=pool_size_for(settings) + 1) as pool,
        WebhookSender(settings, verify=verify_tls) as sender,
    ):
        dispatcher = Dispatcher(
            pool=pool, nc=nc, settings=settings, sender=sender, name=name, rand=rand
        )
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        try:
            yield dispatcher
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)


# -- auth and headers ---------------------------------------------------------------------


async def test_auth_types_arrive_as_configured(
    fresh_db: FreshDatabase, settings: Settings, receiver: WebhookReceiver
) -> None:
    pool = fresh_db.pool
    extra = {"X-Team": "growth", "Content-Type": "text/plain", "Authorization": "Bearer forged"}
    hooks = {
        "none": await add_webhook(pool, f"{receiver.url}/none", headers=extra),
        "basic": await add_webhook(
            pool,
            f"{receiver.url}/basic",
            auth_type="basic",
            auth_username="crm",
            auth_secret="s3cret",
        ),
        "bearer": await add_webhook(
            pool, f"{receiver.url}/bearer", auth_type="bearer", auth_secret="tok-1"
        ),
        # a host name: connected to its checked address, sent with its own Host header
        "hmac": await add_webhook(
            pool,
            f"http://localhost:{receiver.port}/hmac",
            auth_type="hmac",
            auth_secret="whsec_1",
        ),
    }
    ids = {kind: (await add_deliveries(pool, n=1, webhook=hook))[0] for kind, hook in hooks.items()}
    async with dispatching(fresh_db, settings):
        await wait_for(all_in("delivered", pool, list(ids.values())), timeout=30, interval=0.05)

    got = {r.path.strip("/"): r for r in receiver.records()}
    assert set(got) == set(ids)
    for kind, record in got.items():
        assert record.delivery_id == ids[kind]
        assert record.headers["content-type"] == "application/json"
        assert record.headers["user-agent"].startswith("causality-webhooks/")
        assert int(record.headers["x-causality-timestamp"]) > 0
        assert json.loads(record.body)["delivery_id"] == ids[kind]
    assert got["none"].headers["x-team"] == "growth"
    assert "authorization" not in got["none"].headers  # a custom header cannot add auth
    assert "x-causality-signature" not in got["none"].headers
    assert got["basic"].headers["authorization"] == "Basic Y3JtOnMzY3JldA=="  # crm:s3cret
    assert got["bearer"].headers["authorization"] == "Bearer tok-1"
    hmac_record = got["hmac"]
    assert hmac_record.headers["host"] == f"localhost:{receiver.port}"
    signature = hmac_record.headers["x-causality-signature"]
    assert verify("whsec_1", signature, hmac_record.body) == int(
        hmac_record.headers["x-causality-timestamp"]
    )
    assert "authorization" not in hmac_record.headers
    for delivery_id in ids.values():
        (attempt,) = await attempts_of(pool, delivery_id)
        assert (attempt["attempt"], attempt["status_code"], attempt["error"]) == (1, 200, None)


# -- SSRF -----------------------------------------------------------------------------------


async def test_loopback_is_refused_without_the_allowlist(
    fresh_db: FreshDatabase, settings: Settings, receiver: WebhookReceiver
) -> None:
    pool = fresh_db.pool
    closed = settings.replace(webhook_allowed_networks=())
    hooks = [
        await add_webhook(pool, f"{receiver.url}/a", max_attempts=2),
        await add_webhook(pool, f"http://localhost:{receiver.port}/b", max_attempts=2),
        await add_webhook(pool, f"http://2130706433:{receiver.port}/c", max_attempts=2),
    ]
    ids = [(await add_deliveries(pool, n=1, webhook=hook))[0] for hook in hooks]
    async with dispatching(fresh_db, closed):
        await wait_for(all_in("dead_letter", pool, ids), timeout=30, interval=0.05)
    assert receiver.records() == []
    for delivery_id in ids:
        attempts = await attempts_of(pool, delivery_id)
        assert [a["attempt"] for a in attempts] == [1, 2]
        for attempt in attempts:
            assert attempt["status_code"] is None
            assert attempt["error"].startswith("refused target ")
            assert "127.0.0.1 is a loopback address" in attempt["error"]


# -- outages, retries, dead letters -------------------------------------------------------------


async def test_a_receiver_that_was_down_gets_every_delivery(
    fresh_db: FreshDatabase, settings: Settings, receiver: WebhookReceiver
) -> None:
    pool = fresh_db.pool
    webhook = await add_webhook(pool, f"{receiver.url}/hook", max_attempts=50)
    receiver.stop()
    ids = await add_deliveries(pool, n=40, webhook=webhook)

    async def every_one_failed() -> bool:
        failed = await pool.fetchval(
            "SELECT count(DISTINCT delivery_id) FROM delivery_attempts WHERE error IS NOT NULL"
        )
        return failed == len(ids)

    async with dispatching(fresh_db, settings):
        await wait_for(every_one_failed, timeout=30, interval=0.05)
        errors = {
            r["error"] for r in await pool.fetch("SELECT DISTINCT error FROM delivery_attempts")
        }
        assert errors == {"connection refused"}
        receiver.start()
        await wait_for(all_in("delivered", pool, ids), timeout=60, interval=0.05)

    seen = receiver.ids()
    assert set(seen) == set(ids)  # every delivery arrived, nothing else did
    duplicates = {i: c for i, c in seen.items() if c > 1}
    # at-least-once: duplicates are allowed, and the delivery id lets the receiver drop them
    print(f"deliveries: {len(ids)}, duplicates seen by the receiver: {len(duplicates)}")
    for row in (await states(pool, ids)).values():
        assert row["attempts"] >= 2 and row["last_status"] == 200 and row["last_error"] is None
        assert row["delivered_at"] is not None


async def test_failures_back_off_and_end_in_dead_letter(
    fresh_db: FreshDatabase, settings: Settings, receiver: WebhookReceiver
) -> None:
    pool = fresh_db.pool
    receiver.mode = "fail"
    webhook = await add_webhook(pool, f"{receiver.url}/hook", max_attempts=4)
    ids = await add_deliveries(pool, n=2, webhook=webhook)
    # rand=1.0: the jitter takes its maximum, so each delay is exactly the exponential ceiling
    async with dispatching(fresh_db, settings, rand=lambda: 1.0) as dispatcher:
        await wait_for(all_in("dead_letter", pool, ids), timeout=30, interval=0.05)
    assert dispatcher.stats.dead_lettered == 2
    assert dispatcher.stats.failed_attempts == 8
    assert receiver.ids() == {i: 4 for i in ids}
    for delivery_id in ids:
        attempts = await attempts_of(pool, delivery_id)
        assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
        for attempt in attempts:
            assert attempt["status_code"] == 503
            assert attempt["error"] == "HTTP 503: busy" + "." * 196  # first 200 characters
        # each retry waited at least its backoff: 0.05, 0.1, 0.2 s
        for n, (before, after) in enumerate(itertools.pairwise(attempts), start=1):
            expected = dt.timedelta(seconds=backoff_s(n, base_s=0.05, max_s=0.4, rand=lambda: 1))
            assert after["attempted_at"] - before["attempted_at"] >= expected
        row = (await states(pool, [delivery_id]))[delivery_id]
        assert (row["attempts"], row["last_status"]) == (4, 503)


def test_backoff_is_exponential_capped_and_fully_jittered() -> None:
    ceilings = [backoff_s(n, base_s=2.0, max_s=60.0, rand=lambda: 1.0) for n in range(1, 9)]
    assert ceilings == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert backoff_s(3, base_s=2.0, max_s=60.0, rand=lambda: 0.25) == 2.0
    assert backoff_s(1, base_s=2.0, max_s=60.0, rand=lambda: 0.0) == 0.0
    assert backoff_s(10_000, base_s=2.0, max_s=3600.0, rand=lambda: 1.0) == 3600.0
    draws = {backoff_s(4, base_s=1.0, max_s=100.0) for _ in range(50)}
    assert len(draws) > 1 and all(0.0 <= d <= 8.0 for d in draws)


async def test_record_attempt_schedules_retries_and_dead_letters(
    fresh_db: FreshDatabase, settings: Settings
) -> None:
    pool = fresh_db.pool
    webhook = await add_webhook(pool, "http://127.0.0.1:9/x", max_attempts=3)
    (delivery_id,) = await add_deliveries(pool, n=1, webhook=webhook)
    at = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    slow = settings.replace(webhook_backoff_base_s=10.0, webhook_backoff_max_s=15.0)
    failure = Attempt(ok=False, status_code=500, error="HTTP 500", duration_ms=12.5)
    outcomes = []
    for n in range(3):
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE deliveries SET next_attempt_at = now() WHERE id = $1",
                uuid.UUID(delivery_id),
            )
            (due,) = [d for d in await claim_due(conn, limit=100) if d.id == delivery_id]
            assert due.attempts == n
            outcomes.append(
                await record_attempt(conn, due, failure, settings=slow, now=at, rand=lambda: 0.5)
            )
        row = (await states(pool, [delivery_id]))[delivery_id]
        assert row["attempts"] == n + 1
        if n < 2:  # 0.5 * 10 s, then 0.5 * min(20 s, 15 s)
            assert row["next_attempt_at"] - at == dt.timedelta(seconds=[5.0, 7.5][n])
    assert outcomes == ["pending", "pending", "dead_letter"]
    row = (await states(pool, [delivery_id]))[delivery_id]
    assert (row["status"], row["last_status"], row["last_error"]) == (
        "dead_letter",
        500,
        "HTTP 500",
    )
    attempts = await attempts_of(pool, delivery_id)
    assert [(a["attempt"], a["attempted_at"], a["duration_ms"]) for a in attempts] == [
        (1, at, 12.5),
        (2, at, 12.5),
        (3, at, 12.5),
    ]
    async with pool.acquire() as conn, conn.transaction():  # a dead letter is never claimed
        assert delivery_id not in {d.id for d in await claim_due(conn, limit=100)}


async def test_success_is_recorded_with_its_time(
    fresh_db: FreshDatabase, settings: Settings
) -> None:
    pool = fresh_db.pool
    webhook = await add_webhook(pool, "http://127.0.0.1:9/x")
    (delivery_id,) = await add_deliveries(pool, n=1, webhook=webhook)
    at = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    async with pool.acquire() as conn, conn.transaction():
        (due,) = await claim_due(conn, limit=10)
        outcome = await record_attempt(
            conn, due, Attempt(ok=True, status_code=204, duration_ms=3.0), settings=settings, now=at
        )
    assert outcome == "delivered"
    row = (await states(pool, [delivery_id]))[delivery_id]
    assert (row["status"], row["attempts"], row["delivered_at"]) == ("delivered", 1, at)


async def test_claims_follow_priority_and_skip_disabled_webhooks(
    fresh_db: FreshDatabase,
) -> None:
    pool = fresh_db.pool
    on = await add_webhook(pool, "http://127.0.0.1:9/on")
    off = await add_webhook(pool, "http://127.0.0.1:9/off", enabled=False)
    low = await add_deliveries(pool, n=2, webhook=on, priority=0)
    high = await add_deliveries(pool, n=2, webhook=on, priority=5)
    postponed = await add_deliveries(pool, n=2, webhook=off, priority=9)
    async with pool.acquire() as conn, conn.transaction():
        due = await claim_due(conn, limit=100)
        assert [d.id for d in due] == high + low
        assert due[0].webhook == on
        # a second claimer skips the locked rows instead of waiting for them
        async with pool.acquire() as other, other.transaction():
            assert await claim_due(other, limit=100) == []
    row = (await states(pool, postponed))[postponed[0]]
    assert (row["status"], row["attempts"]) == ("pending", 0)  # no attempt counted
    await pool.execute("UPDATE webhooks SET enabled = true WHERE id = $1", uuid.UUID(off.id))
    async with pool.acquire() as conn, conn.transaction():
        assert [d.id for d in await claim_due(conn, limit=2)] == postponed


# -- crashes and concurrency ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["cancel", "connections-cut"])
async def test_a_killed_dispatcher_loses_no_delivery(
    fresh_db: FreshDatabase, settings: Settings, receiver: WebhookReceiver, how: str
) -> None:
    pool = fresh_db.pool
    webhook = await add_webhook(pool, f"{receiver.url}/hook")
    ids = await add_deliveries(pool, n=30, webhook=webhook)
    receiver.mode = "hang"  # requests arrive and are held: their rows stay claimed

    async with (
        open_pool(fresh_db.dsn, min_size=1, max_size=pool_size_for(settings) + 1) as doomed_pool,
        WebhookSender(settings) as sender,
    ):
        doomed = Dispatcher(pool=doomed_pool, nc=None, settings=settings, sender=sender)
        task = asyncio.create_task(doomed.run(asyncio.Event()))

        async def some_in_flight() -> bool:
            return len(receiver.records()) >= 4 and doomed.stats.in_flight >= 4

        await wait_for(some_in_flight, timeout=30, interval=0.02)
        if how == "connections-cut":  # as if its process died: no rollback from its side
            doomed_pool.terminate()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert doomed.stats.delivered == 0
    assert all(r["status"] == "pending" for r in (await states(pool, ids)).values())

    receiver.mode = "ok"
    receiver.release()
    async with dispatching(fresh_db, settings, name="survivor") as survivor:
        await wait_for(all_in("delivered", pool, ids), timeout=60, interval=0.05)
    assert survivor.stats.delivered == len(ids)
    assert set(receiver.ids()) == set(ids)
    for delivery_id in ids:  # the abandoned sends left no attempt behind
        assert [a["attempt"] for a in await attempts_of(pool, delivery_id)] == [1]


async def test_two_dispatchers_never_send_a_row_twice(
    fresh_db: FreshDatabase, settings: Settings, receiver: WebhookReceiver
) -> None:
    pool = fresh_db.pool
    webhook = await add_webhook(pool, f"{receiver.url}/hook")
    ids = await add_deliveries(pool, n=300, webhook=webhook)
    async with (
        dispatching(fresh_db, settings, name="one") as one,
        dispatching(fresh_db, settings, name="two") as two,
    ):
        await wait_for(all_in("delivered", pool, ids), timeout=120, interval=0.05)
    assert receiver.ids() == {i: 1 for i in ids}
    assert one.stats.delivered + two.stats.delivered == len(ids)
    assert one.stats.failed_attempts == two.stats.failed_attempts == 0
    assert await pool.fetchval("SELECT count(*) FROM delivery_attempts") == len(ids)


async def test_new_deliveries_are_picked_up_while_running(
    fresh_db: FreshDatabase, settings: Settings, receiver: WebhookReceiver
) -> None:
    pool = fresh_db.pool
    webhook = await add_webhook(pool, f"{receiver.url}/hook")
    async with dispatching(fresh_db, settings) as dispatcher:
        await asyncio.sleep(0.2)  # idle: waiting for a notification or the poll
        ids = await add_deliveries(pool, n=5, webhook=webhook)
        await wait_for(all_in("delivered", pool, ids), timeout=30, interval=0.05)

        async def heard() -> bool:  # the LISTEN connection got the insert's notification
            return dispatcher.stats.wakeups >= 1

        await wait_for(heard, timeout=10, interval=0.05)
        status = dispatcher.status()
    assert status["delivered"] == 5 and status["in_flight"] == 0


# -- what a single request does --------------------------------------------------------------


async def test_sender_refuses_redirects_caps_answers_and_times_out(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    webhook = Webhook(id=str(uuid.uuid4()), name="h", url=f"{receiver.url}/x", timeout_s=0.5)
    async with WebhookSender(settings) as sender:
        receiver.mode = "redirect"
        redirect = await sender.send(webhook, delivery_id="r", payload=b"{}")
        receiver.mode = "big"
        big = await sender.send(webhook, delivery_id="b", payload=b"{}")
        receiver.mode = "hang"
        hung = await sender.send(webhook, delivery_id="h", payload=b"{}")
        receiver.release()
        port = receiver.port
        receiver.stop()
        refused = await sender.send(webhook, delivery_id="c", payload=b"{}")
        bad = Webhook(id="x", name="h", url=f"http://127.0.0.1:{port}/", auth_type="bearer")
        misconfigured = await sender.send(bad, delivery_id="m", payload=b"{}")
    assert (redirect.ok, redirect.status_code) == (False, 302)
    assert redirect.error == "HTTP 302: redirects are not followed"
    assert [r.delivery_id for r in receiver.records()] == ["r", "b", "h"]  # never followed
    assert (big.ok, big.status_code, big.error) == (False, 503, "HTTP 503: " + "x" * 200)
    assert (hung.ok, hung.status_code, hung.error) == (False, None, "timeout after 0.5s")
    assert (refused.ok, refused.status_code, refused.error) == (False, None, "connection refused")
    assert misconfigured.error == "webhook misconfigured: auth_secret: bearer auth needs a secret"


def _self_signed(tmp: Path, host: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_https_connects_to_the_checked_address_and_verifies_the_host_name(
    tmp_path: Path, settings: Settings
) -> None:
    cert, key = _self_signed(tmp_path, "localhost")
    trust = ssl.create_default_context(cafile=str(cert))
    with WebhookReceiver(certfile=str(cert), keyfile=str(key)) as rx:
        by_name = Webhook(id="n", name="h", url=f"https://localhost:{rx.port}/tls")
        by_address = Webhook(id="a", name="h", url=f"https://127.0.0.1:{rx.port}/tls")
        async with WebhookSender(settings, verify=trust) as sender:
            named = await sender.send(by_name, delivery_id="tls-1", payload=b"{}")
            addressed = await sender.send(by_address, delivery_id="tls-2", payload=b"{}")
        async with WebhookSender(settings) as untrusting:  # system CAs only
            untrusted = await untrusting.send(by_name, delivery_id="tls-3", payload=b"{}")
    assert (named.ok, named.status_code) == (True, 200), named.error
    # the certificate names localhost, not 127.0.0.1: verification really is by host name
    assert not addressed.ok and addressed.error and addressed.error.startswith("tls error")
    assert not untrusted.ok and untrusted.error and untrusted.error.startswith("tls error")
    assert [r.delivery_id for r in rx.records()] == ["tls-1"]
    assert rx.records()[0].headers["host"] == f"localhost:{rx.port}"


# -- NATS targets --------------------------------------------------------------------------


async def test_a_nats_target_is_published_with_its_delivery_id(
    fresh_db: FreshDatabase, settings: Settings, nc: NATS
) -> None:
    pool = fresh_db.pool
    subject = f"alerts.app{uuid.uuid4().hex[:8]}.rule1"
    received: list[Any] = []

    async def collect(msg: Any) -> None:
        received.append(msg)

    sub = await nc.subscribe("alerts.>", cb=collect)
    ids = await add_deliveries(pool, n=3, subject=subject)
    (bad,) = await add_deliveries(pool, n=1, subject="events.app.custom.x", max_attempts=1)
    try:
        async with dispatching(fresh_db, settings, nc=nc):
            await wait_for(all_in("delivered", pool, ids), timeout=30, interval=0.05)
            await wait_for(all_in("dead_letter", pool, [bad]), timeout=30, interval=0.05)

        async def all_received() -> bool:
            return len([m for m in received if m.subject == subject]) >= len(ids)

        await wait_for(all_received, timeout=10, interval=0.05)
    finally:
        await sub.unsubscribe()
    mine = [m for m in received if m.subject == subject]
    assert sorted(m.headers["Nats-Msg-Id"] for m in mine) == sorted(ids)
    for msg in mine:
        assert json.loads(msg.data)["delivery_id"] == msg.headers["Nats-Msg-Id"]
    (attempt,) = await attempts_of(pool, bad)
    assert "not a concrete alerts.* subject" in attempt["error"]
    info = await nc.jetstream().stream_info(
        alerts_stream_config(settings).name or "", subjects_filter=subject
    )
    assert info.state.subjects == {subject: 3}


async def test_a_retried_publish_is_stored_once(settings: Settings, nc: NATS) -> None:
    """A dispatcher that lost the PubAck publishes again: the stream keeps one message."""
    subject = f"alerts.app{uuid.uuid4().hex[:8]}.rule2"
    js = nc.jetstream()
    first = await publish_alert(js, subject, delivery_id="dup-1", payload=b"{}", timeout_s=5)
    again = await publish_alert(js, subject, delivery_id="dup-1", payload=b"{}", timeout_s=5)
    assert first.ok and again.ok
    info = await js.stream_info(settings.alerts_stream_name, subjects_filter=subject)
    assert info.state.subjects == {subject: 1}


# -- the admin's test delivery -------------------------------------------------------------


async def test_deliver_test_sends_once_and_keeps_the_history(
    fresh_db: FreshDatabase, settings: Settings, receiver: WebhookReceiver
) -> None:
    pool = fresh_db.pool
    webhook = await add_webhook(pool, f"{receiver.url}/t", auth_type="hmac", auth_secret="k")
    async with WebhookSender(settings) as sender:
        ok = await deliver_test(pool, sender, webhook)
        receiver.mode = "fail"
        failed = await deliver_test(pool, sender, webhook)
    assert ok["ok"] is True and ok["status_code"] == 200 and ok["error"] is None
    assert failed["ok"] is False and failed["status_code"] == 503
    assert failed["error"].startswith("HTTP 503: busy")
    records = receiver.records()
    assert [r.delivery_id for r in records] == [ok["delivery_id"], failed["delivery_id"]]
    body = json.loads(records[0].body)
    assert body["type"] == "test" and body["delivery_id"] == ok["delivery_id"]
    assert verify("k", records[0].headers["x-causality-signature"], records[0].body)
    rows = await states(pool, [ok["delivery_id"], failed["delivery_id"]])
    assert rows[ok["delivery_id"]]["status"] == "delivered"
    assert rows[failed["delivery_id"]]["status"] == "dead_letter"  # no retries for a test
    kinds = await pool.fetch("SELECT DISTINCT kind FROM deliveries")
    assert [k["kind"] for k in kinds] == ["test"]
    assert len(await attempts_of(pool, failed["delivery_id"])) == 1
