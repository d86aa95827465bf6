"""What every `causality` subcommand shares: the edge settings, asyncio, a store pool, tables.

Kept apart from ``causality.cli`` so the command modules (accounts, reactions, webhooks, LLM)
import it without importing each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import click

from causality.config import Settings

T = TypeVar("T")


def _settings(ctx: click.Context) -> Settings:
    """The Settings built by the ``causality`` group (the edge)."""
    return ctx.obj  # type: ignore[no-any-return]


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine to completion from a synchronous click command."""
    return asyncio.run(coro)


@asynccontextmanager
async def _pool(settings: Settings) -> AsyncIterator[Any]:
    """A migrated pool on the configured or the embedded PostgreSQL (joined if `up` runs)."""
    from causality.stack import EmbeddedServices
    from causality.store.db import migrate, open_pool

    services = EmbeddedServices(settings.replace(nats_url=settings.nats_url or "unused"))
    resolved = services.start()
    try:
        assert resolved.postgres_dsn
        async with open_pool(resolved.postgres_dsn, min_size=1, max_size=2) as pool:
            await migrate(pool)
            yield pool
    finally:
        services.stop()


def _print_table(columns: list[str], rows: list[list[Any]]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [min(60, max([len(c)] + [len(r[i]) for r in cells])) for i, c in enumerate(columns)]

    def fmt(vals: list[str]) -> str:
        return "  ".join(v[:w].ljust(w) for v, w in zip(vals, widths, strict=True))

    click.echo(fmt(columns))
    click.echo(fmt(["-" * w for w in widths]))
    for row in cells:
        click.echo(fmt(row))
