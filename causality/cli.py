"""The `causality` command: the edge where settings are read from the environment."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from typing import Any, TypeVar

import click
import msgspec

from causality.cli_accounts import COMMANDS as ACCOUNT_COMMANDS
from causality.cli_accounts import _admin_banner, _first_admin
from causality.cli_common import _pool, _print_table, _run, _settings
from causality.cli_llm import COMMANDS as LLM_COMMANDS
from causality.cli_reactions import COMMANDS as REACTION_COMMANDS
from causality.cli_webhooks import COMMANDS as WEBHOOK_COMMANDS
from causality.config import Settings, SettingsError, load_settings

T = TypeVar("T")


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML settings file (also CAUSALITY_CONFIG).",
)
@click.option("--data-dir", default=None, help="Where embedded services keep their data.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, data_dir: str | None) -> None:
    """Causality: self-hosted behavioral analytics."""
    overrides = {"data_dir": data_dir} if data_dir else {}
    try:
        ctx.obj = load_settings(environ=os.environ, toml_path=config_path, overrides=overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def _check_llm(settings: Settings) -> None:
    """Refuse a half-configured model before anything starts, naming the setting."""
    if settings.llm_provider == "none":
        return
    from causality.llm.client import resolve_endpoint

    try:
        resolve_endpoint(settings)
        if settings.llm_provider == "vllm":
            from causality.llm.serving import llm_config_kwargs

            llm_config_kwargs(settings)
            import importlib.util

            if importlib.util.find_spec("vllm") is None:
                raise SettingsError(
                    "llm_provider=vllm needs vLLM on this machine: pip install '.[llm]' "
                    "(see docs/llm.md), or use llm_provider=openai with an existing endpoint"
                )
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.option("--demo", is_flag=True, help="Also stream realistic synthetic traffic.")
@click.option("--demo-rate", default=200.0, show_default=True, help="Demo events per second.")
@click.pass_context
def up(ctx: click.Context, demo: bool, demo_rate: float) -> None:
    """Start the whole platform locally; Ctrl-C stops it, flushing what is in flight."""
    from causality.stack import EmbeddedServices, ServeStack

    settings = _settings(ctx)
    _check_llm(settings)
    services = EmbeddedServices(settings)
    stopping = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        if stopping.is_set():
            click.echo("\nforced exit", err=True)
            os._exit(130)
        stopping.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    resolved = services.start()
    stack = ServeStack(resolved)
    try:
        click.echo("starting Ray and the Serve application ...")
        stack.start()
        app_id, key = _run(_demo_app(resolved, names=["demo"]))
        admin = _run(_first_admin(resolved))
        extra: dict[str, str] = {}
        if demo:
            extra = _run(_demo_apps(resolved))
            extra[app_id] = key
        base = f"http://{resolved.http_host}:{resolved.http_port}"
        click.echo(
            f"\nCausality is running at {base}\n"
            f"  data folder:  {resolved.data_dir}\n"
            f"  warehouse:    {resolved.warehouse}\n"
            f"  NATS:         {resolved.nats_url}\n"
            f"  demo app:     {app_id}\n"
            f"{_admin_banner(admin)}"
            f"  API key:      {key}   (shown once; stored hashed)\n\n"
            f"  curl -X POST {base}/api/v1/events/ingest -H 'X-API-Key: {key}' \\\n"
            f"       -H 'Content-Type: application/json' \\\n"
            '       -d \'{"type":"screen_view","device_id":"d1","properties":'
            '{"screen_name":"home"}}\'\n'
            "\nCtrl-C to stop."
        )
        if demo:
            _stream_demo(base, extra, demo_rate, stopping)
        else:
            stopping.wait()
        click.echo("\nstopping: flushing sinks ...")
    finally:
        stack.stop()
        services.stop()
        click.echo("stopped.")


async def _demo_app(settings: Settings, *, names: list[str]) -> tuple[str, str]:
    """The demo app (created once) and a fresh key for it, printed at start."""
    from causality.store import api_keys, apps

    async with _pool(settings) as pool:
        existing = {a.name: a for a in await apps.list_apps(pool)}
        app = existing.get(names[0]) or await apps.create_app(pool, name=names[0])
        _, plaintext = await api_keys.create_key(pool, app_id=app.id, name="causality up")
        return app.id, plaintext


async def _demo_apps(settings: Settings) -> dict[str, str]:
    """Several apps of different platforms for demo traffic, each with a fresh key."""
    from causality.store import api_keys, apps

    names = ["shop-mobile", "web-store", "backend"]
    out: dict[str, str] = {}
    async with _pool(settings) as pool:
        existing = {a.name: a for a in await apps.list_apps(pool)}
        for name in names:
            app = existing.get(name) or await apps.create_app(pool, name=name)
            _, plaintext = await api_keys.create_key(pool, app_id=app.id, name="demo traffic")
            out[app.id] = plaintext
    return out


def _stream_demo(
    base_url: str, keys: dict[str, str], rate: float, stopping: threading.Event
) -> None:
    from causality.demo.sender import stream_traffic
    from causality.demo.traffic import TrafficGenerator

    async def _main() -> None:
        stop = asyncio.Event()

        # the signal handler sets a threading.Event; bridge it into the loop
        watcher = asyncio.create_task(asyncio.to_thread(stopping.wait))
        watcher.add_done_callback(lambda _: stop.set())
        stats = await stream_traffic(
            base_url=base_url,
            api_keys=keys,
            events_per_s=rate,
            stop=stop,
            generator=TrafficGenerator(app_ids=list(keys)),
        )
        await watcher
        click.echo(f"\ndemo traffic: {stats}")

    click.echo(f"streaming demo traffic at ~{rate:g} events/s to {len(keys)} apps")
    asyncio.run(_main())


# -- sql and status ------------------------------------------------------------------------


@main.command()
@click.argument("query")
@click.option("--limit", default=None, type=int, help="Row cap (default query_row_limit).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.pass_context
def sql(ctx: click.Context, query: str, limit: int | None, fmt: str) -> None:
    """Run SQL against the warehouse through DuckDB (table `events`)."""
    from causality.query.duckdb_engine import DuckDBEngine
    from causality.query.engine import QueryError

    async def _go() -> Any:
        engine = DuckDBEngine(settings=_settings(ctx))
        try:
            return await engine.query(query, limit=limit)
        finally:
            await engine.close()

    try:
        result = _run(_go())
    except QueryError as exc:
        raise click.ClickException(exc.message) from exc
    if fmt == "json":
        click.echo(msgspec.json.encode(result).decode())
    elif fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    else:
        _print_table(result.columns, result.rows)
        more = " (truncated)" if result.truncated else ""
        click.echo(f"{len(result.rows)} rows{more} in {result.elapsed_ms:.0f} ms")


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Stream depth, consumer lag and files written."""
    from causality.status import collect_status

    report = _run(collect_status(_settings(ctx)))
    if as_json:
        click.echo(json.dumps(report, indent=2, default=str))
        return
    for section, values in report.items():
        click.echo(f"{section}:")
        for key, value in values.items():
            click.echo(f"  {key:<22} {value}")


