"""`causality users ...` and the first-run admin of `causality up`, against the real
PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from click.testing import CliRunner

from causality.auth.passwords import verify_password
from causality.cli import main
from causality.cli_accounts import FIRST_ADMIN_EMAIL, _first_admin
from causality.config import Settings
from causality.store.users import find_login
from tests.auth_helpers import unique_email

pytestmark = [pytest.mark.integration]


def run_cli(pg_dsn: str, *args: str, input: str | None = None) -> tuple[int, str]:
    env = {"CAUSALITY_POSTGRES_DSN": pg_dsn, "CAUSALITY_NATS_URL": "nats://unused:4222"}
    result = CliRunner().invoke(main, list(args), env=env, input=input)
    return result.exit_code, result.output


def test_users_create_generates_a_password_shown_once(pg_dsn: str) -> None:
    email = unique_email("cli")
    code, out = run_cli(pg_dsn, "users", "create", email, "--role", "admin")
    assert code == 0, out
    match = re.search(r"password: (\S+)", out)
    assert match is not None and f"created admin {email}" in out

    async def check() -> None:
        pool = await asyncpg.create_pool(pg_dsn, min_size=1, max_size=1)
        try:
            found = await find_login(pool, email=email)
        finally:
            await pool.close()
        assert found is not None
        user, password_hash = found
        assert user.role == "admin" and verify_password(password_hash, match.group(1))

    asyncio.run(check())
    env = {"CAUSALITY_POSTGRES_DSN": pg_dsn, "CAUSALITY_NATS_URL": "nats://unused:4222"}
    result = CliRunner().invoke(main, ["users", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout  # the JSON alone: a library's warning on stderr must not break it
    [listed] = [u for u in json.loads(out) if u["email"] == email]
    assert listed["role"] == "admin" and "password_hash" not in listed
    assert match.group(1) not in out
    code, out = run_cli(pg_dsn, "users", "list")
    assert code == 0 and email in out


def test_users_create_with_a_prompted_password(pg_dsn: str) -> None:
    email = unique_email("cli")
    code, out = run_cli(
        pg_dsn, "users", "create", email, "--prompt", input="typed password\ntyped password\n"
    )
    assert code == 0, out
    assert f"created viewer {email}" in out and "cannot be shown again" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--password", "short"], "at least 10"),
        (["--role", "root"], "Invalid value for '--role'"),
        (["--app", "no-such-app"], "does not exist"),
    ],
)
def test_users_create_refuses_bad_input(pg_dsn: str, args: list[str], message: str) -> None:
    code, out = run_cli(pg_dsn, "users", "create", unique_email("cli"), *args)
    assert code != 0 and message in out, out


def test_users_create_refuses_duplicates(pg_dsn: str) -> None:
    email = unique_email("cli")
    assert run_cli(pg_dsn, "users", "create", email)[0] == 0
    code, out = run_cli(pg_dsn, "users", "create", email.upper())
    assert code != 0 and "already exists" in out


async def test_first_run_admin_only_on_an_empty_database(
    pg_pool: asyncpg.Pool, pg_dsn: str, base_settings: Settings
) -> None:
    database = f"first_run_{secrets.token_hex(4)}"
    await pg_pool.execute(f"CREATE DATABASE {database}")
    parts = urlsplit(pg_dsn)
    fresh_dsn = urlunsplit(parts._replace(path=f"/{database}"))
    settings = base_settings.replace(postgres_dsn=fresh_dsn)
    try:
        created = await asyncio.to_thread(asyncio.run, _first_admin(settings))
        assert created is not None and created[0] == FIRST_ADMIN_EMAIL
        again = await asyncio.to_thread(asyncio.run, _first_admin(settings))
        assert again is None  # printed once; later starts do not reset it
        conn = await asyncpg.connect(fresh_dsn)
        try:
            row = await conn.fetchrow("SELECT role, password_hash FROM users")
        finally:
            await conn.close()
        assert row["role"] == "admin" and verify_password(row["password_hash"], created[1])
    finally:
        await pg_pool.execute(f"DROP DATABASE {database} WITH (FORCE)")
