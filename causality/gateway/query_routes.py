"""The SQL side of /api/v1/analytics: schema, ad-hoc queries with paging and export, history,
and saved queries.

Every SQL text goes through the engine's ``query``, which checks, scopes to the caller's apps,
prunes partitions and caps rows; nothing here touches SQL text itself.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from causality.auth.principal import Principal
from causality.auth.roles import Role
from causality.events.arrow import COLUMN_DESCRIPTIONS, EVENTS_SCHEMA
from causality.gateway.endpoint import endpoint
from causality.gateway.errors import ApiError, json_response
from causality.gateway.guards import require
from causality.gateway.payload import read_struct
from causality.gateway.state import GatewayState
from causality.query.errors import QueryError
from causality.store import saved_queries

PREFIX = "/api/v1/analytics"
MAX_SQL_CHARS = 100_000
SCHEMA_WINDOW = timedelta(days=30)

Sql = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SQL_CHARS)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Text = Annotated[str, msgspec.Meta(max_length=5000)]


class QueryRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Run SQL and return one page of its rows."""

    sql: Sql
    page: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1
    page_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100


class ExportRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Run SQL and download up to ``query_max_row_limit`` rows."""

    sql: Sql
    format: Literal["csv", "json"] = "csv"


class SavedQueryBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A saved query as created or replaced."""

    name: Name
    sql: Sql
    description: Text = ""


def _state(request: Request) -> GatewayState:
    return request.app.state.gateway  # type: ignore[no-any-return]


def _apps(principal: Principal) -> frozenset[str] | None:
    return None if principal.app_ids is None else frozenset(principal.app_ids)


def page_params(request: Request, *, max_size: int = 200) -> tuple[int, int]:
    """``limit``/``offset`` query parameters, validated (400 naming the parameter)."""
    out = []
    for name, default, high in (("limit", 50, max_size), ("offset", 0, 10_000_000)):
        raw = request.query_params.get(name)
        try:
            value = default if raw is None else int(raw)
        except ValueError:
            raise ApiError(
                400, "invalid_parameter", f"{name} must be an integer", field=name
            ) from None
        if not 0 <= value <= high or (name == "limit" and value == 0):
            raise ApiError(400, "invalid_parameter", f"{name} out of range", field=name)
        out.append(value)
    return out[0], out[1]


def _query_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["query_id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such saved query") from None


@endpoint
async def schema(request: Request) -> Response:
    """Tables and columns with descriptions, and the event types seen in the last 30 days."""
    principal = await require(request, Role.VIEWER)
    state = _state(request)
    since = (datetime.now(UTC) - SCHEMA_WINDOW).replace(microsecond=0)
    result = await state.engine.query(
        "SELECT event_category, event_type, event_name, count(*) AS events, "
        "max(timestamp) AS last_seen FROM events "
        f"WHERE timestamp >= TIMESTAMPTZ '{since.isoformat()}' "
        "GROUP BY ALL ORDER BY events DESC, event_type, event_name",
        limit=1000,
        app_ids=_apps(principal),
    )
    columns = [
        {"name": f.name, "type": _sql_type(f.type), "description": COLUMN_DESCRIPTIONS[f.name]}
        for f in EVENTS_SCHEMA
    ]
    return json_response(
        200,
        {
            "tables": [
                {
                    "name": "events",
                    "description": "One row per event (see the event catalogue).",
                    "columns": columns,
                }
            ],
            "event_types": [dict(zip(result.columns, row, strict=True)) for row in result.rows],
            "event_types_since": since.isoformat(),
        },
    )


def _sql_type(arrow_type: Any) -> str:
    text = str(arrow_type)
    if text.startswith("timestamp"):
        return "TIMESTAMP WITH TIME ZONE"
    return {"string": "VARCHAR", "int32": "INTEGER", "int64": "BIGINT", "bool": "BOOLEAN"}.get(
        text, text.upper()
    )


async def _run_recorded(
    state: GatewayState, principal: Principal, sql: str, *, limit: int, offset: int
) -> Any:
    """Run a query and append it to the user's history, whether it worked or not."""
    started = time.perf_counter()
    try:
        result = await state.engine.query(sql, limit=limit, offset=offset, app_ids=_apps(principal))
    except QueryError as exc:
        await saved_queries.record_run(
            state.pool,
            user_id=principal.user_id,
            sql=sql,
            status="error",
            row_count=0,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            error=exc.message[:2000],
        )
        raise
    await saved_queries.record_run(
        state.pool,
        user_id=principal.user_id,
        sql=sql,
        status="ok",
        row_count=len(result.rows),
        elapsed_ms=result.elapsed_ms,
        error=None,
    )
    return result


