"""The admin API (users, apps, ingestion keys) and the role check on every account and admin
endpoint, over real HTTP against the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.routing import Route

from causality.auth.roles import Role
from causality.config import Settings
from causality.gateway import reaction_routes, webhook_routes
from causality.gateway.app import build_gateway_app
from tests.auth_helpers import (
    LOGIN,
    ME,
    PASSWORD,
    LoggedIn,
    UserClient,
    assert_error,
    login_client,
    unique_email,
)
from tests.conftest import AppWithKeyFactory
from tests.helpers import envelope

pytest_plugins = ["tests.integration.auth_fixtures"]
pytestmark = [pytest.mark.integration]

ADMIN = "/api/v1/admin"
Body = Callable[[], Any] | None

# (method, path, body builder, what an admin gets) for every admin endpoint; {app} is a real
# app, ids in paths are random (an admin gets 404, everyone else must not get that far)
ADMIN_ENDPOINTS: list[tuple[str, str, Body, int]] = [
    ("GET", f"{ADMIN}/users", None, 200),
    ("POST", f"{ADMIN}/users", lambda: {"email": unique_email("matrix")}, 201),
    ("PATCH", f"{ADMIN}/users/{uuid.uuid4()}", lambda: {"disabled": False}, 404),
    ("DELETE", f"{ADMIN}/users/{uuid.uuid4()}", None, 404),
    ("GET", f"{ADMIN}/apps", None, 200),
    ("POST", f"{ADMIN}/apps", lambda: {"name": "matrix app"}, 201),
    ("GET", f"{ADMIN}/apps/{{app}}/keys", None, 200),
    ("POST", f"{ADMIN}/apps/{{app}}/keys", lambda: {"name": "matrix"}, 201),
    ("DELETE", f"{ADMIN}/keys/{uuid.uuid4()}", None, 404),
]
# endpoints every role may use (but nobody anonymous)
SELF_ENDPOINTS: list[tuple[str, str, Body]] = [
    ("GET", "/api/v1/auth/me", None),
    ("POST", "/api/v1/auth/logout", None),
    ("GET", "/api/v1/auth/tokens", None),
    ("POST", "/api/v1/auth/tokens", lambda: {"name": "matrix"}),
    ("DELETE", f"/api/v1/auth/tokens/{uuid.uuid4()}", None),
]


def _template(path: str) -> str:
    return "/".join("{}" if "{" in part or _is_uuid(part) else part for part in path.split("/"))


def _is_uuid(part: str) -> bool:
    try:
        uuid.UUID(part)
    except ValueError:
        return False
    return True


async def call(
    client: httpx.AsyncClient, method: str, path: str, body: Body, app_id: str, **kw: Any
) -> httpx.Response:
    return await client.request(
        method, path.replace("{app}", app_id), json=None if body is None else body(), **kw
    )


@pytest.fixture
async def app_id(make_app_with_key: AppWithKeyFactory) -> str:
    return (await make_app_with_key())[0]


# -- every endpoint is guarded ---------------------------------------------------------------


def test_matrix_covers_every_account_and_admin_route(auth_settings: Settings) -> None:
    """A new /api/v1/admin or /api/v1/auth route must be added to the matrices above (the
    reaction routes have their own matrix in test_reactions_admin_api.py)."""
    reactions = {
        (method, _template(route.path))
        for route in [*reaction_routes.routes(), *webhook_routes.routes()]
        for method in route.methods or ()
        if method != "HEAD"
    }
    served = {
        (method, _template(route.path))
        for route in build_gateway_app(auth_settings).routes
        if isinstance(route, Route) and route.path.startswith(("/api/v1/admin", "/api/v1/auth"))
        for method in route.methods or ()
        if method != "HEAD"
    }
    listed = {(m, _template(p)) for m, p, _, _ in ADMIN_ENDPOINTS}
    listed |= {(m, _template(p)) for m, p, _ in SELF_ENDPOINTS}
    listed.add(("POST", LOGIN))
    assert served - reactions == listed


@pytest.mark.parametrize(("method", "path", "body", "_"), ADMIN_ENDPOINTS)
async def test_admin_endpoints_need_an_admin(
    as_role: dict[Role, UserClient],
    anon: httpx.AsyncClient,
    app_id: str,
    method: str,
    path: str,
    body: Body,
    _: int,
) -> None:
    r = await call(anon, method, path, body, app_id)
    assert_error(r, 401, "not_authenticated")
    # garbage bodies are not even read before authentication
    r = await anon.request(method, path.replace("{app}", app_id), content=b"{")
    assert_error(r, 401, "not_authenticated")
    for role in (Role.VIEWER, Role.EDITOR):
        r = await call(as_role[role], method, path, body, app_id)
        error = assert_error(r, 403, "forbidden")
        assert "admin" in error["message"]


@pytest.mark.parametrize(("method", "path", "body", "expected"), ADMIN_ENDPOINTS)
async def test_admin_endpoints_serve_an_admin(
    as_role: dict[Role, UserClient],
    app_id: str,
    method: str,
    path: str,
    body: Body,
    expected: int,
) -> None:
    r = await call(as_role[Role.ADMIN], method, path, body, app_id)
    assert r.status_code == expected, r.text


@pytest.mark.parametrize(
    ("method", "path", "body", "_"), [e for e in ADMIN_ENDPOINTS if e[0] != "GET"]
)
async def test_admin_writes_through_a_cookie_need_csrf(
    as_role: dict[Role, UserClient], app_id: str, method: str, path: str, body: Body, _: int
) -> None:
    r = await call(as_role[Role.ADMIN], method, path, body, app_id, headers={"X-CSRF-Token": "x"})
    assert_error(r, 403, "csrf_failed", "X-CSRF-Token")


async def test_admin_endpoints_with_tokens(
    logged_in: LoggedIn, anon: httpx.AsyncClient, app_id: str
) -> None:
    admin = await logged_in(Role.ADMIN)
    secrets: dict[str, str] = {}
    for role in Role:
        r = await admin.post("/api/v1/auth/tokens", json={"name": role.value, "role": role.value})
        secrets[role.value] = r.json()["secret"]
    for method, path, body, expected in ADMIN_ENDPOINTS:
        for role, secret in secrets.items():
            headers = {"Authorization": f"Bearer {secret}"}
            r = await call(anon, method, path, body, app_id, headers=headers)
            want = expected if role == "admin" else 403
            assert r.status_code == want, (method, path, role, r.text)


@pytest.mark.parametrize(("method", "path", "body"), SELF_ENDPOINTS)
async def test_account_endpoints_need_a_login(
    logged_in: LoggedIn, anon: httpx.AsyncClient, method: str, path: str, body: Body
) -> None:
    assert_error(await call(anon, method, path, body, ""), 401, "not_authenticated")
    viewer = await logged_in(Role.VIEWER)
    r = await call(viewer, method, path, body, "")
    assert r.status_code in (200, 201, 204, 404), r.text  # 404: the random token id


# -- users -----------------------------------------------------------------------------------


async def test_create_user_with_a_generated_password_shown_once(
    as_role: dict[Role, UserClient], auth_gateway: str
) -> None:
    admin = as_role[Role.ADMIN]
    email = unique_email("new")
    r = await admin.post(f"{ADMIN}/users", json={"email": email.upper(), "role": "editor"})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    created = r.json()
    user, password = created["user"], created["password"]
    assert user["email"] == email and user["role"] == "editor" and user["app_ids"] is None
    assert user["disabled"] is False and "password_hash" not in user
    listing = (await admin.get(f"{ADMIN}/users")).text
    assert email in listing and password not in listing and "$argon2" not in listing
    client = await login_client(auth_gateway, email, password)
    assert (await client.get(ME)).json()["user"]["role"] == "editor"
    await client.aclose()


async def test_create_user_with_a_chosen_password_and_apps(
    as_role: dict[Role, UserClient], auth_gateway: str, app_id: str
) -> None:
    email = unique_email()
    r = await as_role[Role.ADMIN].post(
        f"{ADMIN}/users",
        json={"email": email, "password": "chosen password", "app_ids": [app_id, app_id]},
    )
    assert r.status_code == 201, r.text
    assert "password" not in r.json() and r.json()["user"]["app_ids"] == [app_id]
    client = await login_client(auth_gateway, email, "chosen password")
    assert (await client.get(ME)).json()["user"]["app_ids"] == [app_id]
    await client.aclose()


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"email": "x@test.local", "password": "short"}, 422, "weak_password", "password"),
        ({"email": "x@test.local", "password": " " * 12}, 422, "weak_password", "password"),
        ({"email": "not-an-email"}, 422, "invalid_email", "email"),
        ({"email": "a" * 260 + "@b.c"}, 422, "invalid_field", "email"),
        ({"email": 7}, 422, "invalid_field", "email"),
        ({}, 422, "invalid_field", "email"),
        ({"email": "x@test.local", "role": "root"}, 422, "invalid_field", "role"),
        ({"email": "x@test.local", "role": None}, 422, "invalid_field", "role"),
        ({"email": "x@test.local", "app_ids": []}, 422, "invalid_field", "app_ids"),
        ({"email": "x@test.local", "app_ids": ["Bad App"]}, 422, "invalid_field", "app_ids[0]"),
        ({"email": "x@test.local", "app_ids": "shop"}, 422, "invalid_field", "app_ids"),
        ({"email": "x@test.local", "app_ids": ["no-such-app"]}, 422, "app_not_found", "app_ids"),
        ({"email": "x@test.local", "is_admin": True}, 422, "invalid_field", "is_admin"),
        ([], 422, "invalid_field", "body"),
    ],
)
async def test_create_user_rejects_bad_bodies(
    as_role: dict[Role, UserClient], body: Any, status: int, code: str, field: str
) -> None:
    r = await as_role[Role.ADMIN].post(f"{ADMIN}/users", json=body)
    assert_error(r, status, code, field)


@pytest.mark.parametrize(
    ("content", "ctype", "status", "code", "field"),
    [
        (b"{", "application/json", 400, "malformed_json", "body"),
        (b"", "application/json", 400, "empty_body", "body"),
        (b'{"email":"' + b"a" * 70_000 + b'"}', "application/json", 413, "body_too_large", "body"),
        (b'{"email":"x@test.local"}', "text/plain", 415, "unsupported_media_type", "Content-Type"),
    ],
)
async def test_admin_bodies_are_capped_and_typed(
    as_role: dict[Role, UserClient],
    content: bytes,
    ctype: str,
    status: int,
    code: str,
    field: str,
) -> None:
    for path in (f"{ADMIN}/users", f"{ADMIN}/apps"):
        r = await as_role[Role.ADMIN].post(path, content=content, headers={"Content-Type": ctype})
        assert_error(r, status, code, field)


async def test_duplicate_email_is_a_conflict(
    as_role: dict[Role, UserClient], logged_in: LoggedIn
) -> None:
    existing = await logged_in(Role.VIEWER)
    r = await as_role[Role.ADMIN].post(f"{ADMIN}/users", json={"email": existing.email.upper()})
    assert_error(r, 409, "user_exists", "email")


async def test_update_role_apps_and_password(
    as_role: dict[Role, UserClient], logged_in: LoggedIn, auth_gateway: str, app_id: str
) -> None:
    admin = as_role[Role.ADMIN]
    user = await logged_in(Role.VIEWER)
    url = f"{ADMIN}/users/{user.user.id}"

    r = await admin.patch(url, json={"role": "editor", "app_ids": [app_id]})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["role"] == "editor" and r.json()["user"]["app_ids"] == [app_id]
    me = (await user.get(ME)).json()["user"]  # the live session sees the change at once
    assert me["role"] == "editor" and me["app_ids"] == [app_id]
    r = await admin.patch(url, json={"app_ids": None})
    assert r.json()["user"]["app_ids"] is None and r.json()["user"]["role"] == "editor"

    r = await admin.patch(url, json={"password": "a brand new password"})
    assert r.status_code == 200, r.text
    assert_error(await user.get(ME), 401, "not_authenticated")  # sessions ended
    r = await admin.post(LOGIN, json={"email": user.email, "password": PASSWORD})
    assert_error(r, 401, "invalid_credentials")
    client = await login_client(auth_gateway, user.email, "a brand new password")
    await client.aclose()


async def test_disabled_users_are_locked_out(
    as_role: dict[Role, UserClient], logged_in: LoggedIn, auth_gateway: str
) -> None:
    admin = as_role[Role.ADMIN]
    user = await logged_in(Role.EDITOR)
    r = await user.post("/api/v1/auth/tokens", json={"name": "t"})
    token = r.json()["secret"]
    r = await admin.patch(f"{ADMIN}/users/{user.user.id}", json={"disabled": True})
    assert r.status_code == 200 and r.json()["user"]["disabled"] is True
    assert_error(await user.get(ME), 401, "not_authenticated")
    headers = {"Authorization": f"Bearer {token}"}
    assert_error(await admin.get(ME, headers=headers), 401, "not_authenticated")
    async with httpx.AsyncClient(base_url=auth_gateway) as c:
        r = await c.post(LOGIN, json={"email": user.email, "password": PASSWORD})
        assert_error(r, 401, "invalid_credentials")
    await admin.patch(f"{ADMIN}/users/{user.user.id}", json={"disabled": False})
    assert (await admin.get(ME, headers=headers)).status_code == 200  # the token lives again
    client = await login_client(auth_gateway, user.email)
    await client.aclose()


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"role": None}, 422, "invalid_field", "role"),
        ({"role": "owner"}, 422, "invalid_field", "role"),
        ({"disabled": "yes"}, 422, "invalid_field", "disabled"),
        ({"password": "short"}, 422, "weak_password", "password"),
        ({"app_ids": []}, 422, "invalid_field", "app_ids"),
        ({"app_ids": ["no-such-app"]}, 422, "app_not_found", "app_ids"),
        ({"email": "new@test.local"}, 422, "invalid_field", "email"),
    ],
)
async def test_update_user_rejects_bad_bodies(
    as_role: dict[Role, UserClient],
    logged_in: LoggedIn,
    body: Any,
    status: int,
    code: str,
    field: str,
) -> None:
    user = await logged_in(Role.VIEWER)
    r = await as_role[Role.ADMIN].patch(f"{ADMIN}/users/{user.user.id}", json=body)
    assert_error(r, status, code, field)


@pytest.mark.parametrize("user_id", [str(uuid.uuid4()), "not-a-uuid", "1"])
async def test_unknown_users_are_404(as_role: dict[Role, UserClient], user_id: str) -> None:
    admin = as_role[Role.ADMIN]
    r = await admin.patch(f"{ADMIN}/users/{user_id}", json={"role": "viewer"})
    assert_error(r, 404, "user_not_found")
    assert_error(await admin.delete(f"{ADMIN}/users/{user_id}"), 404, "user_not_found")


async def test_delete_user_ends_everything(
    as_role: dict[Role, UserClient], logged_in: LoggedIn, pg_pool: asyncpg.Pool
) -> None:
    admin = as_role[Role.ADMIN]
    user = await logged_in(Role.EDITOR)
    token = (await user.post("/api/v1/auth/tokens", json={"name": "t"})).json()["secret"]
    assert (await admin.delete(f"{ADMIN}/users/{user.user.id}")).status_code == 204
    assert_error(await user.get(ME), 401, "not_authenticated")
    r = await admin.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert_error(r, 401, "not_authenticated")
    for table in ("sessions", "api_tokens", "user_apps"):
        count = await pg_pool.fetchval(
            f"SELECT count(*) FROM {table} WHERE user_id = $1::uuid", user.user.id
        )
        assert count == 0, table
    assert_error(await admin.delete(f"{ADMIN}/users/{user.user.id}"), 404, "user_not_found")


async def test_the_last_admin_cannot_be_removed(logged_in: LoggedIn, pg_pool: asyncpg.Pool) -> None:
    admin = await logged_in(Role.ADMIN)
    url = f"{ADMIN}/users/{admin.user.id}"
    # the shared database holds other tests' admins: demote them for the test, then restore
    others = await pg_pool.fetch(
        "UPDATE users SET role = 'viewer' WHERE role = 'admin' AND NOT disabled "
        "AND id <> $1::uuid RETURNING id",
        admin.user.id,
    )
    try:
        assert_error(await admin.patch(url, json={"role": "editor"}), 409, "last_admin")
        assert_error(await admin.patch(url, json={"disabled": True}), 409, "last_admin")
        assert_error(await admin.delete(url), 409, "last_admin")
        assert (await admin.patch(url, json={"role": "admin"})).status_code == 200
        r = await admin.post(f"{ADMIN}/users", json={"email": unique_email(), "role": "admin"})
        assert r.status_code == 201, r.text
        r = await admin.patch(url, json={"role": "viewer"})
        assert r.status_code == 200 and r.json()["user"]["role"] == "viewer"
        assert_error(await admin.get(f"{ADMIN}/users"), 403, "forbidden")
    finally:
        await pg_pool.execute(
            "UPDATE users SET role = 'admin' WHERE id = ANY($1::uuid[])", [r["id"] for r in others]
        )


# -- apps and keys ---------------------------------------------------------------------------


async def test_apps_create_and_list(as_role: dict[Role, UserClient]) -> None:
    admin = as_role[Role.ADMIN]
    app_id = f"adm-{uuid.uuid4().hex[:8]}"
    r = await admin.post(f"{ADMIN}/apps", json={"name": "Admin Shop", "id": app_id})
    assert r.status_code == 201, r.text
    assert r.json()["app"]["id"] == app_id and r.json()["app"]["name"] == "Admin Shop"
    assert app_id in {a["id"] for a in (await admin.get(f"{ADMIN}/apps")).json()["apps"]}
    r = await admin.post(f"{ADMIN}/apps", json={"name": "Generated"})
    assert r.json()["app"]["id"].startswith("generated-")
    r = await admin.post(f"{ADMIN}/apps", json={"name": "Again", "id": app_id})
    assert_error(r, 409, "app_exists", "id")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"name": "x", "id": "Bad Id"}, "invalid_app_id", "id"),
        ({"name": "x", "id": "a" * 64}, "invalid_field", "id"),
        ({"name": ""}, "invalid_field", "name"),
        ({"name": "   "}, "invalid_app_name", "name"),
        ({"id": "shop"}, "invalid_field", "name"),
        ({"name": 3}, "invalid_field", "name"),
    ],
)
async def test_apps_reject_bad_bodies(
    as_role: dict[Role, UserClient], body: Any, code: str, field: str
) -> None:
    r = await as_role[Role.ADMIN].post(f"{ADMIN}/apps", json=body)
    assert_error(r, 422, code, field)


async def test_key_is_shown_once_works_and_revokes(
    as_role: dict[Role, UserClient], anon: httpx.AsyncClient, app_id: str, pg_pool: asyncpg.Pool
) -> None:
    admin = as_role[Role.ADMIN]
    r = await admin.post(f"{ADMIN}/apps/{app_id}/keys", json={"name": "ios"})
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    key, secret = r.json()["key"], r.json()["secret"]
    assert secret.startswith("ck_") and key["prefix"] == secret[:10] and key["app_id"] == app_id
    listing = (await admin.get(f"{ADMIN}/apps/{app_id}/keys")).json()["keys"]
    assert key["id"] in {k["id"] for k in listing}
    assert secret not in str(listing) and all("secret" not in k for k in listing)
    r = await anon.post("/api/v1/events/ingest", json=envelope(), headers={"X-API-Key": secret})
    assert r.status_code == 202, r.text

    assert (await admin.delete(f"{ADMIN}/keys/{key['id']}")).status_code == 204
    assert_error(await admin.delete(f"{ADMIN}/keys/{key['id']}"), 404, "not_found")
    assert await pg_pool.fetchval(
        "SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1::uuid", key["id"]
    )
    [listed] = [
        k
        for k in (await admin.get(f"{ADMIN}/apps/{app_id}/keys")).json()["keys"]
        if k["id"] == key["id"]
    ]
    assert listed["revoked_at"] is not None


async def test_keys_of_unknown_apps_and_bad_ids(as_role: dict[Role, UserClient]) -> None:
    admin = as_role[Role.ADMIN]
    for method in ("GET", "POST"):
        r = await admin.request(method, f"{ADMIN}/apps/no-such-app/keys", json={"name": "k"})
        assert_error(r, 404, "app_not_found")
    assert_error(await admin.delete(f"{ADMIN}/keys/not-a-uuid"), 404, "not_found")
    r = await admin.post(f"{ADMIN}/apps/no-such-app/keys", json={"name": ""})
    assert_error(r, 404, "app_not_found")


async def test_key_bodies_are_checked(as_role: dict[Role, UserClient], app_id: str) -> None:
    admin = as_role[Role.ADMIN]
    r = await admin.post(f"{ADMIN}/apps/{app_id}/keys", json={"name": ""})
    assert_error(r, 422, "invalid_field", "name")
    r = await admin.post(f"{ADMIN}/apps/{app_id}/keys", json={})
    assert r.status_code == 201 and r.json()["key"]["name"] == "default"


@pytest.mark.parametrize("email", ["İSTANBUL@test.local", "ẞtraße@test.local", "a@b@c", "@x"])
async def test_odd_emails_never_crash(as_role: dict[Role, UserClient], email: str) -> None:
    r = await as_role[Role.ADMIN].post(f"{ADMIN}/users", json={"email": email})
    assert r.status_code in (201, 409, 422), r.text
