"""Insights (trends, funnels, retention, paths) and dashboards of them, under /api/v1/analytics.

An insight request is the builder's own query struct as JSON; the answer is the builder's
chart-ready shape. A dashboard stores tiles holding exactly those definitions (validated with
the same structs on save), so a tile is run by posting its ``query`` to its kind's endpoint.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import Annotated, Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from causality.analytics import funnels, paths, retention, trends
from causality.analytics.common import DateRange, decode
from causality.analytics.errors import InvalidInsight
from causality.auth.roles import Role
from causality.gateway.body import read_body
from causality.gateway.endpoint import endpoint
from causality.gateway.errors import ApiError, json_response
from causality.gateway.guards import require
from causality.gateway.payload import JSON_BODY_LIMIT, read_struct
from causality.gateway.query_routes import page_params
from causality.gateway.state import GatewayState
from causality.store import dashboards, saved_queries

PREFIX = "/api/v1/analytics"

BUILDERS: dict[str, tuple[ModuleType, type]] = {
    "trends": (trends, trends.TrendsQuery),
    "funnels": (funnels, funnels.FunnelQuery),
    "retention": (retention, retention.RetentionQuery),
    "paths": (paths, paths.PathsQuery),
}


def _state(request: Request) -> GatewayState:
    return request.app.state.gateway  # type: ignore[no-any-return]


async def _json_body(request: Request) -> bytes:
    """The raw JSON body (media type and size checked); parsing is the builder's."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            "send JSON with Content-Type: application/json",
            field="Content-Type",
        )
    return await read_body(request, limit=JSON_BODY_LIMIT)


def _decode_insight(kind: str, data: bytes | dict[str, Any]) -> Any:
    _, struct = BUILDERS[kind]
    try:
        return decode(struct, data)
    except msgspec.DecodeError:
        raise ApiError(400, "malformed_json", "body is not valid JSON", field="body") from None


def insight_endpoint(kind: str) -> Callable[[Request], Any]:
    """The POST handler of one insight kind: decode, build, run scoped, shape."""
    module, _ = BUILDERS[kind]

    @endpoint
    async def handler(request: Request) -> Response:
        principal = await require(request, Role.VIEWER)
        query = _decode_insight(kind, await _json_body(request))
        now = datetime.now(UTC)
        sql = module.build_sql(query, now=now)
        state = _state(request)
        result = await state.engine.query(
            sql,
            limit=module.max_rows(query, now=now),
            app_ids=None if principal.app_ids is None else frozenset(principal.app_ids),
        )
        return json_response(200, module.shape(query, result, now=now))

    handler.__name__ = f"{kind}_insight"
    handler.__doc__ = f"POST {PREFIX}/{kind}: the {kind} insight for the caller's apps."
    return handler


# -- dashboards ----------------------------------------------------------------------------


class Layout(msgspec.Struct, forbid_unknown_fields=True):
    """Where a tile sits on the dashboard grid (12 columns)."""

    x: Annotated[int, msgspec.Meta(ge=0, le=11)] = 0
    y: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 0
    w: Annotated[int, msgspec.Meta(ge=1, le=12)] = 6
    h: Annotated[int, msgspec.Meta(ge=1, le=24)] = 4


