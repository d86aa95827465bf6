"""The reactions admin API (rules, anomaly detectors, webhooks, alert and delivery history)
over real HTTP against the real PostgreSQL: every endpoint's guards and bad input. Round trips
are in ``test_reactions_crud_api.py``.

This module runs with the default egress policy (no allowlist), so loopback and private
webhook targets must be refused; tests against a live receiver are in
``test_reactions_webhooks_api.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from causality.auth.roles import Role
from causality.config import Settings
from causality.gateway import reaction_routes, webhook_routes
from causality.gateway.app import build_gateway_app
from tests.auth_helpers import LoggedIn, UserClient, assert_error
from tests.integration.reactions_support import (
    ALERTS,
    DELIVERIES,
    DETECTORS,
    RULES,
    WEBHOOKS,
    detector_body,
    rule_body,
    webhook_body,
)

pytest_plugins = ["tests.integration.auth_fixtures"]
pytestmark = [pytest.mark.integration]

Body = Callable[[], Any] | None
_ID = str(uuid.uuid4())  # names nothing: an authorized caller gets 404

# (method, path, body builder, what an editor gets) for every endpoint of this feature
ENDPOINTS: list[tuple[str, str, Body, int]] = [
    ("GET", RULES, None, 200),
    ("POST", RULES, rule_body, 201),
    ("GET", f"{RULES}/{_ID}", None, 404),
    ("PUT", f"{RULES}/{_ID}", rule_body, 404),
    ("PATCH", f"{RULES}/{_ID}", lambda: {"enabled": False}, 404),
    ("DELETE", f"{RULES}/{_ID}", None, 404),
    ("POST", f"{RULES}/{_ID}/test", lambda: {"event": {"type": "login"}}, 404),
    ("GET", DETECTORS, None, 200),
    ("POST", DETECTORS, detector_body, 201),
    ("GET", f"{DETECTORS}/{_ID}", None, 404),
    ("PUT", f"{DETECTORS}/{_ID}", detector_body, 404),
    ("PATCH", f"{DETECTORS}/{_ID}", lambda: {"enabled": False}, 404),
    ("DELETE", f"{DETECTORS}/{_ID}", None, 404),
    ("GET", WEBHOOKS, None, 200),
    ("POST", WEBHOOKS, webhook_body, 201),
    ("GET", f"{WEBHOOKS}/{_ID}", None, 404),
    ("PUT", f"{WEBHOOKS}/{_ID}", webhook_body, 404),
    ("PATCH", f"{WEBHOOKS}/{_ID}", lambda: {"enabled": False}, 404),
    ("DELETE", f"{WEBHOOKS}/{_ID}", None, 404),
    ("POST", f"{WEBHOOKS}/{_ID}/test", None, 404),
    ("GET", ALERTS, None, 200),
    ("GET", f"{ALERTS}/{_ID}", None, 404),
    ("GET", DELIVERIES, None, 200),
    ("GET", f"{DELIVERIES}/{_ID}", None, 404),
    ("POST", f"{DELIVERIES}/{_ID}/retry", None, 404),
]
WRITES = [e for e in ENDPOINTS if e[0] != "GET"]
READS = [e for e in ENDPOINTS if e[0] == "GET"]
WITH_BODY = [e for e in ENDPOINTS if e[2] is not None]


async def call(
    client: httpx.AsyncClient, method: str, path: str, body: Body, **kw: Any
) -> httpx.Response:
    return await client.request(method, path, json=None if body is None else body(), **kw)


def _template(path: str) -> str:
    return "/".join("{}" if "{" in part or _is_uuid(part) else part for part in path.split("/"))


def _is_uuid(part: str) -> bool:
    try:
        uuid.UUID(part)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def auth_settings(base_settings: Settings) -> Settings:
    """No egress allowlist (whatever the session's default), so loopback targets are refused;
    a high login limit as in ``auth_fixtures``."""
    return base_settings.replace(login_max_failures_per_ip=100_000, webhook_allowed_networks=())


async def _create(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


# -- every endpoint is guarded --------------------------------------------------------------


def test_matrix_covers_every_reaction_route(auth_settings: Settings) -> None:
    """A new route of these modules must be added to ENDPOINTS above."""
    mine = {
        (method, _template(route.path))
        for route in [*reaction_routes.routes(), *webhook_routes.routes()]
        for method in route.methods or ()
        if method != "HEAD"
    }
    served = {
        (method, _template(route.path))
        for route in build_gateway_app(auth_settings).routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert mine <= served
    assert {(m, _template(p)) for m, p, _, _ in ENDPOINTS} == mine


@pytest.mark.parametrize(("method", "path", "body", "_"), ENDPOINTS)
async def test_endpoints_need_a_login(
    anon: httpx.AsyncClient, method: str, path: str, body: Body, _: int
) -> None:
    assert_error(await call(anon, method, path, body), 401, "not_authenticated")
    # garbage bodies are not even read before authentication
    r = await anon.request(method, path, content=b"{", headers={"content-type": "application/json"})
    assert_error(r, 401, "not_authenticated")


@pytest.mark.parametrize(("method", "path", "body", "_"), WRITES)
async def test_viewers_cannot_write(
    as_role: dict[Role, UserClient], method: str, path: str, body: Body, _: int
) -> None:
    error = assert_error(await call(as_role[Role.VIEWER], method, path, body), 403, "forbidden")
    assert "editor" in error["message"]


@pytest.mark.parametrize(("method", "path", "body", "expected"), ENDPOINTS)
async def test_endpoints_serve_editors_and_admins(
    as_role: dict[Role, UserClient], method: str, path: str, body: Body, expected: int
) -> None:
    for role in (Role.EDITOR, Role.ADMIN):
        r = await call(as_role[role], method, path, body)
        assert r.status_code == expected, (role, r.text)
        if expected == 404:
            assert_error(r, 404, "not_found")


@pytest.mark.parametrize(("method", "path", "body", "expected"), READS)
async def test_viewers_read(
    as_role: dict[Role, UserClient], method: str, path: str, body: Body, expected: int
) -> None:
    r = await call(as_role[Role.VIEWER], method, path, body)
    assert r.status_code == expected, r.text


@pytest.mark.parametrize(("method", "path", "body", "_"), WRITES)
async def test_cookie_writes_need_csrf(
    as_role: dict[Role, UserClient], method: str, path: str, body: Body, _: int
) -> None:
    r = await call(as_role[Role.EDITOR], method, path, body, headers={"X-CSRF-Token": "x"})
    assert_error(r, 403, "csrf_failed", "X-CSRF-Token")


async def test_api_tokens(logged_in: LoggedIn, anon: httpx.AsyncClient) -> None:
    admin = await logged_in(Role.ADMIN)
    secrets: dict[Role, str] = {}
    for role in (Role.VIEWER, Role.EDITOR):
        r = await admin.post("/api/v1/auth/tokens", json={"name": role.value, "role": role.value})
        assert r.status_code == 201, r.text
        secrets[role] = r.json()["secret"]
    for method, path, body, expected in ENDPOINTS:
        for role, secret in secrets.items():
            headers = {"Authorization": f"Bearer {secret}"}  # no CSRF header needed
            r = await call(anon, method, path, body, headers=headers)
            want = 403 if role == Role.VIEWER and method != "GET" else expected
            assert r.status_code == want, (method, path, role, r.text)


# -- bad bodies -----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body", "_"), WITH_BODY)
async def test_bad_bodies(
    as_role: dict[Role, UserClient], method: str, path: str, body: Body, _: int
) -> None:
    editor = as_role[Role.EDITOR]
    json_type = {"content-type": "application/json"}
    r = await editor.request(method, path, content=b"{,}", headers=json_type)
    assert_error(r, 400, "malformed_json", "body")
    r = await editor.request(
        method, path, content=b"name=x", headers={"content-type": "text/plain"}
    )
    assert_error(r, 415, "unsupported_media_type", "Content-Type")
    huge = b'{"name": "' + b"x" * (70 * 1024) + b'"}'
    r = await editor.request(method, path, content=huge, headers=json_type)
    assert_error(r, 413, "body_too_large", "body")
    assert body is not None
    r = await editor.request(method, path, json={**body(), "surprise": 1})
    assert_error(r, 422, "invalid_field", "surprise")
    if "/webhooks" not in path:  # only these bodies hold free-form JSON (condition, event)
        # nested too deeply to decode, yet under the size limit: a 400, not a crash
        key = b"event" if path.endswith("/test") else b"condition"
        deep = b'{"' + key + b'": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
        r = await editor.request(method, path, content=deep, headers=json_type)
        assert_error(r, 400, "malformed_json", "body")


@pytest.mark.parametrize(
    ("condition", "field", "words"),
    [
        ({"field": "user_id", "op": "like", "value": "x"}, "condition.op", "unknown operator"),
        ({"field": "user_id", "op": "regex", "value": "("}, "condition.value", "regular expr"),
        ({"field": "user_id", "op": "regex", "value": r"(a)\1"}, "condition.value", "regular"),
        ({"field": "nope", "op": "eq", "value": 1}, "condition.field", "unknown field"),
        ({"field": "properties.", "op": "exists"}, "condition.field", ""),
        ({"field": "timestamp_ms", "op": "gt", "value": "abc"}, "condition.value", "number"),
        ({"field": "user_id", "op": "eq", "value": 1}, "condition.value", "type mismatch"),
        (
            {"any": [{"field": "user_id", "op": "exists"}, {"field": "x", "op": "bogus"}]},
            "condition.any[1]",
            "",
        ),
        ({"all": []}, "condition.all", ""),
        ("user_id = 1", "condition", "must be an object"),
    ],
)
async def test_invalid_conditions_name_the_node(
    as_role: dict[Role, UserClient], condition: Any, field: str, words: str
) -> None:
    editor = as_role[Role.EDITOR]
    for path, body in ((RULES, rule_body), (DETECTORS, detector_body)):
        r = await editor.post(path, json=body(condition=condition))
        error = assert_error(r, 422, "invalid_condition")
        assert error["field"].startswith(field), error
        assert words in error["message"], error


async def test_deep_conditions_are_refused(as_role: dict[Role, UserClient]) -> None:
    node: Any = {"field": "user_id", "op": "exists"}
    for _ in range(12):
        node = {"not": node}
    r = await as_role[Role.EDITOR].post(RULES, json=rule_body(condition=node))
    assert_error(r, 422, "invalid_condition")
    wide = {"any": [{"field": "user_id", "op": "eq", "value": str(i)} for i in range(300)]}
    r = await as_role[Role.EDITOR].post(RULES, json=rule_body(condition=wide))
    assert_error(r, 422, "invalid_condition")


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"name": ""}, "name", "invalid_field"),
        ({"priority": 1001}, "priority", "invalid_field"),
        ({"priority": "high"}, "priority", "invalid_field"),
        ({"event_category": "sales"}, "event_category", "invalid_field"),
        ({"event_type": "purchase"}, "event_type", "invalid_field"),
        ({"event_category": "user", "event_type": "screen_view"}, "event_type", "invalid_field"),
        ({"app_id": "Not An App!"}, "app_id", "invalid_field"),
        ({"app_id": "no-such-app-here"}, "app_id", "app_not_found"),
        ({"webhook_ids": ["not-a-uuid"]}, "webhook_ids[0]", "invalid_field"),
        ({"webhook_ids": [str(uuid.uuid4())]}, "webhook_ids", "unknown_webhook"),
        ({"webhook_ids": [str(uuid.uuid4()) for _ in range(21)]}, "webhook_ids", "invalid_field"),
        ({"enabled": "yes"}, "enabled", "invalid_field"),
    ],
)
async def test_invalid_rules(
    as_role: dict[Role, UserClient], overrides: dict[str, Any], field: str, code: str
) -> None:
    r = await as_role[Role.EDITOR].post(RULES, json=rule_body(**overrides))
    assert_error(r, 422, code, field)


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"kind": "spike"}, "kind", "invalid_field"),
        ({"params": {}}, "params.max_count", "invalid_detector"),
        ({"params": {"max_count": 5, "window_s": 60, "x": 1}}, "params.x", "invalid_detector"),
        ({"params": {"max_count": -1, "window_s": 60}}, "params.max_count", "invalid_detector"),
        ({"kind": "threshold", "params": {"field": "user_id", "max": 3}}, "params.field", ""),
        ({"kind": "baseline", "params": {"alpha": 2}}, "params.alpha", "invalid_detector"),
        ({"cooldown_s": -1}, "cooldown_s", "invalid_field"),
        ({"cooldown_s": 8 * 86_400}, "cooldown_s", "invalid_field"),
        ({"app_id": "no-such-app-here"}, "app_id", "app_not_found"),
        ({"webhook_ids": [str(uuid.uuid4())]}, "webhook_ids", "unknown_webhook"),
    ],
)
async def test_invalid_detectors(
    as_role: dict[Role, UserClient], overrides: dict[str, Any], field: str, code: str
) -> None:
    r = await as_role[Role.EDITOR].post(DETECTORS, json=detector_body(**overrides))
    error = assert_error(r, 422, code or "invalid_detector", field)
    assert error["message"].startswith(field)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.0.0.1:8080/",
        "http://localhost/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://0.0.0.0/",
        "ftp://93.184.215.14/",
        "http://user:pw@93.184.215.14/",
        "not a url",
    ],
)
async def test_ssrf_targets_are_refused(as_role: dict[Role, UserClient], url: str) -> None:
    editor = as_role[Role.EDITOR]
    r = await editor.post(WEBHOOKS, json=webhook_body(url=url))
    assert_error(r, 422, "egress_refused", "url")
    created = await _create(editor, WEBHOOKS, webhook_body())
    for method in ("PUT", "PATCH"):
        body = webhook_body(url=url) if method == "PUT" else {"url": url}
        r = await editor.request(method, f"{WEBHOOKS}/{created['id']}", json=body)
        assert_error(r, 422, "egress_refused", "url")
    assert (await editor.get(f"{WEBHOOKS}/{created['id']}")).json()["url"] == created["url"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"auth_type": "bearer"}, "auth_secret"),
        ({"auth_type": "hmac", "auth_secret": "too-short"}, "auth_secret"),
        ({"auth_type": "basic", "auth_secret": "pw"}, "auth_username"),
        ({"auth_type": "basic", "auth_username": "a:b", "auth_secret": "pw"}, "auth_username"),
        ({"auth_type": "bearer", "auth_secret": "a b"}, "auth_secret"),
        ({"auth_type": "bearer", "auth_secret": "tok\r\nX-Evil: 1"}, "auth_secret"),
        ({"auth_secret": "a secret for nothing"}, "auth_secret"),
        ({"auth_type": "bearer", "auth_secret": "t", "auth_username": "u"}, "auth_username"),
        ({"auth_type": "oauth"}, "auth_type"),
        ({"headers": {"Authorization": "Bearer x"}}, "headers.Authorization"),
        ({"headers": {"content-type": "text/plain"}}, "headers.content-type"),
        ({"headers": {"Host": "evil"}}, "headers.Host"),
        ({"headers": {"X-Causality-Delivery": "1"}}, "headers.X-Causality-Delivery"),
        ({"headers": {"bad name": "1"}}, "headers.bad name"),
        ({"headers": {"X-Ok": "a\r\nX-Evil: 1"}}, "headers.X-Ok"),
        ({"headers": {"X-A": "1", "x-a": "2"}}, "headers.x-a"),
        ({"headers": {f"X-H{i}": "v" for i in range(21)}}, "headers"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 51}, "max_attempts"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": 61}, "timeout_s"),
        ({"url": ""}, "url"),
    ],
)
async def test_invalid_webhooks(
    as_role: dict[Role, UserClient], overrides: dict[str, Any], field: str
) -> None:
    r = await as_role[Role.EDITOR].post(WEBHOOKS, json=webhook_body(**overrides))
    error = assert_error(r, 422, "invalid_field", field)
    assert field in error["message"]


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        (ALERTS, "source=email", "source"),
        (ALERTS, "rule_id=abc", "rule_id"),
        (ALERTS, "detector_id=abc", "detector_id"),
        (DELIVERIES, "status=lost", "status"),
        (DELIVERIES, "kind=other", "kind"),
        (DELIVERIES, "webhook_id=1", "webhook_id"),
        (DELIVERIES, "alert_id=1", "alert_id"),
        (RULES, "limit=0", "limit"),
        (DETECTORS, "limit=201", "limit"),
        (WEBHOOKS, "offset=-1", "offset"),
        (ALERTS, "limit=x", "limit"),
    ],
)
async def test_bad_query_parameters(
    as_role: dict[Role, UserClient], path: str, query: str, field: str
) -> None:
    r = await as_role[Role.VIEWER].get(f"{path}?{query}")
    assert_error(r, 400, "invalid_parameter", field)


async def test_malformed_ids_are_not_found(as_role: dict[Role, UserClient]) -> None:
    editor = as_role[Role.EDITOR]
    for path in (RULES, DETECTORS, WEBHOOKS, ALERTS, DELIVERIES):
        assert_error(await editor.get(f"{path}/not-a-uuid"), 404, "not_found")
    assert_error(await editor.delete(f"{RULES}/1"), 404, "not_found")
