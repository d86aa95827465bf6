"""The reactions admin API over real HTTP against the real PostgreSQL: create, read, change
and delete rules, detectors and webhooks; users limited to some apps; trying a rule on a
sample event. Guards and bad input of every endpoint are in ``test_reactions_admin_api.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from causality.auth.roles import Role
from tests.auth_helpers import LoggedIn, UserClient, assert_error
from tests.conftest import AppWithKeyFactory
from tests.integration.reactions_support import (
    DETECTORS,
    RULES,
    WEBHOOKS,
    detector_body,
    rule_body,
    webhook_body,
)

pytest_plugins = ["tests.integration.auth_fixtures"]
pytestmark = [pytest.mark.integration]


@pytest.fixture
async def app_id(make_app_with_key: AppWithKeyFactory) -> str:
    return (await make_app_with_key())[0]


async def _create(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


# -- rules ----------------------------------------------------------------------------------


async def test_rule_round_trip(as_role: dict[Role, UserClient], app_id: str) -> None:
    editor, viewer = as_role[Role.EDITOR], as_role[Role.VIEWER]
    hook = await _create(editor, WEBHOOKS, webhook_body())
    body = rule_body(
        app_id=app_id,
        description="checkout on iOS",
        webhook_ids=[hook["id"], hook["id"]],
        publish_alert=True,
    )
    rule = await _create(editor, RULES, body)
    assert rule["app_id"] == app_id and rule["condition"] == body["condition"]
    assert rule["webhook_ids"] == [hook["id"]] and rule["publish_alert"] is True
    assert rule["created_by"] == editor.user.id and rule["enabled"] is True
    path = f"{RULES}/{rule['id']}"
    assert (await viewer.get(path)).json() == rule
    listing = (await viewer.get(f"{RULES}?limit=200")).json()
    assert rule["id"] in {r["id"] for r in listing["items"]} and listing["total"] >= 1

    r = await editor.patch(path, json={"enabled": False})
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["enabled"] is False
    assert {k: v for k, v in patched.items() if k not in ("enabled", "updated_at")} == {
        k: v for k, v in rule.items() if k not in ("enabled", "updated_at")
    }
    r = await editor.patch(path, json={"condition": None, "webhook_ids": []})
    assert r.json()["condition"] is None and r.json()["webhook_ids"] == []

    replacement = rule_body(name="replaced", event_category="commerce", event_type=None)
    r = await editor.put(path, json=replacement)
    assert r.status_code == 200, r.text
    replaced = r.json()
    # PUT replaces every field: what the body leaves out takes its default
    assert replaced["name"] == "replaced" and replaced["app_id"] is None
    assert replaced["event_category"] == "commerce" and replaced["event_type"] is None
    assert replaced["description"] == "" and replaced["enabled"] is True

    assert (await editor.delete(path)).status_code == 204
    assert_error(await viewer.get(path), 404, "not_found")
    assert_error(await editor.delete(path), 404, "not_found")


async def test_rule_patch_validates_the_merged_rule(as_role: dict[Role, UserClient]) -> None:
    editor = as_role[Role.EDITOR]
    rule = await _create(editor, RULES, rule_body(event_category="screen"))
    path = f"{RULES}/{rule['id']}"
    # screen_view is a screen event; a patch to another category must not leave them at odds
    assert_error(await editor.patch(path, json={"event_category": "user"}), 422, "invalid_field")
    r = await editor.patch(path, json={"condition": {"field": "x", "op": "eq", "value": 1}})
    assert_error(r, 422, "invalid_condition", "condition.field")
    assert_error(await editor.patch(path, json={"priority": -1001}), 422, "invalid_field")
    assert (await editor.get(path)).json() == rule


async def test_rules_are_listed_by_priority_with_paging(
    as_role: dict[Role, UserClient], app_id: str
) -> None:
    editor = as_role[Role.EDITOR]
    for priority in (5, -3, 900):
        await _create(editor, RULES, rule_body(app_id=app_id, priority=priority))
    first = (await editor.get(f"{RULES}?limit=2")).json()
    second = (await editor.get(f"{RULES}?limit=2&offset=2")).json()
    assert first["limit"] == 2 and first["offset"] == 0 and len(first["items"]) == 2
    assert first["total"] == second["total"] >= 3
    priorities = [r["priority"] for r in first["items"] + second["items"]]
    assert priorities == sorted(priorities, reverse=True)
    assert not {r["id"] for r in first["items"]} & {r["id"] for r in second["items"]}


# -- detectors ------------------------------------------------------------------------------


async def test_detector_round_trip(as_role: dict[Role, UserClient], app_id: str) -> None:
    editor, viewer = as_role[Role.EDITOR], as_role[Role.VIEWER]
    hook = await _create(editor, WEBHOOKS, webhook_body())
    body = detector_body(
        app_id=app_id,
        kind="baseline",
        event_type="purchase_complete",
        params={"k": 4},
        webhook_ids=[hook["id"]],
    )
    found = await _create(editor, DETECTORS, body)
    # parameters are stored normalized, defaults filled in
    assert found["params"]["k"] == 4.0 and found["params"]["direction"] == "both"
    assert found["kind"] == "baseline" and found["webhook_ids"] == [hook["id"]]
    path = f"{DETECTORS}/{found['id']}"
    assert (await viewer.get(path)).json() == found
    assert found["id"] in {d["id"] for d in (await viewer.get(DETECTORS)).json()["items"]}

    r = await editor.patch(path, json={"enabled": False, "cooldown_s": 0})
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["cooldown_s"] == 0
    # changing the kind re-validates the parameters for the new kind
    r = await editor.patch(path, json={"kind": "rate"})
    assert assert_error(r, 422, "invalid_detector")["field"].startswith("params.")
    r = await editor.patch(path, json={"kind": "rate", "params": {"max_per_minute": 30}})
    assert r.status_code == 200 and r.json()["params"] == {"max_per_minute": 30}
    r = await editor.put(path, json=detector_body(name="again"))
    assert r.status_code == 200 and r.json()["kind"] == "count" and r.json()["webhook_ids"] == []
    assert (await editor.delete(path)).status_code == 204
    assert_error(await viewer.get(path), 404, "not_found")


async def test_changing_what_a_detector_counts_resets_its_state(
    as_role: dict[Role, UserClient], pg_pool: asyncpg.Pool
) -> None:
    editor = as_role[Role.EDITOR]
    found = await _create(editor, DETECTORS, detector_body())
    key = uuid.UUID(found["id"])

    async def seed() -> None:
        await pg_pool.execute(
            "INSERT INTO anomaly_counts (detector_id, bucket, count) VALUES ($1, 60, 7) "
            "ON CONFLICT DO NOTHING",
            key,
        )
        await pg_pool.execute(
            "INSERT INTO anomaly_state (detector_id, mean) VALUES ($1, 3) ON CONFLICT DO NOTHING",
            key,
        )

    async def rows() -> int:
        return int(
            await pg_pool.fetchval(
                "SELECT (SELECT count(*) FROM anomaly_counts WHERE detector_id = $1) "
                "+ (SELECT count(*) FROM anomaly_state WHERE detector_id = $1)",
                key,
            )
        )

    await seed()
    path = f"{DETECTORS}/{found['id']}"
    assert (await editor.patch(path, json={"name": "renamed", "cooldown_s": 5})).status_code == 200
    assert await rows() == 2  # same series: what it learned stays
    r = await editor.patch(path, json={"condition": {"field": "user_id", "op": "exists"}})
    assert r.status_code == 200
    assert await rows() == 0


# -- webhooks -------------------------------------------------------------------------------


async def test_webhook_round_trip_never_shows_the_secret(
    as_role: dict[Role, UserClient], pg_pool: asyncpg.Pool
) -> None:
    editor, viewer = as_role[Role.EDITOR], as_role[Role.VIEWER]
    secret = "s3cret-token-" + uuid.uuid4().hex
    body = webhook_body(
        auth_type="bearer",
        auth_secret=secret,
        headers={"X-Team": "growth"},
        max_attempts=3,
        timeout_s=2.5,
    )
    r = await editor.post(WEBHOOKS, json=body)
    assert r.status_code == 201 and secret not in r.text
    hook = r.json()
    assert hook["has_secret"] is True and "auth_secret" not in hook
    assert hook["headers"] == {"X-Team": "growth"} and hook["max_attempts"] == 3
    assert hook["timeout_s"] == 2.5 and hook["auth_type"] == "bearer"
    path = f"{WEBHOOKS}/{hook['id']}"
    for r in (await viewer.get(path), await viewer.get(f"{WEBHOOKS}?limit=200")):
        assert r.status_code == 200 and secret not in r.text

    async def stored_secret() -> str | None:
        value = await pg_pool.fetchval(
            "SELECT auth_secret FROM webhooks WHERE id = $1", uuid.UUID(hook["id"])
        )
        return None if value is None else str(value)

    # a patch or a replace that does not mention the secret keeps it
    r = await editor.patch(path, json={"name": "renamed", "enabled": False})
    assert r.json()["has_secret"] is True and r.json()["enabled"] is False
    r = await editor.put(path, json=webhook_body(name="put", auth_type="bearer"))
    assert r.status_code == 200, r.text
    assert r.json()["has_secret"] is True and r.json()["max_attempts"] == 8
    assert await stored_secret() == secret
    rotated = "rotated-" + uuid.uuid4().hex
    r = await editor.patch(path, json={"auth_secret": rotated})
    assert r.status_code == 200 and rotated not in r.text
    assert await stored_secret() == rotated
    # no auth: the secret goes
    r = await editor.patch(path, json={"auth_type": "none"})
    assert r.json()["has_secret"] is False and await stored_secret() is None
    r = await editor.patch(path, json={"auth_type": "hmac"})
    assert_error(r, 422, "invalid_field", "auth_secret")
    assert (await editor.delete(path)).status_code == 204
    assert_error(await editor.get(path), 404, "not_found")


async def test_a_webhook_in_use_cannot_be_deleted(as_role: dict[Role, UserClient]) -> None:
    editor = as_role[Role.EDITOR]
    hook = await _create(editor, WEBHOOKS, webhook_body())
    rule = await _create(editor, RULES, rule_body(name="pager rule", webhook_ids=[hook["id"]]))
    det = await _create(editor, DETECTORS, detector_body(name="crashes", webhook_ids=[hook["id"]]))
    path = f"{WEBHOOKS}/{hook['id']}"
    error = assert_error(await editor.delete(path), 409, "webhook_in_use")
    assert "pager rule" in error["message"] and rule["id"] in error["message"]
    assert "crashes" in error["message"] and det["id"] in error["message"]
    assert (await editor.patch(f"{RULES}/{rule['id']}", json={"webhook_ids": []})).is_success
    error = assert_error(await editor.delete(path), 409, "webhook_in_use")
    assert "pager rule" not in error["message"] and "crashes" in error["message"]
    assert (await editor.delete(f"{DETECTORS}/{det['id']}")).status_code == 204
    assert (await editor.delete(path)).status_code == 204


# -- users limited to some apps -------------------------------------------------------------


async def test_app_restricted_editors_manage_only_their_apps(
    logged_in: LoggedIn, as_role: dict[Role, UserClient], make_app_with_key: AppWithKeyFactory
) -> None:
    mine, theirs = (await make_app_with_key())[0], (await make_app_with_key())[0]
    editor = await logged_in(Role.EDITOR, app_ids=[mine])
    admin = as_role[Role.ADMIN]
    for path, body in ((RULES, rule_body), (DETECTORS, detector_body)):
        assert_error(await editor.post(path, json=body()), 403, "forbidden", "app_id")
        r = await editor.post(path, json=body(app_id=theirs))
        assert_error(r, 403, "forbidden", "app_id")
        own = await _create(editor, path, body(app_id=mine))
        other = await _create(admin, path, body(app_id=theirs))
        unscoped = await _create(admin, path, body())
        listed = {x["id"] for x in (await editor.get(f"{path}?limit=200")).json()["items"]}
        assert own["id"] in listed and not {other["id"], unscoped["id"]} & listed
        for hidden in (other, unscoped):
            assert_error(await editor.get(f"{path}/{hidden['id']}"), 404, "not_found")
            r = await editor.patch(f"{path}/{hidden['id']}", json={"enabled": False})
            assert_error(r, 404, "not_found")
            r = await editor.put(f"{path}/{hidden['id']}", json=body(app_id=mine))
            assert_error(r, 404, "not_found")
            assert_error(await editor.delete(f"{path}/{hidden['id']}"), 404, "not_found")
        r = await editor.patch(f"{path}/{own['id']}", json={"app_id": theirs})
        assert_error(r, 403, "forbidden", "app_id")
        r = await editor.patch(f"{path}/{own['id']}", json={"app_id": None})
        assert_error(r, 403, "forbidden", "app_id")
        assert (await editor.delete(f"{path}/{own['id']}")).status_code == 204
    # webhooks are team-wide
    hook = await _create(editor, WEBHOOKS, webhook_body())
    assert (await admin.get(f"{WEBHOOKS}/{hook['id']}")).status_code == 200


# -- trying a rule on a sample event --------------------------------------------------------


def _sample(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "screen_view",
        "device_id": "device-1",
        "user_id": "user-7",
        "device_context": {"platform": "ios", "os_version": "17.2"},
        "properties": {"screen_name": "checkout"},
    }
    event.update(overrides)
    return event


async def test_rule_test_shows_which_conditions_matched(
    as_role: dict[Role, UserClient], app_id: str, pg_pool: asyncpg.Pool
) -> None:
    editor = as_role[Role.EDITOR]
    hook = await _create(editor, WEBHOOKS, webhook_body())
    rule = await _create(
        editor, RULES, rule_body(app_id=app_id, webhook_ids=[hook["id"]], publish_alert=True)
    )
    path = f"{RULES}/{rule['id']}/test"
    r = await editor.post(path, json={"event": _sample()})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["matched"] is True and result["scope_matched"] is True
    trace = result["condition"]
    assert trace["op"] == "all" and trace["matched"] is True
    assert [c["matched"] for c in trace["children"]] == [True, True]
    assert trace["children"][0] == {
        "field": "properties.screen_name",
        "op": "eq",
        "value": "checkout",
        "actual": "checkout",
        "matched": True,
    }
    actions = result["actions"]
    assert actions["webhook_ids"] == [hook["id"]] and actions["publish_alert"] is True
    assert actions["subject"] == f"alerts.{app_id}.{rule['id']}"
    assert result["event"]["app_id"] == app_id and result["event"]["event_category"] == "screen"

    android = _sample(device_context={"platform": "android"})
    result = (await editor.post(path, json={"event": android})).json()
    assert result["matched"] is False and result["scope_matched"] is True
    platform = result["condition"]["children"][1]
    assert platform["matched"] is False and platform["actual"] == "android"
    missing = _sample(properties={"screen_name": "home"}, device_context=None)
    result = (await editor.post(path, json={"event": missing})).json()
    assert result["condition"]["children"][1]["missing"] is True and result["matched"] is False
    # out of scope: another type, or another app than the rule's
    login = {"type": "login", "device_id": "d", "properties": {"method": "email"}}
    result = (await editor.post(path, json={"event": login})).json()
    assert result["scope_matched"] is False and result["matched"] is False
    other_app = {"event": _sample(), "app_id": "some-other-app"}
    result = (await editor.post(path, json=other_app)).json()
    assert result["scope_matched"] is False and result["condition"]["matched"] is True

    # nothing fired: no alert, no delivery
    fired = await pg_pool.fetchval(
        "SELECT count(*) FROM alerts WHERE rule_id = $1", uuid.UUID(rule["id"])
    )
    sent = await pg_pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE webhook_id = $1", uuid.UUID(hook["id"])
    )
    assert fired == 0 and sent == 0


async def test_rule_test_without_a_condition_or_app(
    as_role: dict[Role, UserClient], app_id: str
) -> None:
    editor = as_role[Role.EDITOR]
    rule = await _create(editor, RULES, rule_body(condition=None, event_type=None))
    path = f"{RULES}/{rule['id']}/test"
    r = await editor.post(path, json={"event": _sample()})
    assert_error(r, 422, "invalid_field", "app_id")
    r = await editor.post(path, json={"event": _sample(), "app_id": app_id})
    result = r.json()
    assert result["matched"] is True and result["condition"] == {"op": "always", "matched": True}
    assert result["actions"]["subject"] is None and result["event"]["app_id"] == app_id


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (_sample(type="purchase"), "event.type"),
        (_sample(device_id=""), "event.device_id"),
        (_sample(properties={"screen_name": 5}), "event.properties.screen_name"),
        (_sample(device_context={"platform": "ios", "cpu": "arm"}), "event.device_context.cpu"),
        (_sample(extra=1), "event.extra"),
        (_sample(type="custom", properties={}), "event.properties.event_name"),
        (_sample(app_id="not-this-app"), "event.app_id"),
        ({"device_id": "d"}, "event.type"),
        ([1, 2], "event"),
        ("an event", "event"),
    ],
)
async def test_rule_test_refuses_bad_events(
    as_role: dict[Role, UserClient], app_id: str, event: Any, field: str
) -> None:
    editor = as_role[Role.EDITOR]
    rule = await _create(editor, RULES, rule_body(app_id=app_id))
    r = await editor.post(f"{RULES}/{rule['id']}/test", json={"event": event})
    error = assert_error(r, 422, "invalid_event", field)
    assert error["message"].startswith(field)
    r = await editor.post(f"{RULES}/{rule['id']}/test", json={"app_id": app_id})
    assert_error(r, 422, "invalid_field", "event")


async def test_rule_test_respects_app_limits(
    logged_in: LoggedIn, as_role: dict[Role, UserClient], make_app_with_key: AppWithKeyFactory
) -> None:
    mine, theirs = (await make_app_with_key())[0], (await make_app_with_key())[0]
    editor = await logged_in(Role.EDITOR, app_ids=[mine])
    own = await _create(editor, RULES, rule_body(app_id=mine))
    r = await editor.post(f"{RULES}/{own['id']}/test", json={"event": _sample(), "app_id": theirs})
    assert_error(r, 403, "forbidden", "app_id")
    other = await _create(as_role[Role.ADMIN], RULES, rule_body(app_id=theirs))
    r = await editor.post(f"{RULES}/{other['id']}/test", json={"event": _sample()})
    assert_error(r, 404, "not_found")
