"""Logins, sessions, CSRF, personal tokens and the brute-force limit, over real HTTP against
the real PostgreSQL. Time is controlled by rewriting timestamps in the database, never by
sleeping."""

from __future__ import annotations

import asyncio
import hashlib
import secrets

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher

from causality.auth.roles import Role
from causality.config import Settings
from causality.gateway.app import build_gateway_app
from causality.store.users import create_user, update_user
from tests.auth_helpers import (
    LOGIN,
    ME,
    PASSWORD,
    TOKENS,
    LoggedIn,
    UserClient,
    assert_error,
    login_client,
    unique_email,
)
from tests.conftest import AppWithKeyFactory
from tests.helpers import serve_in_thread

pytest_plugins = ["tests.integration.auth_fixtures"]
pytestmark = [pytest.mark.integration]

LOGOUT = "/api/v1/auth/logout"
COOKIE = "causality_session"


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def with_cookie(session_id: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={session_id}", **headers}


async def new_user(pool: asyncpg.Pool, password_hash: str, role: Role = Role.VIEWER) -> str:
    email = unique_email(role.value)
    await create_user(pool, email=email, password_hash=password_hash, role=role)
    return email


# -- login, me, logout ---------------------------------------------------------------------


async def test_login_sets_a_hardened_cookie(
    anon: httpx.AsyncClient, pg_pool: asyncpg.Pool, password_hash: str
) -> None:
    email = await new_user(pg_pool, password_hash, Role.EDITOR)
    r = await anon.post(LOGIN, json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["email"] == email and body["user"]["role"] == "editor"
    assert body["user"]["app_ids"] is None and len(body["csrf_token"]) >= 40
    assert r.headers["cache-control"] == "no-store"
    cookie = r.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age", "samesite"} <= attributes
    assert "secure" not in attributes  # session_cookie_secure defaults to False
    assert "samesite=strict" in cookie.lower() and "max-age=43200" in cookie.lower()
    assert "path=/" in cookie.lower()


async def test_secure_flag_on_successful_login(
    auth_settings: Settings, pg_pool: asyncpg.Pool, password_hash: str
) -> None:
    email = await new_user(pg_pool, password_hash)
    settings = auth_settings.replace(session_cookie_secure=True)
    with serve_in_thread(build_gateway_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as c:
            r = await c.post(LOGIN, json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert "secure" in {p.strip().lower() for p in r.headers["set-cookie"].split(";")}


async def test_session_is_stored_as_a_hash_only(logged_in: LoggedIn, pg_pool: asyncpg.Pool) -> None:
    client = await logged_in(Role.VIEWER)
    row = await pg_pool.fetchrow(
        "SELECT * FROM sessions WHERE id_hash = $1", sha256(client.session_id)
    )
    assert row is not None
    assert str(row["user_id"]) == client.user.id
    assert row["csrf_token"] == client.csrf_token
    assert row["ip"] == "127.0.0.1" and row["user_agent"].startswith("python-httpx")
    everything = await pg_pool.fetchval(
        "SELECT string_agg(row_to_json(s)::text, '') FROM sessions s"
    )
    assert client.session_id not in everything
    # the password is not stored anywhere either, only its argon2 hash
    dump = await pg_pool.fetchval("SELECT string_agg(row_to_json(u)::text, '') FROM users u")
    assert PASSWORD not in dump


async def test_me_describes_the_caller(logged_in: LoggedIn, anon: httpx.AsyncClient) -> None:
    client = await logged_in(Role.EDITOR, app_ids=None)
    r = await client.get(ME)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["via"] == "session" and body["csrf_token"] == client.csrf_token
    assert body["user"] == {
        "id": client.user.id,
        "email": client.email,
        "role": "editor",
        "app_ids": None,
    }
    assert_error(await anon.get(ME), 401, "not_authenticated")
    assert_error(await anon.get(ME, headers=with_cookie("forged")), 401, "not_authenticated")


async def test_app_limited_user_sees_their_apps(
    logged_in: LoggedIn, make_app_with_key: AppWithKeyFactory
) -> None:
    (a, _), (b, _) = await make_app_with_key(), await make_app_with_key()
    client = await logged_in(Role.VIEWER, app_ids=[b, a])
    r = await client.get(ME)
    assert r.json()["user"]["app_ids"] == sorted([a, b])


async def test_logout_needs_csrf_and_ends_the_session(
    logged_in: LoggedIn, pg_pool: asyncpg.Pool, auth_gateway: str
) -> None:
    client = await logged_in(Role.VIEWER)
    r = await client.post(LOGOUT, headers={"X-CSRF-Token": ""})
    assert_error(r, 403, "csrf_failed", "X-CSRF-Token")
    r = await client.post(LOGOUT)
    assert r.status_code == 204, r.text
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith(f"{COOKIE}=") and "max-age=0" in cookie and "httponly" in cookie
    assert (
        await pg_pool.fetchval(
            "SELECT count(*) FROM sessions WHERE id_hash = $1", sha256(client.session_id)
        )
        == 0
    )
    async with httpx.AsyncClient(base_url=auth_gateway) as replay:
        r = await replay.get(ME, headers=with_cookie(client.session_id))
        assert_error(r, 401, "not_authenticated")


# -- credentials ---------------------------------------------------------------------------


async def test_wrong_password_unknown_email_and_disabled_user_look_alike(
    anon: httpx.AsyncClient, pg_pool: asyncpg.Pool, password_hash: str
) -> None:
    email = await new_user(pg_pool, password_hash)
    disabled = await new_user(pg_pool, password_hash)
    [row] = await pg_pool.fetch("SELECT id FROM users WHERE email = $1", disabled)
    await update_user(pg_pool, user_id=str(row["id"]), disabled=True)
    messages = set()
    for creds in (
        {"email": email, "password": PASSWORD + "x"},
        {"email": unique_email(), "password": PASSWORD},
        {"email": disabled, "password": PASSWORD},
        {"email": "not an email", "password": PASSWORD},
    ):
        r = await anon.post(LOGIN, json=creds)
        messages.add(assert_error(r, 401, "invalid_credentials")["message"])
        assert "set-cookie" not in r.headers
    assert len(messages) == 1


async def test_email_is_case_insensitive(
    auth_gateway: str, pg_pool: asyncpg.Pool, password_hash: str
) -> None:
    email = await new_user(pg_pool, password_hash)
    client = await login_client(auth_gateway, f"  {email.upper()} ")
    await client.aclose()


async def test_outdated_hash_is_upgraded_at_login(auth_gateway: str, pg_pool: asyncpg.Pool) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    email = unique_email()
    await create_user(pg_pool, email=email, password_hash=weak, role=Role.VIEWER)
    client = await login_client(auth_gateway, email)
    await client.aclose()
    stored = await pg_pool.fetchval("SELECT password_hash FROM users WHERE email = $1", email)
    assert stored != weak and "m=65536,t=3,p=4" in stored


@pytest.mark.parametrize(
    ("content", "headers", "status", "code", "field"),
    [
        (b"{", {}, 400, "malformed_json", "body"),
        (b"[]", {}, 422, "invalid_field", "body"),
        (b'{"email":"a@b"}', {}, 422, "invalid_field", "password"),
        (b'{"email":1,"password":"x"}', {}, 422, "invalid_field", "email"),
        (b'{"email":"a@b","password":"x","admin":true}', {}, 422, "invalid_field", "admin"),
        (b"", {}, 400, "empty_body", "body"),
        (b'{"email":"a@b","password":"x"}', {"Content-Type": "text/plain"}, 415, None, None),
        (
            b"email=a@b&password=x",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            None,
            None,
        ),
        (b'{"email":"a@b","password":"' + b"x" * 70_000 + b'"}', {}, 413, "body_too_large", "body"),
    ],
)
async def test_login_bodies_are_checked(
    anon: httpx.AsyncClient,
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str | None,
    field: str | None,
) -> None:
    r = await anon.post(
        LOGIN, content=content, headers={"Content-Type": "application/json", **headers}
    )
    assert_error(r, status, code or "unsupported_media_type", field or "Content-Type")


# -- expiry and fixation -------------------------------------------------------------------


async def test_expired_session_is_refused(logged_in: LoggedIn, pg_pool: asyncpg.Pool) -> None:
    client = await logged_in(Role.VIEWER)
    assert (await client.get(ME)).status_code == 200
    await pg_pool.execute(
        "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE id_hash = $1",
        sha256(client.session_id),
    )
    assert_error(await client.get(ME), 401, "not_authenticated")


async def test_last_seen_is_written_at_most_once_a_minute(
    logged_in: LoggedIn, pg_pool: asyncpg.Pool
) -> None:
    client = await logged_in(Role.VIEWER)
    id_hash = sha256(client.session_id)
    await pg_pool.execute(
        "UPDATE sessions SET last_seen_at = now() - interval '10 minutes' WHERE id_hash = $1",
        id_hash,
    )
    assert (await client.get(ME)).status_code == 200
    first = await pg_pool.fetchval("SELECT last_seen_at FROM sessions WHERE id_hash = $1", id_hash)
    assert (await client.get(ME)).status_code == 200
    second = await pg_pool.fetchval("SELECT last_seen_at FROM sessions WHERE id_hash = $1", id_hash)
    assert first == second
    age = await pg_pool.fetchval("SELECT now() - $1::timestamptz", first)
    assert age.total_seconds() < 60


async def test_planted_session_id_is_never_adopted(
    auth_gateway: str, pg_pool: asyncpg.Pool, password_hash: str
) -> None:
    email = await new_user(pg_pool, password_hash)
    planted = secrets.token_urlsafe(32)
    async with httpx.AsyncClient(base_url=auth_gateway) as c:
        r = await c.post(
            LOGIN, json={"email": email, "password": PASSWORD}, headers=with_cookie(planted)
        )
        assert r.status_code == 200, r.text
        issued = r.cookies[COOKIE]
    assert issued != planted
    assert (
        await pg_pool.fetchval("SELECT count(*) FROM sessions WHERE id_hash = $1", sha256(planted))
        == 0
    )
    async with httpx.AsyncClient(base_url=auth_gateway) as c:
        assert_error(await c.get(ME, headers=with_cookie(planted)), 401, "not_authenticated")


async def test_login_replaces_the_presented_session(
    logged_in: LoggedIn, pg_pool: asyncpg.Pool, auth_gateway: str
) -> None:
    client = await logged_in(Role.VIEWER)
    old_id, old_csrf = client.session_id, client.csrf_token
    r = await client.post(LOGIN, json={"email": client.email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    new_id = r.cookies[COOKIE]
    assert new_id != old_id and r.json()["csrf_token"] != old_csrf
    assert (
        await pg_pool.fetchval("SELECT count(*) FROM sessions WHERE id_hash = $1", sha256(old_id))
        == 0
    )
    async with httpx.AsyncClient(base_url=auth_gateway) as c:
        assert_error(await c.get(ME, headers=with_cookie(old_id)), 401, "not_authenticated")
        assert (await c.get(ME, headers=with_cookie(new_id))).status_code == 200


# -- CSRF ----------------------------------------------------------------------------------


async def test_cookie_writes_need_the_sessions_csrf_token(logged_in: LoggedIn) -> None:
    client = await logged_in(Role.EDITOR)
    other = await logged_in(Role.EDITOR)
    body = {"name": "ci"}
    for headers in (
        {"X-CSRF-Token": ""},
        {"X-CSRF-Token": "wrong"},
        {"X-CSRF-Token": other.csrf_token},
    ):
        r = await client.post(TOKENS, json=body, headers=headers)
        assert_error(r, 403, "csrf_failed", "X-CSRF-Token")
    del client.headers["X-CSRF-Token"]
    assert_error(await client.post(TOKENS, json=body), 403, "csrf_failed", "X-CSRF-Token")
    assert (await client.get(TOKENS)).status_code == 200  # reads need no token
    r = await client.post(TOKENS, json=body, headers={"X-CSRF-Token": client.csrf_token})
    assert r.status_code == 201, r.text


# -- personal API tokens -------------------------------------------------------------------


async def create_token(client: UserClient, **body: object) -> tuple[str, str]:
    r = await client.post(TOKENS, json={"name": "script", **body})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["secret"].startswith("ct_") and out["token"]["prefix"] == out["secret"][:10]
    return out["token"]["id"], out["secret"]


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def test_token_authenticates_without_csrf(
    logged_in: LoggedIn, anon: httpx.AsyncClient, pg_pool: asyncpg.Pool
) -> None:
    client = await logged_in(Role.EDITOR)
    token_id, secret = await create_token(client)
    r = await anon.get(ME, headers=bearer(secret))
    assert r.status_code == 200, r.text
    assert r.json()["via"] == "token" and "csrf_token" not in r.json()
    assert r.json()["user"]["role"] == "editor"
    r = await anon.post(TOKENS, json={"name": "from a script"}, headers=bearer(secret))
    assert r.status_code == 201, r.text
    stored = await pg_pool.fetchrow("SELECT * FROM api_tokens WHERE id = $1::uuid", token_id)
    assert stored["token_hash"] == sha256(secret) and stored["last_used_at"] is not None
    listed = (await client.get(TOKENS)).json()["tokens"]
    assert {t["id"] for t in listed} >= {token_id}
    assert secret not in str(listed) and all("secret" not in t for t in listed)


async def test_token_role_is_capped_by_its_owner(
    logged_in: LoggedIn, anon: httpx.AsyncClient, pg_pool: asyncpg.Pool
) -> None:
    editor = await logged_in(Role.EDITOR)
    r = await editor.post(TOKENS, json={"name": "too much", "role": "admin"})
    assert_error(r, 403, "forbidden", "role")
    admin = await logged_in(Role.ADMIN)
    _, viewer_secret = await create_token(admin, role="viewer")
    r = await anon.get("/api/v1/admin/users", headers=bearer(viewer_secret))
    assert_error(r, 403, "forbidden")
    _, admin_secret = await create_token(admin, role="admin")
    assert (await anon.get("/api/v1/admin/users", headers=bearer(admin_secret))).status_code == 200
    # demoting the owner lowers every token they hold
    await pg_pool.execute("UPDATE users SET role = 'viewer' WHERE id = $1::uuid", admin.user.id)
    r = await anon.get(ME, headers=bearer(admin_secret))
    assert r.json()["user"]["role"] == "viewer"
    assert_error(
        await anon.get("/api/v1/admin/users", headers=bearer(admin_secret)), 403, "forbidden"
    )


async def test_revoked_expired_and_orphaned_tokens_are_refused(
    logged_in: LoggedIn, anon: httpx.AsyncClient, pg_pool: asyncpg.Pool
) -> None:
    client = await logged_in(Role.VIEWER)
    other = await logged_in(Role.VIEWER)
    revoked_id, revoked = await create_token(client)
    expired_id, expired = await create_token(client, expires_in_days=1)
    _, disabled_owner = await create_token(other)
    assert (await anon.get(ME, headers=bearer(revoked))).status_code == 200
    assert (await anon.get(ME, headers=bearer(expired))).status_code == 200

    assert_error(await other.delete(f"{TOKENS}/{revoked_id}"), 404, "not_found")  # not theirs
    assert (await client.delete(f"{TOKENS}/{revoked_id}")).status_code == 204
    assert_error(await client.delete(f"{TOKENS}/{revoked_id}"), 404, "not_found")
    assert_error(await client.delete(f"{TOKENS}/not-a-uuid"), 404, "not_found")
    await pg_pool.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1::uuid",
        expired_id,
    )
    await update_user(pg_pool, user_id=other.user.id, disabled=True)
    for secret in (revoked, expired, disabled_owner, "ct_" + "x" * 43, "ck_abc", "x" * 500):
        assert_error(await anon.get(ME, headers=bearer(secret)), 401, "not_authenticated")
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Token ct_abc"):
        r = await anon.get(ME, headers={"Authorization": header})
        assert_error(r, 401, "not_authenticated")


async def test_bearer_header_wins_over_the_cookie(logged_in: LoggedIn) -> None:
    client = await logged_in(Role.ADMIN)
    r = await client.get(ME, headers={"Authorization": "Bearer ct_bogus"})
    assert_error(r, 401, "not_authenticated")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({}, "name"),
        ({"name": "a", "role": "root"}, "role"),
        ({"name": "a", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "a", "expires_in_days": "1"}, "expires_in_days"),
    ],
)
async def test_token_bodies_are_checked(
    logged_in: LoggedIn, body: dict[str, object], field: str
) -> None:
    client = await logged_in(Role.VIEWER)
    assert_error(await client.post(TOKENS, json=body), 422, "invalid_field", field)


# -- brute force ---------------------------------------------------------------------------


async def test_failed_logins_lock_the_email_until_the_window_passes(
    anon: httpx.AsyncClient, pg_pool: asyncpg.Pool, password_hash: str, auth_settings: Settings
) -> None:
    limit = auth_settings.login_max_failures
    email = await new_user(pg_pool, password_hash)
    for _ in range(limit):
        r = await anon.post(LOGIN, json={"email": email, "password": "wrong password!"})
        assert_error(r, 401, "invalid_credentials")
    # locked: even the right password is refused without being checked
    r = await anon.post(LOGIN, json={"email": email.upper(), "password": PASSWORD})
    assert_error(r, 429, "too_many_attempts")
    retry_after = int(r.headers["retry-after"])
    assert 0 < retry_after <= auth_settings.login_window_s
    # other accounts from the same address are unaffected
    other = await new_user(pg_pool, password_hash)
    assert (await anon.post(LOGIN, json={"email": other, "password": PASSWORD})).status_code == 200
    # move the failures out of the window instead of waiting for it
    await pg_pool.execute(
        "UPDATE login_attempts SET attempted_at = attempted_at - make_interval(secs => $2) "
        "WHERE email = $1",
        email,
        auth_settings.login_window_s,
    )
    r = await anon.post(LOGIN, json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    assert (
        await pg_pool.fetchval("SELECT count(*) FROM login_attempts WHERE email = $1", email) == 0
    )


async def test_success_resets_the_count(
    anon: httpx.AsyncClient, pg_pool: asyncpg.Pool, password_hash: str, auth_settings: Settings
) -> None:
    email = await new_user(pg_pool, password_hash)
    for _ in range(2):
        for _ in range(auth_settings.login_max_failures - 1):
            r = await anon.post(LOGIN, json={"email": email, "password": "wrong password!"})
            assert r.status_code == 401
        r = await anon.post(LOGIN, json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text


async def test_unknown_emails_are_limited_too(
    anon: httpx.AsyncClient, auth_settings: Settings
) -> None:
    email = unique_email("ghost")
    for _ in range(auth_settings.login_max_failures):
        r = await anon.post(LOGIN, json={"email": email, "password": "guess guess guess"})
        assert r.status_code == 401
    r = await anon.post(LOGIN, json={"email": email, "password": "guess guess guess"})
    assert_error(r, 429, "too_many_attempts")


async def test_concurrent_guesses_cannot_exceed_the_limit(
    anon: httpx.AsyncClient, pg_pool: asyncpg.Pool, password_hash: str, auth_settings: Settings
) -> None:
    limit = auth_settings.login_max_failures
    email = await new_user(pg_pool, password_hash)
    guesses = [
        anon.post(LOGIN, json={"email": email, "password": f"guess number {i}"}) for i in range(12)
    ]
    statuses = [r.status_code for r in await asyncio.gather(*guesses)]
    # every attempt is recorded before it is checked, so racing guesses see each other; the
    # race may refuse more than strictly needed, never fewer
    checked = statuses.count(401)
    assert checked <= limit and statuses.count(429) == 12 - checked
    for _ in range(limit - checked):
        r = await anon.post(LOGIN, json={"email": email, "password": "one more guess"})
        assert r.status_code == 401
    r = await anon.post(LOGIN, json={"email": email, "password": "one more guess"})
    assert_error(r, 429, "too_many_attempts")


async def test_failed_logins_lock_the_address(
    auth_settings: Settings, pg_pool: asyncpg.Pool, password_hash: str
) -> None:
    settings = auth_settings.replace(login_max_failures=100, login_max_failures_per_ip=3)
    # attempts of earlier tests share 127.0.0.1: start this address from zero
    await pg_pool.execute("DELETE FROM login_attempts WHERE ip = '127.0.0.1'")
    email = await new_user(pg_pool, password_hash)
    with serve_in_thread(build_gateway_app(settings)) as url:
        async with httpx.AsyncClient(base_url=url) as c:
            for _ in range(3):
                r = await c.post(LOGIN, json={"email": unique_email(), "password": "x" * 12})
                assert r.status_code == 401
            r = await c.post(LOGIN, json={"email": email, "password": PASSWORD})
            assert_error(r, 429, "too_many_attempts")
            assert int(r.headers["retry-after"]) > 0
    await pg_pool.execute("DELETE FROM login_attempts WHERE ip = '127.0.0.1'")
