"""App scoping shared by the rule and detector repositories: users limited to some apps see
only those apps' rows, with the same query shape for reads, pages and writes."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

import asyncpg

T = TypeVar("T")


def visible(alias: str) -> str:
    """The WHERE clause for ``$1`` = the caller's app ids (NULL: every app)."""
    return f"($1::text[] IS NULL OR {alias}.app_id = ANY($1::text[]))"


def apps_param(app_ids: Collection[str] | None) -> list[str] | None:
    """``$1`` for :func:`visible`."""
    return None if app_ids is None else sorted(app_ids)


async def fetch_page(
    pool: asyncpg.Pool,
    *,
    columns: str,
    source: str,
    alias: str,
    order_by: str,
    row: Callable[[asyncpg.Record], T],
    limit: int,
    offset: int,
    app_ids: Collection[str] | None,
) -> tuple[list[T], int]:
    """One page of the visible rows of ``source`` (``"<table> <alias>"``), and their total."""
    where = visible(alias)
    rows = await pool.fetch(
        f"SELECT {columns} FROM {source} WHERE {where} ORDER BY {order_by} LIMIT $2 OFFSET $3",
        apps_param(app_ids),
        limit,
        offset,
    )
    total = await pool.fetchval(f"SELECT count(*) FROM {source} WHERE {where}", apps_param(app_ids))
    return [row(r) for r in rows], int(total)
