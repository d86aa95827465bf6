"""``causality webhooks|alerts|deliveries``: delivery targets and what was fired and sent.

The same service functions as the admin API (``causality.reactions.webhook_service`` and
``history_service``); the helpers are those of ``causality.cli_reactions``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import msgspec

from causality.cli_reactions import (
    FILE,
    echo_json,
    json_option,
    limit_option,
    offset_option,
    operator,
    read_file,
    table,
    with_pool,
)

if TYPE_CHECKING:
    import asyncpg


# -- webhooks ---------------------------------------------------------------------------------


@click.group()
def webhooks() -> None:
    """Webhooks: where rules and detectors deliver (secrets are never printed)."""


@webhooks.command("list")
@limit_option
@offset_option
@json_option
@click.pass_context
def webhooks_list(ctx: click.Context, limit: int, offset: int, as_json: bool) -> None:
    """List webhooks."""
    from causality.reactions import webhook_service

    items, total = with_pool(
        ctx, lambda pool: webhook_service.list_webhooks(pool, limit=limit, offset=offset)
    )
    if as_json:
        echo_json({"items": items, "total": total})
        return
    table(
        ["id", "name", "url", "auth", "enabled", "max_attempts"],
        [[w.id, w.name, w.url, w.auth_type, w.enabled, w.max_attempts] for w in items],
    )
    click.echo(f"{len(items)} of {total} webhooks")


def _headers(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--header")
        out[name.strip()] = value
    return out


@webhooks.command("create")
@click.option("--file", "path", type=FILE, default=None, help="The webhook as API JSON.")
@click.option("--name", default=None)
@click.option("--url", default=None)
@click.option("--auth-type", type=click.Choice(["none", "basic", "bearer", "hmac"]), default="none")
@click.option("--auth-username", default=None, help="User name for basic auth.")
@click.option("--auth-secret", default=None, help="Prefer --prompt-secret (shell history).")
@click.option("--prompt-secret", is_flag=True, help="Ask for the secret.")
@click.option("--header", "headers", multiple=True, help="NAME=VALUE (repeatable).")
@click.option("--max-attempts", type=int, default=None)
@click.option("--timeout-s", type=float, default=None)
@click.option("--disabled", is_flag=True)
@json_option
@click.pass_context
def webhooks_create(
    ctx: click.Context,
    path: Path | None,
    name: str | None,
    url: str | None,
    auth_type: str,
    auth_username: str | None,
    auth_secret: str | None,
    prompt_secret: bool,
    headers: tuple[str, ...],
    max_attempts: int | None,
    timeout_s: float | None,
    disabled: bool,
    as_json: bool,
) -> None:
    """Create a webhook from options or a JSON file; private targets are refused."""
    from causality.gateway.payload import locate
    from causality.reactions import webhook_service

    if path is not None:
        body = read_file(path, webhook_service.WebhookBody)
    else:
        if not name or not url:
            raise click.UsageError("give --name and --url, or --file")
        if prompt_secret:
            auth_secret = click.prompt("secret", hide_input=True, confirmation_prompt=True)
        fields: dict[str, Any] = {
            "name": name,
            "url": url,
            "auth_type": auth_type,
            "auth_username": auth_username,
            "headers": _headers(headers),
            "enabled": not disabled,
            "max_attempts": max_attempts,
            "timeout_s": timeout_s,
        }
        if auth_secret is not None:
            fields["auth_secret"] = auth_secret
        # through the decoder, so option values get the same range checks as API bodies
        try:
            body = msgspec.convert(fields, webhook_service.WebhookBody)
        except msgspec.ValidationError as exc:
            field, reason = locate(exc)
            raise click.ClickException(f"{field}: {reason}") from exc
    hook = with_pool(
        ctx,
        lambda pool: webhook_service.create_webhook(pool, operator(), body, settings=ctx.obj),
    )
    if as_json:
        echo_json(hook)
    else:
        click.echo(f"created webhook {hook.id} ({hook.name})")


@webhooks.command("delete")
@click.argument("webhook_id")
@click.pass_context
def webhooks_delete(ctx: click.Context, webhook_id: str) -> None:
    """Delete a webhook no rule or detector uses."""
    from causality.reactions import webhook_service

    with_pool(ctx, lambda pool: webhook_service.delete_webhook(pool, webhook_id))
    click.echo(f"deleted webhook {webhook_id}")


@webhooks.command("test")
@click.argument("webhook_id")
@click.pass_context
def webhooks_test(ctx: click.Context, webhook_id: str) -> None:
    """Send a test delivery now and print how the receiver answered."""
    from causality.reactions import webhook_service
    from causality.reactions.sender import WebhookSender

    async def work(pool: asyncpg.Pool) -> dict[str, Any]:
        async with WebhookSender(ctx.obj) as sender:
            return await webhook_service.send_test(pool, sender, webhook_id, settings=ctx.obj)

    result = with_pool(ctx, work)
    echo_json(result)
    if not result["ok"]:
        raise click.ClickException("the receiver did not accept the test delivery")


# -- history ----------------------------------------------------------------------------------


@click.group()
def alerts() -> None:
    """What rules and detectors fired."""


@alerts.command("list")
@limit_option
@offset_option
@click.option("--source", type=click.Choice(["rule", "anomaly"]), default=None)
@click.option("--app", "app_id", default=None)
@json_option
@click.pass_context
def alerts_list(
    ctx: click.Context,
    limit: int,
    offset: int,
    source: Any,
    app_id: str | None,
    as_json: bool,
) -> None:
    """List alerts, newest first."""
    from causality.reactions import history_service
    from causality.store.alerts import AlertFilter

    flt = AlertFilter(source=source, app_id=app_id)
    items, total = with_pool(
        ctx,
        lambda pool: history_service.list_alerts(
            pool, operator(), limit=limit, offset=offset, flt=flt
        ),
    )
    if as_json:
        echo_json({"items": items, "total": total})
        return
    table(
        ["created_at", "id", "source", "app_id", "summary"],
        [[a.created_at, a.id, a.source, a.app_id, a.summary] for a in items],
    )
    click.echo(f"{len(items)} of {total} alerts")


@click.group()
def deliveries() -> None:
    """Webhook and NATS deliveries of alerts, with their attempts."""


@deliveries.command("list")
@limit_option
@offset_option
@click.option("--status", type=click.Choice(["pending", "delivered", "dead_letter"]), default=None)
@json_option
@click.pass_context
def deliveries_list(
    ctx: click.Context, limit: int, offset: int, status: Any, as_json: bool
) -> None:
    """List deliveries, newest first."""
    from causality.reactions import history_service
    from causality.store.deliveries import DeliveryFilter

    flt = DeliveryFilter(status=status)
    items, total = with_pool(
        ctx,
        lambda pool: history_service.list_deliveries(
            pool, operator(), limit=limit, offset=offset, flt=flt
        ),
    )
    if as_json:
        echo_json({"items": items, "total": total})
        return
    table(
        ["created_at", "id", "target", "kind", "status", "attempts", "last_status", "last_error"],
        [
            [
                d.created_at,
                d.id,
                d.webhook_name or d.subject,
                d.kind,
                d.status,
                d.attempts,
                d.last_status,
                d.last_error,
            ]
            for d in items
        ],
    )
    click.echo(f"{len(items)} of {total} deliveries")


@deliveries.command("retry")
@click.argument("delivery_id")
@click.pass_context
def deliveries_retry(ctx: click.Context, delivery_id: str) -> None:
    """Queue a dead-lettered delivery again."""
    from causality.reactions import history_service

    found = with_pool(
        ctx, lambda pool: history_service.retry_delivery(pool, operator(), delivery_id)
    )
    click.echo(f"queued delivery {found.id} again")


COMMANDS = (webhooks, alerts, deliveries)
"""The groups ``causality.cli`` registers on ``main``."""