@endpoint
async def run_query(request: Request) -> Response:
    """One page of a query's rows; ``has_more`` says whether another page exists."""
    principal = await require(request, Role.VIEWER)
    body = await read_struct(request, QueryRequest)
    state = _state(request)
    result = await _run_recorded(
        state, principal, body.sql, limit=body.page_size, offset=(body.page - 1) * body.page_size
    )
    return json_response(
        200,
        {
            "columns": result.columns,
            "types": result.types,
            "rows": result.rows,
            "page": body.page,
            "page_size": body.page_size,
            "has_more": result.truncated,
            "elapsed_ms": round(result.elapsed_ms, 1),
        },
    )


@endpoint
async def export_query(request: Request) -> Response:
    """All rows (up to the cap) as a CSV or JSON download."""
    principal = await require(request, Role.VIEWER)
    body = await read_struct(request, ExportRequest)
    state = _state(request)
    result = await _run_recorded(
        state, principal, body.sql, limit=state.settings.query_max_row_limit, offset=0
    )
    headers = {"X-Truncated": "true" if result.truncated else "false"}
    if body.format == "json":
        rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        headers["Content-Disposition"] = 'attachment; filename="query.json"'
        return json_response(200, rows, headers)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(result.columns)
    writer.writerows(result.rows)
    headers["Content-Disposition"] = 'attachment; filename="query.csv"'
    return Response(out.getvalue(), 200, headers, media_type="text/csv")


@endpoint
async def history(request: Request) -> Response:
    """The caller's own query history, newest first (``before`` pages by id)."""
    principal = await require(request, Role.VIEWER)
    limit, _ = page_params(request)
    raw_before = request.query_params.get("before")
    try:
        before = None if raw_before is None else int(raw_before)
    except ValueError:
        raise ApiError(
            400, "invalid_parameter", "before must be an integer", field="before"
        ) from None
    entries = await saved_queries.history(
        _state(request).pool, user_id=principal.user_id, limit=limit, before_id=before
    )
    return json_response(
        200,
        {
            "items": entries,
            "next_before": entries[-1].id if len(entries) == limit else None,
        },
    )


@endpoint
async def list_saved(request: Request) -> Response:
    """Saved queries, most recently changed first."""
    await require(request, Role.VIEWER)
    limit, offset = page_params(request)
    items, total = await saved_queries.list_page(_state(request).pool, limit=limit, offset=offset)
    return json_response(200, {"items": items, "total": total, "limit": limit, "offset": offset})


@endpoint
async def create_saved(request: Request) -> Response:
    """Save a query (editors); the SQL must pass the safety checks to be saved."""
    principal = await require(request, Role.EDITOR)
    body = await read_struct(request, SavedQueryBody)
    state = _state(request)
    state.engine.prepare(body.sql, app_ids=_apps(principal))  # refuse unsafe SQL up front
    saved = await saved_queries.create(
        state.pool,
        owner_id=principal.user_id,
        name=body.name,
        description=body.description,
        sql=body.sql,
    )
    return json_response(201, saved)


@endpoint
async def get_saved(request: Request) -> Response:
    """One saved query."""
    await require(request, Role.VIEWER)
    saved = await saved_queries.get(_state(request).pool, _query_id(request))
    if saved is None:
        raise ApiError(404, "not_found", "no such saved query")
    return json_response(200, saved)


@endpoint
async def replace_saved(request: Request) -> Response:
    """Replace a saved query's name, description and SQL (editors)."""
    principal = await require(request, Role.EDITOR)
    query_id = _query_id(request)
    body = await read_struct(request, SavedQueryBody)
    state = _state(request)
    state.engine.prepare(body.sql, app_ids=_apps(principal))
    saved = await saved_queries.update(
        state.pool, query_id, name=body.name, description=body.description, sql=body.sql
    )
    if saved is None:
        raise ApiError(404, "not_found", "no such saved query")
    return json_response(200, saved)


@endpoint
async def delete_saved(request: Request) -> Response:
    """Delete a saved query (editors)."""
    await require(request, Role.EDITOR)
    if not await saved_queries.delete(_state(request).pool, _query_id(request)):
        raise ApiError(404, "not_found", "no such saved query")
    return Response(status_code=204)


def routes() -> list[Route]:
    """The routes of this module, mounted by build_gateway_app."""
    return [
        Route(f"{PREFIX}/schema", schema, methods=["GET"]),
        Route(f"{PREFIX}/query", run_query, methods=["POST"]),
        Route(f"{PREFIX}/query/export", export_query, methods=["POST"]),
        Route(f"{PREFIX}/history", history, methods=["GET"]),
        Route(f"{PREFIX}/saved-queries", list_saved, methods=["GET"]),
        Route(f"{PREFIX}/saved-queries", create_saved, methods=["POST"]),
        Route(f"{PREFIX}/saved-queries/{{query_id}}", get_saved, methods=["GET"]),
        Route(f"{PREFIX}/saved-queries/{{query_id}}", replace_saved, methods=["PUT"]),
        Route(f"{PREFIX}/saved-queries/{{query_id}}", delete_saved, methods=["DELETE"]),
    ]
