"""``causality rules|detectors``: the reaction engine's configuration from a shell.

Every command goes through the same service functions as the admin API
(``causality.reactions.service`` and friends), so a rule file the CLI accepts is exactly a body
the API accepts. The CLI acts as the operator: on every app, with no user recorded as author.
Registered on ``causality.cli.main`` (with ``causality.cli_webhooks``); the helpers of
``causality.cli`` and the reaction engine are imported lazily, so either module may be imported
first and ``causality --help`` stays fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import msgspec

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def operator() -> Any:
    """The caller the CLI acts as: the operator, on every app (imported late: ``causality
    --help`` should not load the reaction engine)."""
    from causality.reactions.service import OPERATOR

    return OPERATOR


def with_pool(ctx: click.Context, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    """Run ``work`` on a migrated pool; refused input becomes a one-line error."""
    from causality.cli_common import _pool
    from causality.reactions.service import AdminError
    from causality.store.errors import StoreError

    async def go() -> T:
        async with _pool(ctx.obj) as pool:
            return await work(pool)

    try:
        return asyncio.run(go())
    except AdminError as exc:
        raise click.ClickException(exc.message) from exc
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def read_file(path: Path, type_: type[T]) -> T:
    """A JSON file decoded into an API body type, errors naming the field like the API."""
    from causality.gateway.payload import locate

    try:
        return msgspec.json.decode(path.read_bytes(), type=type_)
    except msgspec.ValidationError as exc:
        field, reason = locate(exc)
        raise click.ClickException(f"{path}: {field}: {reason}") from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        raise click.ClickException(f"{path}: not valid JSON ({exc})") from exc


def echo_json(value: Any) -> None:
    """Print a struct or dict as indented JSON, for scripts (``| jq``)."""
    click.echo(msgspec.json.format(msgspec.json.encode(value), indent=2).decode())


def table(columns: list[str], rows: list[list[Any]]) -> None:
    """Print rows as the aligned table every other command prints."""
    from causality.cli_common import _print_table

    _print_table(columns, rows)


def _scope(item: Any) -> str:
    parts = [item.app_id or "*", item.event_category or "*", item.event_type or "*"]
    return "/".join(parts)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
limit_option = click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200))
offset_option = click.option("--offset", default=0, type=click.IntRange(0))


# -- rules ------------------------------------------------------------------------------------


@click.group()
def rules() -> None:
    """Reaction rules: a scope, a condition and what to do when an event matches."""


@rules.command("list")
@limit_option
@offset_option
@json_option
@click.pass_context
def rules_list(ctx: click.Context, limit: int, offset: int, as_json: bool) -> None:
    """List rules, highest priority first."""
    from causality.reactions import service

    items, total = with_pool(
        ctx, lambda pool: service.list_rules(pool, operator(), limit=limit, offset=offset)
    )
    if as_json:
        echo_json({"items": items, "total": total})
        return
    table(
        ["id", "name", "scope", "priority", "enabled", "webhooks", "alert"],
        [
            [r.id, r.name, _scope(r), r.priority, r.enabled, len(r.webhook_ids), r.publish_alert]
            for r in items
        ],
    )
    click.echo(f"{len(items)} of {total} rules")


@rules.command("show")
@click.argument("rule_id")
@click.pass_context
def rules_show(ctx: click.Context, rule_id: str) -> None:
    """Print one rule as JSON."""
    from causality.reactions import service

    echo_json(with_pool(ctx, lambda pool: service.get_rule(pool, operator(), rule_id)))


@rules.command("create")
@click.option("--file", "path", type=FILE, required=True, help="The rule as API JSON.")
@json_option
@click.pass_context
def rules_create(ctx: click.Context, path: Path, as_json: bool) -> None:
    """Create a rule from a JSON file (the body of POST /api/v1/admin/rules)."""
    from causality.reactions import service

    body = read_file(path, service.RuleBody)
    rule = with_pool(ctx, lambda pool: service.create_rule(pool, operator(), body))
    if as_json:
        echo_json(rule)
    else:
        click.echo(f"created rule {rule.id} ({rule.name})")


@rules.command("update")
@click.argument("rule_id")
@click.option("--file", "path", type=FILE, required=True, help="Fields to change, as JSON.")
@click.pass_context
def rules_update(ctx: click.Context, rule_id: str, path: Path) -> None:
    """Change the fields a JSON file gives (like PATCH); the others stay."""
    from causality.reactions import service

    body = read_file(path, service.RulePatch)
    rule = with_pool(ctx, lambda pool: service.update_rule(pool, operator(), rule_id, body))
    click.echo(f"updated rule {rule.id} ({rule.name})")


def _set_rule_enabled(ctx: click.Context, rule_id: str, enabled: bool) -> None:
    from causality.reactions import service

    patch = service.RulePatch(enabled=enabled)
    rule = with_pool(ctx, lambda pool: service.update_rule(pool, operator(), rule_id, patch))
    click.echo(f"{'enabled' if rule.enabled else 'disabled'} rule {rule.id} ({rule.name})")


@rules.command("enable")
@click.argument("rule_id")
@click.pass_context
def rules_enable(ctx: click.Context, rule_id: str) -> None:
    """Enable a rule; running engines apply it within a second."""
    _set_rule_enabled(ctx, rule_id, True)


@rules.command("disable")
@click.argument("rule_id")
@click.pass_context
def rules_disable(ctx: click.Context, rule_id: str) -> None:
    """Disable a rule without deleting it."""
    _set_rule_enabled(ctx, rule_id, False)


@rules.command("delete")
@click.argument("rule_id")
@click.pass_context
def rules_delete(ctx: click.Context, rule_id: str) -> None:
    """Delete a rule (its alerts stay in the history)."""
    from causality.reactions import service

    with_pool(ctx, lambda pool: service.delete_rule(pool, operator(), rule_id))
    click.echo(f"deleted rule {rule_id}")


@rules.command("test")
@click.argument("rule_id")
@click.option("--event-file", "path", type=FILE, required=True, help="An ingest envelope.")
@click.option("--app", "app_id", default=None, help="The event's app (if the rule has none).")
@click.pass_context
def rules_test(ctx: click.Context, rule_id: str, path: Path, app_id: str | None) -> None:
    """Run a rule on a sample event and print which conditions matched; fires nothing."""
    from causality.events.validation import EventValidator
    from causality.reactions.rule_dry_run import RuleTestBody, dry_run

    body = RuleTestBody(event=msgspec.Raw(path.read_bytes()), app_id=app_id)
    validator = EventValidator.from_settings(ctx.obj)
    result = with_pool(ctx, lambda pool: dry_run(pool, validator, operator(), rule_id, body))
    echo_json({k: v for k, v in result.items() if k != "event"})
    click.echo("MATCHED" if result["matched"] else "no match")


# -- detectors --------------------------------------------------------------------------------


@click.group()
def detectors() -> None:
    """Anomaly detectors: threshold, rate, count and baseline."""


@detectors.command("list")
@limit_option
@offset_option
@json_option
@click.pass_context
def detectors_list(ctx: click.Context, limit: int, offset: int, as_json: bool) -> None:
    """List anomaly detectors."""
    from causality.reactions import service

    items, total = with_pool(
        ctx, lambda pool: service.list_detectors(pool, operator(), limit=limit, offset=offset)
    )
    if as_json:
        echo_json({"items": items, "total": total})
        return
    table(
        ["id", "name", "kind", "scope", "cooldown_s", "enabled", "webhooks"],
        [
            [d.id, d.name, d.kind, _scope(d), d.cooldown_s, d.enabled, len(d.webhook_ids)]
            for d in items
        ],
    )
    click.echo(f"{len(items)} of {total} detectors")


@detectors.command("create")
@click.option("--file", "path", type=FILE, required=True, help="The detector as API JSON.")
@json_option
@click.pass_context
def detectors_create(ctx: click.Context, path: Path, as_json: bool) -> None:
    """Create a detector from a JSON file (the body of POST .../anomaly-detectors)."""
    from causality.reactions import service

    body = read_file(path, service.DetectorBody)
    found = with_pool(ctx, lambda pool: service.create_detector(pool, operator(), body))
    if as_json:
        echo_json(found)
    else:
        click.echo(f"created detector {found.id} ({found.name})")


def _set_detector_enabled(ctx: click.Context, detector_id: str, enabled: bool) -> None:
    from causality.reactions import service

    patch = service.DetectorPatch(enabled=enabled)
    found = with_pool(
        ctx, lambda pool: service.update_detector(pool, operator(), detector_id, patch)
    )
    click.echo(f"{'enabled' if found.enabled else 'disabled'} detector {found.id} ({found.name})")


@detectors.command("enable")
@click.argument("detector_id")
@click.pass_context
def detectors_enable(ctx: click.Context, detector_id: str) -> None:
    """Enable a detector."""
    _set_detector_enabled(ctx, detector_id, True)


@detectors.command("disable")
@click.argument("detector_id")
@click.pass_context
def detectors_disable(ctx: click.Context, detector_id: str) -> None:
    """Disable a detector without deleting it."""
    _set_detector_enabled(ctx, detector_id, False)


@detectors.command("delete")
@click.argument("detector_id")
@click.pass_context
def detectors_delete(ctx: click.Context, detector_id: str) -> None:
    """Delete a detector (its alerts stay in the history)."""
    from causality.reactions import service

    with_pool(ctx, lambda pool: service.delete_detector(pool, operator(), detector_id))
    click.echo(f"deleted detector {detector_id}")


COMMANDS = (rules, detectors)
"""The groups ``causality.cli`` registers on ``main``."""