# -- compaction ----------------------------------------------------------------------------


@main.command()
@click.option("--app", "app_id", default=None, help="Only this app's partitions.")
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--target-mb", type=int, default=None, help="Merged file size (default setting).")
@click.option("--min-files", type=int, default=None, help="Small files a partition needs.")
@click.pass_context
def compact(
    ctx: click.Context,
    app_id: str | None,
    dry_run: bool,
    target_mb: int | None,
    min_files: int | None,
) -> None:
    """Merge the small files of closed hours in this process (`jobs.compact` does it on Ray)."""
    from causality.warehouse.compactor import describe_summary, run_compaction

    summary = run_compaction(
        _settings(ctx),
        app_id=app_id,
        dry_run=dry_run,
        target_file_mb=target_mb,
        min_files=min_files,
        echo=click.echo,
    )
    click.echo(describe_summary(summary, dry_run=dry_run))
    if summary.skipped:
        raise click.ClickException(f"{summary.skipped} tasks skipped; see the lines above")


# rules, detectors, webhooks, alerts, deliveries, eval-llm (causality/cli_reactions.py,
# cli_webhooks.py, cli_llm.py)
for _command in (*ACCOUNT_COMMANDS, *REACTION_COMMANDS, *WEBHOOK_COMMANDS, *LLM_COMMANDS):
    main.add_command(_command)


if __name__ == "__main__":
    main()