class Tile(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One tile: an insight definition, or a saved SQL query."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    title: Annotated[str, msgspec.Meta(max_length=200)] = ""
    kind: Literal["trends", "funnels", "retention", "paths", "sql"]
    query: dict[str, Any] | None = None
    saved_query_id: str | None = None
    layout: Layout = msgspec.field(default_factory=Layout)


class DashboardBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A dashboard as created or replaced."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    description: Annotated[str, msgspec.Meta(max_length=5000)] = ""
    date_range: DateRange | str | None = None
    tiles: Annotated[list[Tile], msgspec.Meta(max_length=50)] = []
    refresh_s: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 0


async def _validated_tiles(state: GatewayState, body: DashboardBody) -> list[Any]:
    """Each tile's definition checked by its builder; names the failing tile's field."""
    seen: set[str] = set()
    out: list[Any] = []
    for i, tile in enumerate(body.tiles):
        where = f"tiles[{i}]"
        if tile.id in seen:
            raise ApiError(
                422, "invalid_field", f"{where}.id: duplicate tile id", field=f"{where}.id"
            )
        seen.add(tile.id)
        if tile.kind == "sql":
            if tile.saved_query_id is None or tile.query is not None:
                raise ApiError(
                    422,
                    "invalid_field",
                    f"{where}: an sql tile names a saved_query_id and no query",
                    field=f"{where}.saved_query_id",
                )
            try:
                found = await saved_queries.get(state.pool, uuid.UUID(tile.saved_query_id))
            except ValueError:
                found = None
            if found is None:
                raise ApiError(
                    422,
                    "invalid_field",
                    f"{where}.saved_query_id: no such saved query",
                    field=f"{where}.saved_query_id",
                )
        else:
            if tile.query is None or tile.saved_query_id is not None:
                raise ApiError(
                    422,
                    "invalid_field",
                    f"{where}: a {tile.kind} tile holds a query and no saved_query_id",
                    field=f"{where}.query",
                )
            try:
                _decode_insight(tile.kind, tile.query)
            except InvalidInsight as exc:
                raise InvalidInsight(f"{where}.query.{exc.field}", exc.reason) from None
        out.append(msgspec.to_builtins(tile))
    return out


def _dashboard_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["dashboard_id"])
    except ValueError:
        raise ApiError(404, "not_found", "no such dashboard") from None


@endpoint
async def list_dashboards(request: Request) -> Response:
    """Dashboards, most recently changed first."""
    await require(request, Role.VIEWER)
    limit, offset = page_params(request)
    items, total = await dashboards.list_page(_state(request).pool, limit=limit, offset=offset)
    return json_response(200, {"items": items, "total": total, "limit": limit, "offset": offset})


@endpoint
async def create_dashboard(request: Request) -> Response:
    """Create a dashboard (editors)."""
    principal = await require(request, Role.EDITOR)
    body = await read_struct(request, DashboardBody)
    state = _state(request)
    tiles = await _validated_tiles(state, body)
    created = await dashboards.create(
        state.pool,
        owner_id=principal.user_id,
        name=body.name,
        description=body.description,
        date_range=msgspec.to_builtins(body.date_range),
        tiles=tiles,
        refresh_s=body.refresh_s,
    )
    return json_response(201, created)


@endpoint
async def get_dashboard(request: Request) -> Response:
    """One dashboard with its tiles."""
    await require(request, Role.VIEWER)
    found = await dashboards.get(_state(request).pool, _dashboard_id(request))
    if found is None:
        raise ApiError(404, "not_found", "no such dashboard")
    return json_response(200, found)


@endpoint
async def replace_dashboard(request: Request) -> Response:
    """Replace a dashboard's fields and tiles (editors)."""
    await require(request, Role.EDITOR)
    dashboard_id = _dashboard_id(request)
    body = await read_struct(request, DashboardBody)
    state = _state(request)
    tiles = await _validated_tiles(state, body)
    updated = await dashboards.replace(
        state.pool,
        dashboard_id,
        name=body.name,
        description=body.description,
        date_range=msgspec.to_builtins(body.date_range),
        tiles=tiles,
        refresh_s=body.refresh_s,
    )
    if updated is None:
        raise ApiError(404, "not_found", "no such dashboard")
    return json_response(200, updated)


@endpoint
async def delete_dashboard(request: Request) -> Response:
    """Delete a dashboard (editors)."""
    await require(request, Role.EDITOR)
    if not await dashboards.delete(_state(request).pool, _dashboard_id(request)):
        raise ApiError(404, "not_found", "no such dashboard")
    return Response(status_code=204)


def routes() -> list[Route]:
    """The routes of this module, mounted by build_gateway_app."""
    out = [Route(f"{PREFIX}/{kind}", insight_endpoint(kind), methods=["POST"]) for kind in BUILDERS]
    d = f"{PREFIX}/dashboards"
    return [
        *out,
        Route(d, list_dashboards, methods=["GET"]),
        Route(d, create_dashboard, methods=["POST"]),
        Route(d + "/{dashboard_id}", get_dashboard, methods=["GET"]),
        Route(d + "/{dashboard_id}", replace_dashboard, methods=["PUT"]),
        Route(d + "/{dashboard_id}", delete_dashboard, methods=["DELETE"]),
    ]
