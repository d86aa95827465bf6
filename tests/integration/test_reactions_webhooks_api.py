"""Webhook test deliveries against a real local receiver, and the alert and delivery history
with paging, filters, app limits and retries, over real HTTP and the real PostgreSQL.

Loopback is allowlisted here (``webhook_allowed_networks``) so the receiver on 127.0.0.1 can
be reached; every other private range stays refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import msgspec
import pytest

from causality.auth.roles import Role
from causality.config import Settings
from causality.reactions.signing import verify
from tests.auth_helpers import LoggedIn, UserClient, assert_error
from tests.conftest import AppWithKeyFactory
from tests.helpers import free_port
from tests.integration.reactions_support import (
    ALERTS,
    DELIVERIES,
    RULES,
    WEBHOOKS,
    insert_alert,
    insert_delivery,
    rule_body,
    webhook_body,
)
from tests.webhook_receiver import WebhookReceiver

pytest_plugins = ["tests.integration.auth_fixtures"]
pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def auth_settings(base_settings: Settings) -> Settings:
    """Loopback allowed (the receiver), nothing else; a high login limit as in auth_fixtures."""
    return base_settings.replace(
        login_max_failures_per_ip=100_000, webhook_allowed_networks=("127.0.0.0/8",)
    )


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def fresh(receiver: WebhookReceiver) -> WebhookReceiver:
    receiver.mode = "ok"
    receiver.clear()
    return receiver


async def _create(client: UserClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


# -- test deliveries ------------------------------------------------------------------------


async def test_a_test_delivery_reaches_the_receiver_signed(
    as_role: dict[Role, UserClient], fresh: WebhookReceiver
) -> None:
    editor = as_role[Role.EDITOR]
    secret = "hmac-key-" + uuid.uuid4().hex
    hook = await _create(
        editor,
        WEBHOOKS,
        webhook_body(
            url=fresh.url, auth_type="hmac", auth_secret=secret, headers={"X-Team": "growth"}
        ),
    )
    r = await editor.post(f"{WEBHOOKS}/{hook['id']}/test")
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["ok"] is True and result["status_code"] == 200 and result["error"] is None
    [got] = fresh.records()
    assert got.headers["x-causality-delivery"] == result["delivery_id"]
    assert got.headers["x-team"] == "growth"
    assert got.headers["content-type"] == "application/json"
    verify(secret, got.headers["x-causality-signature"], got.body)
    with pytest.raises(ValueError, match="no signature matches"):
        verify("another key of 16+ chars", got.headers["x-causality-signature"], got.body)
    payload = msgspec.json.decode(got.body)
    assert payload["type"] == "test" and payload["delivery_id"] == result["delivery_id"]
    assert payload["webhook"]["id"] == hook["id"]

    # kept in the history
    r = await editor.get(f"{DELIVERIES}?kind=test&webhook_id={hook['id']}")
    [listed] = r.json()["items"]
    assert listed["id"] == result["delivery_id"] and listed["status"] == "delivered"
    detail = (await editor.get(f"{DELIVERIES}/{listed['id']}")).json()
    assert detail["delivery"]["webhook_name"] == hook["name"]
    assert detail["payload"] == payload
    assert [(a["attempt"], a["status_code"]) for a in detail["attempts"]] == [(1, 200)]


async def test_a_failing_receiver_is_a_result_not_an_error(
    as_role: dict[Role, UserClient], fresh: WebhookReceiver
) -> None:
    editor = as_role[Role.EDITOR]
    hook = await _create(editor, WEBHOOKS, webhook_body(url=fresh.url))
    fresh.mode = "fail"
    r = await editor.post(f"{WEBHOOKS}/{hook['id']}/test")
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["ok"] is False and result["status_code"] == 503 and len(fresh.records()) == 1
    # a test is tried once: its delivery is a dead letter at once, and can be retried
    path = f"{DELIVERIES}/{result['delivery_id']}"
    assert (await editor.get(path)).json()["delivery"]["status"] == "dead_letter"
    r = await editor.post(f"{path}/retry")
    assert r.status_code == 200 and r.json()["status"] == "pending", r.text
    # leave nothing due for dispatchers other tests may run on this database
    assert (await editor.patch(f"{WEBHOOKS}/{hook['id']}", json={"enabled": False})).is_success


async def test_an_unreachable_receiver(as_role: dict[Role, UserClient]) -> None:
    editor = as_role[Role.EDITOR]
    url = f"http://127.0.0.1:{free_port()}/hook"
    hook = await _create(editor, WEBHOOKS, webhook_body(url=url, timeout_s=2))
    result = (await editor.post(f"{WEBHOOKS}/{hook['id']}/test")).json()
    assert result["ok"] is False and result["status_code"] is None and result["error"]


async def test_bearer_secret_survives_edits(
    as_role: dict[Role, UserClient], fresh: WebhookReceiver
) -> None:
    editor = as_role[Role.EDITOR]
    token = "tok-" + uuid.uuid4().hex
    hook = await _create(
        editor, WEBHOOKS, webhook_body(url=fresh.url, auth_type="bearer", auth_secret=token)
    )
    path = f"{WEBHOOKS}/{hook['id']}"
    assert (await editor.patch(path, json={"name": "renamed"})).status_code == 200
    assert (await editor.post(f"{path}/test")).json()["ok"] is True
    assert fresh.records()[-1].headers["authorization"] == f"Bearer {token}"


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/", "http://169.254.169.254/", "http://[::1]/", "http://[fd00::1]/"]
)
async def test_the_allowlist_opens_only_what_it_names(
    as_role: dict[Role, UserClient], fresh: WebhookReceiver, url: str
) -> None:
    editor = as_role[Role.EDITOR]
    assert (await editor.post(WEBHOOKS, json=webhook_body(url=fresh.url))).status_code == 201
    r = await editor.post(WEBHOOKS, json=webhook_body(url=url))
    assert_error(r, 422, "egress_refused", "url")


async def test_testing_a_refused_target(
    as_role: dict[Role, UserClient], pg_pool: asyncpg.Pool
) -> None:
    """A webhook saved under another allowlist is refused when tested now."""
    hook_id = uuid.uuid4()
    await pg_pool.execute(
        "INSERT INTO webhooks (id, name, url) VALUES ($1, 'old', 'http://10.1.2.3/')", hook_id
    )
    r = await as_role[Role.EDITOR].post(f"{WEBHOOKS}/{hook_id}/test")
    assert_error(r, 422, "egress_refused", "url")
    sent = await pg_pool.fetchval("SELECT count(*) FROM deliveries WHERE webhook_id = $1", hook_id)
    assert sent == 0


# -- history --------------------------------------------------------------------------------


async def test_alert_history_filters_and_pages(
    as_role: dict[Role, UserClient], pg_pool: asyncpg.Pool, make_app_with_key: AppWithKeyFactory
) -> None:
    viewer, editor = as_role[Role.VIEWER], as_role[Role.EDITOR]
    app_id = (await make_app_with_key())[0]
    rule = await _create(editor, RULES, rule_body(app_id=app_id))
    by_rule = [await insert_alert(pg_pool, app_id=app_id, rule_id=rule["id"]) for _ in range(3)]
    anomaly = await insert_alert(pg_pool, app_id=app_id, source="anomaly", name="spike")
    r = await viewer.get(f"{ALERTS}?app_id={app_id}&limit=2")
    page1 = r.json()
    assert page1["total"] == 4 and len(page1["items"]) == 2
    page2 = (await viewer.get(f"{ALERTS}?app_id={app_id}&limit=2&offset=2")).json()
    ids = [a["id"] for a in page1["items"] + page2["items"]]
    assert sorted(ids) == sorted([*by_rule, anomaly])
    stamps = [a["created_at"] for a in page1["items"] + page2["items"]]
    assert stamps == sorted(stamps, reverse=True)  # newest first
    r = await viewer.get(f"{ALERTS}?rule_id={rule['id']}")
    assert sorted(a["id"] for a in r.json()["items"]) == sorted(by_rule)
    r = await viewer.get(f"{ALERTS}?app_id={app_id}&source=anomaly")
    assert [a["id"] for a in r.json()["items"]] == [anomaly]
    alert = (await viewer.get(f"{ALERTS}/{anomaly}")).json()
    assert alert["name"] == "spike" and alert["details"] == {"why": "test"}
    assert alert["source"] == "anomaly" and alert["app_id"] == app_id


async def test_delivery_history_filters_and_retry(
    as_role: dict[Role, UserClient], pg_pool: asyncpg.Pool, make_app_with_key: AppWithKeyFactory
) -> None:
    viewer, editor = as_role[Role.VIEWER], as_role[Role.EDITOR]
    app_id = (await make_app_with_key())[0]
    # disabled: dispatchers other tests run on this database leave its deliveries alone
    hook = await _create(editor, WEBHOOKS, webhook_body(max_attempts=4, enabled=False))
    alert = await insert_alert(pg_pool, app_id=app_id)
    dead = await insert_delivery(pg_pool, alert_id=alert, webhook_id=hook["id"], attempts=3)
    pending = await insert_delivery(
        pg_pool, alert_id=alert, webhook_id=hook["id"], status="pending", attempts=1
    )
    r = await viewer.get(f"{DELIVERIES}?alert_id={alert}")
    assert {d["id"] for d in r.json()["items"]} == {dead, pending} and r.json()["total"] == 2
    r = await viewer.get(f"{DELIVERIES}?webhook_id={hook['id']}&status=dead_letter")
    [listed] = r.json()["items"]
    assert listed["id"] == dead and listed["app_id"] == app_id and listed["attempts"] == 3
    assert listed["last_status"] == 503 and listed["last_error"] == "HTTP 503"
    detail = (await viewer.get(f"{DELIVERIES}/{dead}")).json()
    assert [a["attempt"] for a in detail["attempts"]] == [1, 2, 3]
    assert detail["payload"] == {"type": "rule.fired"}

    assert_error(await viewer.post(f"{DELIVERIES}/{dead}/retry"), 403, "forbidden")
    r = await editor.post(f"{DELIVERIES}/{dead}/retry")
    assert r.status_code == 200, r.text
    retried = r.json()
    # pending, due now, a fresh budget of the webhook's max_attempts on top of the attempts made
    assert retried["status"] == "pending" and retried["attempts"] == 3
    assert retried["max_attempts"] == 3 + 4
    assert retried["next_attempt_at"] < listed["next_attempt_at"]
    due = await pg_pool.fetchval(
        "SELECT next_attempt_at <= now() FROM deliveries WHERE id = $1", uuid.UUID(dead)
    )
    assert due is True
    detail = (await viewer.get(f"{DELIVERIES}/{dead}")).json()
    assert len(detail["attempts"]) == 3  # the history stays
    for not_dead in (dead, pending):
        r = await editor.post(f"{DELIVERIES}/{not_dead}/retry")
        assert_error(r, 409, "not_dead_letter", "status")


async def test_history_is_limited_to_the_callers_apps(
    logged_in: LoggedIn,
    as_role: dict[Role, UserClient],
    pg_pool: asyncpg.Pool,
    make_app_with_key: AppWithKeyFactory,
) -> None:
    mine, theirs = (await make_app_with_key())[0], (await make_app_with_key())[0]
    viewer = await logged_in(Role.VIEWER, app_ids=[mine])
    editor = await logged_in(Role.EDITOR, app_ids=[mine])
    hook = await _create(as_role[Role.EDITOR], WEBHOOKS, webhook_body(enabled=False))
    own_alert = await insert_alert(pg_pool, app_id=mine)
    other_alert = await insert_alert(pg_pool, app_id=theirs)
    unscoped_alert = await insert_alert(pg_pool, app_id=None)
    own = await insert_delivery(pg_pool, alert_id=own_alert, webhook_id=hook["id"])
    other = await insert_delivery(pg_pool, alert_id=other_alert, webhook_id=hook["id"])
    test = await insert_delivery(pg_pool, alert_id=None, webhook_id=hook["id"], kind="test")

    alerts = (await viewer.get(f"{ALERTS}?limit=200")).json()["items"]
    assert {a["app_id"] for a in alerts} == {mine} and own_alert in {a["id"] for a in alerts}
    r = await viewer.get(f"{ALERTS}?app_id={theirs}")
    assert r.json()["items"] == [] and r.json()["total"] == 0
    for hidden in (other_alert, unscoped_alert):
        assert_error(await viewer.get(f"{ALERTS}/{hidden}"), 404, "not_found")
    r = await viewer.get(f"{DELIVERIES}?webhook_id={hook['id']}")
    assert [d["id"] for d in r.json()["items"]] == [own]
    for hidden in (other, test):
        assert_error(await viewer.get(f"{DELIVERIES}/{hidden}"), 404, "not_found")
        assert_error(await editor.post(f"{DELIVERIES}/{hidden}/retry"), 404, "not_found")
    assert (await editor.post(f"{DELIVERIES}/{own}/retry")).status_code == 200
    # an unrestricted viewer sees all three
    r = await as_role[Role.VIEWER].get(f"{DELIVERIES}?webhook_id={hook['id']}")
    assert {d["id"] for d in r.json()["items"]} == {own, other, test}
