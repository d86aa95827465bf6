"""`causality apps|keys|users`: the accounts side of the CLI, straight on the store."""

from __future__ import annotations

from typing import Any

import click
import msgspec

from causality.cli_common import _pool, _print_table, _run, _settings
from causality.config import Settings

# -- apps ----------------------------------------------------------------------------------


@click.group()
def apps() -> None:
    """Apps: each has its own events, keys and partitions."""


@apps.command("create")
@click.argument("name")
@click.option("--id", "app_id", default=None, help="Explicit id ([a-z0-9_-], max 63).")
@click.pass_context
def apps_create(ctx: click.Context, name: str, app_id: str | None) -> None:
    """Create an app."""
    from causality.store import apps as repo
    from causality.store.errors import StoreError

    async def _go() -> Any:
        async with _pool(_settings(ctx)) as pool:
            return await repo.create_app(pool, name=name, app_id=app_id)

    try:
        app = _run(_go())
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created app {app.id} ({app.name})")


@apps.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def apps_list(ctx: click.Context, as_json: bool) -> None:
    """List apps."""
    from causality.store import apps as repo

    async def _go() -> Any:
        async with _pool(_settings(ctx)) as pool:
            return await repo.list_apps(pool)

    rows = _run(_go())
    if as_json:
        click.echo(msgspec.json.encode(rows).decode())
        return
    _print_table(["id", "name", "created_at"], [[a.id, a.name, a.created_at] for a in rows])


# -- keys ----------------------------------------------------------------------------------


@click.group()
def keys() -> None:
    """Ingestion API keys (shown once at creation, stored hashed)."""


@keys.command("create")
@click.option("--app", "app_id", required=True)
@click.option("--name", default="default")
@click.pass_context
def keys_create(ctx: click.Context, app_id: str, name: str) -> None:
    """Create a key for an app and print it once."""
    from causality.store import api_keys
    from causality.store.errors import StoreError

    async def _go() -> Any:
        async with _pool(_settings(ctx)) as pool:
            return await api_keys.create_key(pool, app_id=app_id, name=name)

    try:
        key, plaintext = _run(_go())
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"key id: {key.id}\napp:    {key.app_id}\nkey:    {plaintext}\n"
        "(store it now: it cannot be shown again)"
    )


@keys.command("list")
@click.option("--app", "app_id", default=None)
@click.pass_context
def keys_list(ctx: click.Context, app_id: str | None) -> None:
    """List keys (prefix only, never the key)."""
    from causality.store import api_keys

    async def _go() -> Any:
        async with _pool(_settings(ctx)) as pool:
            return await api_keys.list_keys(pool, app_id=app_id)

    rows = _run(_go())
    _print_table(
        ["id", "app_id", "name", "prefix", "created_at", "revoked_at"],
        [[k.id, k.app_id, k.name, k.prefix + "…", k.created_at, k.revoked_at or ""] for k in rows],
    )


@keys.command("revoke")
@click.argument("key_id")
@click.pass_context
def keys_revoke(ctx: click.Context, key_id: str) -> None:
    """Revoke a key; gateways stop accepting it within the auth cache TTL."""
    from causality.store import api_keys
    from causality.store.errors import StoreError

    async def _go() -> bool:
        async with _pool(_settings(ctx)) as pool:
            return await api_keys.revoke_key(pool, key_id=key_id)

    try:
        done = _run(_go())
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if not done:
        raise click.ClickException(f"no active key {key_id}")
    click.echo(f"revoked {key_id}")


# -- users ---------------------------------------------------------------------------------

FIRST_ADMIN_EMAIL = "admin@localhost"


async def _first_admin(settings: Settings) -> tuple[str, str] | None:
    """On first run (no user at all), an admin with a generated password, returned once."""
    from causality.auth.passwords import generate_password, hash_password
    from causality.auth.roles import Role
    from causality.store import users as repo
    from causality.store.errors import UserExists

    async with _pool(settings) as pool:
        if await repo.count_users(pool):
            return None
        password = generate_password()
        try:
            await repo.create_user(
                pool,
                email=FIRST_ADMIN_EMAIL,
                password_hash=hash_password(password),
                role=Role.ADMIN,
            )
        except UserExists:  # another `up` won the race; its banner shows the password
            return None
        return FIRST_ADMIN_EMAIL, password


def _admin_banner(admin: tuple[str, str] | None) -> str:
    if admin is None:
        return ""
    email, password = admin
    return (
        f"  admin login:  {email}\n"
        f"  password:     {password}   (shown once; `causality users create` adds more)\n"
    )


@click.group()
def users() -> None:
    """Users of the web UI and analytics API (roles: admin, editor, viewer)."""


@users.command("create")
@click.argument("email")
@click.option(
    "--role", type=click.Choice(["admin", "editor", "viewer"]), default="viewer", show_default=True
)
@click.option("--password", default=None, help="Prefer --prompt: arguments end up in history.")
@click.option("--prompt", "ask", is_flag=True, help="Ask for the password.")
@click.option("--app", "app_ids", multiple=True, help="Limit to this app (repeatable).")
@click.pass_context
def users_create(
    ctx: click.Context,
    email: str,
    role: str,
    password: str | None,
    ask: bool,
    app_ids: tuple[str, ...],
) -> None:
    """Create a user; without --password or --prompt a password is generated and printed
    once."""
    from causality.auth.errors import WeakPassword
    from causality.auth.passwords import generate_password, hash_password
    from causality.auth.roles import Role
    from causality.store import users as repo
    from causality.store.errors import StoreError

    if ask:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    generated = password is None
    secret = generate_password() if password is None else password
    try:
        password_hash = hash_password(secret)
    except WeakPassword as exc:
        raise click.ClickException(str(exc)) from exc

    async def _go() -> Any:
        async with _pool(_settings(ctx)) as pool:
            return await repo.create_user(
                pool,
                email=email,
                password_hash=password_hash,
                role=Role(role),
                app_ids=app_ids or None,
            )

    try:
        user = _run(_go())
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {user.role} {user.email} (id {user.id})")
    if generated:
        click.echo(f"password: {secret}\n(store it now: it cannot be shown again)")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """List users (never their password hashes)."""
    from causality.store import users as repo

    async def _go() -> Any:
        async with _pool(_settings(ctx)) as pool:
            return await repo.list_users(pool)

    rows = _run(_go())
    if as_json:
        click.echo(msgspec.json.encode(rows).decode())
        return
    _print_table(
        ["id", "email", "role", "disabled", "apps", "created_at"],
        [
            [u.id, u.email, u.role, u.disabled, ",".join(u.app_ids or ()) or "all", u.created_at]
            for u in rows
        ],
    )


COMMANDS = (apps, keys, users)
