"""The analytics API end to end: a real warehouse, real PostgreSQL, real NATS, uvicorn gateway.

Two apps' events are written to a warehouse of this module's own, so every count is exact.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from causality.auth.roles import Role
from causality.bus.connection import connect
from causality.bus.publisher import EventPublisher
from causality.config import Settings
from causality.events.arrow import events_to_table
from causality.events.validation import EventValidator
from causality.gateway.app import build_gateway_app
from causality.warehouse.filesystem import open_warehouse
from causality.warehouse.writer import PartitionedWriter
from tests.auth_helpers import UserClient, assert_error, new_user_client
from tests.helpers import serve_in_thread

pytestmark = [pytest.mark.integration]
pytest_plugins = ["tests.integration.auth_fixtures"]

A = "ana-shop"
B = "ana-blog"
DAY_MS = 86_400_000
NOW_MS = int(time.time() * 1000)
TYPES = ["screen_view", "add_to_cart", "purchase_complete"]


def envelopes() -> dict[str, list[dict[str, Any]]]:
    """Deterministic events: app A gets 3 devices x 5 days x 3 types, app B 2 screen views."""
    out: dict[str, list[dict[str, Any]]] = {A: [], B: []}
    for day in range(5):
        for device in range(3):
            for k, event_type in enumerate(TYPES):
                props: dict[str, Any] = {"screen_name": "home"}
                if event_type == "add_to_cart":
                    props = {"product_id": f"p{device}", "price_cents": 100 * (device + 1)}
                if event_type == "purchase_complete":
                    props = {"order_id": f"o{day}{device}", "total_cents": 500}
                out[A].append(
                    {
                        "type": event_type,
                        "device_id": f"dev-{device}",
                        "session_id": f"s-{day}-{device}",
                        "timestamp_ms": NOW_MS - day * DAY_MS - 3_600_000 + k * 60_000,
                        "device_context": {"platform": "ios" if device else "android"},
                        "properties": props,
                    }
                )
    for i in range(2):
        out[B].append(
            {
                "type": "screen_view",
                "device_id": f"blog-{i}",
                "timestamp_ms": NOW_MS - 3_600_000,
                "properties": {"screen_name": "post"},
            }
        )
    return out


@pytest.fixture(scope="module")
def analytics_settings(
    auth_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The gateway's settings with a warehouse holding exactly this module's events."""
    settings = auth_settings.replace(
        warehouse_uri=str(Path(tmp_path_factory.mktemp("analytics")) / "warehouse")
    )
    validator = EventValidator.from_settings(settings)
    fs, root = open_warehouse(settings)
    writer = PartitionedWriter(fs=fs, root=root, partitioning="daily", stream="test")
    for app_id, events in envelopes().items():
        body = json.dumps({"events": events}).encode()
        result = validator.validate_batch(body, app_id=app_id, now_ms=NOW_MS)
        assert not result.rejected, result.rejected
        table = events_to_table(result.accepted)
        groups = writer.plan(
            [e.app_id for e in result.accepted], [e.timestamp_ms for e in result.accepted]
        )
        writer.write(table, seqs=list(range(len(result.accepted))), groups=groups)
    return settings


@pytest.fixture(scope="module")
def gateway(analytics_settings: Settings) -> Iterator[tuple[str, Starlette]]:
    app = build_gateway_app(analytics_settings)
    with serve_in_thread(app) as url:
        yield url, app


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def users(
    gateway: tuple[str, Starlette], pg_pool: asyncpg.Pool, password_hash: str
) -> AsyncIterator[dict[str, UserClient]]:
    url, _ = gateway
    clients = {
        "viewer": await new_user_client(url, pg_pool, password_hash, Role.VIEWER),
        "limited": await new_user_client(url, pg_pool, password_hash, Role.VIEWER, [A]),
        "editor": await new_user_client(url, pg_pool, password_hash, Role.EDITOR),
    }
    yield clients
    for client in clients.values():
        await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def anon(gateway: tuple[str, Starlette]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway[0], timeout=30) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session", scope="module", autouse=True)
async def apps_exist(pg_pool: asyncpg.Pool) -> None:
    for app_id in (A, B):
        await pg_pool.execute(
            "INSERT INTO apps (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", app_id
        )


Q = "/api/v1/analytics"


async def test_everything_needs_a_login(anon: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/schema"),
        ("POST", "/query"),
        ("POST", "/query/export"),
        ("GET", "/history"),
        ("GET", "/saved-queries"),
        ("POST", "/saved-queries"),
        ("POST", "/trends"),
        ("POST", "/funnels"),
        ("POST", "/retention"),
        ("POST", "/paths"),
        ("GET", "/dashboards"),
        ("POST", "/dashboards"),
        ("GET", "/events/stream"),
    ]:
        r = await anon.request(method, Q + path, json={})
        assert_error(r, 401, "not_authenticated")


async def test_schema_lists_columns_and_event_types(users: dict[str, UserClient]) -> None:
    r = await users["viewer"].get(Q + "/schema")
    assert r.status_code == 200, r.text
    body = r.json()
    columns = {c["name"]: c for c in body["tables"][0]["columns"]}
    assert columns["timestamp"]["type"] == "TIMESTAMP WITH TIME ZONE"
    assert columns["device_id"]["description"]
    seen = {e["event_type"]: e["events"] for e in body["event_types"]}
    assert seen == {"screen_view": 15 + 2, "add_to_cart": 15, "purchase_complete": 15}
    limited = (await users["limited"].get(Q + "/schema")).json()
    assert {e["event_type"]: e["events"] for e in limited["event_types"]}["screen_view"] == 15


async def test_query_pages_and_is_scoped_to_the_users_apps(
    users: dict[str, UserClient],
) -> None:
    sql = "SELECT app_id, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"
    r = await users["viewer"].post(Q + "/query", json={"sql": sql})
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [[B, 2], [A, 45]]
    for hostile in (
        sql,
        f"SELECT app_id, count(*) FROM events WHERE app_id = '{B}' OR true GROUP BY 1",
        f"SELECT * FROM (SELECT app_id FROM events) WHERE app_id = '{B}'",
    ):
        r = await users["limited"].post(Q + "/query", json={"sql": hostile})
        assert r.status_code == 200, r.text
        assert all(row[0] == A for row in r.json()["rows"]), (hostile, r.json())

    page = "SELECT id FROM events ORDER BY id"
    first = (await users["viewer"].post(Q + "/query", json={"sql": page, "page_size": 20})).json()
    third = (
        await users["viewer"].post(Q + "/query", json={"sql": page, "page_size": 20, "page": 3})
    ).json()
    assert first["has_more"] is True and len(first["rows"]) == 20
    assert third["has_more"] is False and len(third["rows"]) == 47 - 40


async def test_query_errors_are_4xx_naming_the_problem(users: dict[str, UserClient]) -> None:
    viewer = users["viewer"]
    assert_error(
        await viewer.post(Q + "/query", json={"sql": "DROP TABLE events"}), 400, "unsafe_sql", "sql"
    )
    assert_error(
        await viewer.post(Q + "/query", json={"sql": "SELECT * FROM read_csv('/etc/x')"}),
        400,
        "unsafe_sql",
        "sql",
    )
    assert_error(
        await viewer.post(Q + "/query", json={"sql": "SELECT nope FROM events"}),
        400,
        "query_failed",
        "sql",
    )
    assert_error(await viewer.post(Q + "/query", json={"sql": ""}), 422, "invalid_field", "sql")
    assert_error(
        await viewer.post(Q + "/query", json={"sql": "SELECT 1", "page": 0}),
        422,
        "invalid_field",
        "page",
    )
    assert_error(
        await viewer.post(Q + "/query", json={"sql": "SELECT 1", "extra": 1}),
        422,
        "invalid_field",
        "extra",
    )
    assert_error(
        await viewer.post(
            Q + "/query", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        400,
        "malformed_json",
        "body",
    )
    assert_error(
        await viewer.post(Q + "/query", json={"sql": "SELECT 1 -- " + "x" * 200_000}),
        413,
        "body_too_large",
        "body",
    )
    r = await viewer.post(Q + "/query", json={"sql": "SELECT 1"}, headers={"X-CSRF-Token": ""})
    assert_error(r, 403, "csrf_failed", "X-CSRF-Token")


async def test_history_is_per_user_and_records_failures(
    gateway: tuple[str, Starlette], pg_pool: asyncpg.Pool, password_hash: str
) -> None:
    me = await new_user_client(gateway[0], pg_pool, password_hash, Role.VIEWER)
    other = await new_user_client(gateway[0], pg_pool, password_hash, Role.VIEWER)
    try:
        await me.post(Q + "/query", json={"sql": "SELECT 1 AS one"})
        await me.post(Q + "/query", json={"sql": "SELECT missing FROM events"})
        r = await me.get(Q + "/history", params={"limit": 10})
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [(i["sql"], i["status"]) for i in items] == [
            ("SELECT missing FROM events", "error"),
            ("SELECT 1 AS one", "ok"),
        ]
        assert items[0]["error"]
        assert (await other.get(Q + "/history")).json()["items"] == []
        assert_error(
            await me.get(Q + "/history", params={"limit": "x"}), 400, "invalid_parameter", "limit"
        )
    finally:
        await me.aclose()
        await other.aclose()


async def test_export_as_csv_and_json(users: dict[str, UserClient]) -> None:
    sql = "SELECT event_type, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"
    r = await users["limited"].post(Q + "/query/export", json={"sql": sql})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows == [
        ["event_type", "n"],
        ["add_to_cart", "15"],
        ["purchase_complete", "15"],
        ["screen_view", "15"],
    ]
    r = await users["limited"].post(Q + "/query/export", json={"sql": sql, "format": "json"})
    assert r.json()[0] == {"event_type": "add_to_cart", "n": 15}


async def test_saved_queries_crud_and_roles(users: dict[str, UserClient]) -> None:
    viewer, editor = users["viewer"], users["editor"]
    body = {"name": "Purchases", "sql": "SELECT count(*) FROM events", "description": "d"}
    assert_error(await viewer.post(Q + "/saved-queries", json=body), 403, "forbidden")
    assert_error(
        await editor.post(Q + "/saved-queries", json={**body, "sql": "DELETE FROM events"}),
        400,
        "unsafe_sql",
    )
    r = await editor.post(Q + "/saved-queries", json=body)
    assert r.status_code == 201, r.text
    saved = r.json()
    assert (await viewer.get(f"{Q}/saved-queries/{saved['id']}")).json()["sql"] == body["sql"]
    listed = (await viewer.get(Q + "/saved-queries", params={"limit": 200})).json()
    assert saved["id"] in [s["id"] for s in listed["items"]] and listed["total"] >= 1
    r = await editor.put(f"{Q}/saved-queries/{saved['id']}", json={**body, "name": "Renamed"})
    assert r.json()["name"] == "Renamed"
    assert_error(await viewer.delete(f"{Q}/saved-queries/{saved['id']}"), 403, "forbidden")
    assert (await editor.delete(f"{Q}/saved-queries/{saved['id']}")).status_code == 204
    assert_error(await viewer.get(f"{Q}/saved-queries/{saved['id']}"), 404, "not_found")
    assert_error(await viewer.get(f"{Q}/saved-queries/not-a-uuid"), 404, "not_found")
    assert_error(
        await editor.post(Q + "/saved-queries", json={"name": "", "sql": "SELECT 1"}),
        422,
        "invalid_field",
        "name",
    )


async def test_trends_counts_match_the_data(users: dict[str, UserClient]) -> None:
    query = {"series": [{"event_type": "purchase_complete"}], "date_range": "7d", "interval": "day"}
    r = await users["limited"].post(Q + "/trends", json=query)
    assert r.status_code == 200, r.text
    series = r.json()["series"][0]
    assert series["total"] == 15 and sum(series["data"]) == 15
    assert len(series["data"]) == len(r.json()["labels"]) == 7
    assert_error(
        await users["viewer"].post(Q + "/trends", json={**query, "interval": "year"}),
        422,
        "invalid_insight",
        "interval",
    )
    r = await users["viewer"].post(
        Q + "/trends",
        json={
            **query,
            "series": [{"event_type": "screen_view", "math": "unique_devices"}],
            "breakdown": "app_id",
        },
    )
    by_app = {s["breakdown_value"]: s["total"] for s in r.json()["series"]}
    assert by_app == {A: 3, B: 2}


async def test_funnel_retention_and_paths_answer_chart_shapes(
    users: dict[str, UserClient],
) -> None:
    c = users["limited"]
    funnel = await c.post(
        Q + "/funnels",
        json={
            "steps": [
                {"event_type": "screen_view"},
                {"event_type": "add_to_cart"},
                {"event_type": "purchase_complete"},
            ],
            "window": {"value": 1, "unit": "day"},
            "date_range": "7d",
        },
    )
    assert funnel.status_code == 200, funnel.text
    assert [s["count"] for s in funnel.json()["steps"]] == [3, 3, 3]
    retention = await c.post(
        Q + "/retention",
        json={
            "cohort_event": {"event_type": "screen_view"},
            "return_event": {},
            "period": "day",
            "date_range": "7d",
        },
    )
    assert retention.status_code == 200, retention.text
    assert retention.json()["cohorts"]
    path = await c.post(Q + "/paths", json={"start": "home", "steps": 3})
    assert path.status_code == 200, path.text
    assert "nodes" in path.json() and "links" in path.json()
    assert_error(
        await c.post(Q + "/funnels", json={"steps": [{"event_type": "login"}]}),
        422,
        "invalid_insight",
    )


async def test_dashboards_crud_validates_tiles(users: dict[str, UserClient]) -> None:
    viewer, editor = users["viewer"], users["editor"]
    saved = (await editor.post(Q + "/saved-queries", json={"name": "n", "sql": "SELECT 1"})).json()
    tiles = [
        {
            "id": "t1",
            "title": "Purchases",
            "kind": "trends",
            "query": {"series": [{"event_type": "purchase_complete"}]},
        },
        {
            "id": "t2",
            "kind": "sql",
            "saved_query_id": saved["id"],
            "layout": {"x": 6, "y": 0, "w": 6, "h": 4},
        },
    ]
    body = {"name": "Sales", "date_range": "30d", "tiles": tiles, "refresh_s": 60}
    assert_error(await viewer.post(Q + "/dashboards", json=body), 403, "forbidden")
    bad = {**body, "tiles": [{**tiles[0], "query": {"series": [], "interval": "decade"}}]}
    r = await editor.post(Q + "/dashboards", json=bad)
    assert r.status_code == 422 and r.json()["error"]["field"].startswith("tiles[0].query.")
    r = await editor.post(
        Q + "/dashboards",
        json={**body, "tiles": [{**tiles[1], "saved_query_id": str(uuid.uuid4())}]},
    )
    assert_error(r, 422, "invalid_field", "tiles[0].saved_query_id")
    r = await editor.post(Q + "/dashboards", json=body)
    assert r.status_code == 201, r.text
    dash = r.json()
    assert [t["id"] for t in dash["tiles"]] == ["t1", "t2"] and dash["date_range"] == "30d"
    got = (await viewer.get(f"{Q}/dashboards/{dash['id']}")).json()
    assert got["tiles"][1]["layout"] == {"x": 6, "y": 0, "w": 6, "h": 4}
    r = await editor.put(
        f"{Q}/dashboards/{dash['id']}", json={**body, "name": "Renamed", "tiles": tiles[:1]}
    )
    assert r.json()["name"] == "Renamed" and len(r.json()["tiles"]) == 1
    listed = (await viewer.get(Q + "/dashboards")).json()
    assert dash["id"] in [d["id"] for d in listed["items"]]
    assert (await editor.delete(f"{Q}/dashboards/{dash['id']}")).status_code == 204
    assert_error(await viewer.get(f"{Q}/dashboards/{dash['id']}"), 404, "not_found")


async def _read_events(response: httpx.Response, want: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    event = None
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "event":
            got.append(json.loads(line[6:]))
            if len(got) >= want:
                return got
    return got


async def test_live_stream_filters_and_scopes(
    users: dict[str, UserClient], gateway: tuple[str, Starlette], analytics_settings: Settings
) -> None:
    limited = users["limited"]
    assert_error(
        await limited.get(Q + "/events/stream", params={"app_id": B}), 403, "forbidden", "app_id"
    )
    assert_error(
        await limited.get(Q + "/events/stream", params={"type": "nope"}),
        400,
        "invalid_parameter",
        "type",
    )
    app = gateway[1]
    subs_before = len(app.state.gateway.nc._subs)
    validator = EventValidator.from_settings(analytics_settings)
    nc = await connect(analytics_settings.nats_url or "", name="stream-test")
    publisher = EventPublisher(nc=nc, stream=analytics_settings.stream_name, timeout_s=10)

    async def publish(app_id: str, events: list[dict[str, Any]]) -> None:
        body = json.dumps({"events": events}).encode()
        result = validator.validate_batch(body, app_id=app_id, now_ms=int(time.time() * 1000))
        await publisher.publish(result.accepted)

    try:
        async with limited.stream(
            "GET",
            Q + "/events/stream",
            params={"type": "add_to_cart", "property": "product_id:p9"},
            timeout=30,
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            await asyncio.sleep(0.5)  # let the subscription reach the server
            await publish(
                B, [{"type": "add_to_cart", "device_id": "x", "properties": {"product_id": "p9"}}]
            )
            await publish(
                A,
                [
                    {"type": "screen_view", "device_id": "x", "properties": {"screen_name": "a"}},
                    {"type": "add_to_cart", "device_id": "x", "properties": {"product_id": "p1"}},
                    {"type": "add_to_cart", "device_id": "y", "properties": {"product_id": "p9"}},
                ],
            )
            got = await asyncio.wait_for(_read_events(response, 1), 20)
        assert [(e["app_id"], e["device_id"]) for e in got] == [(A, "y")]
        for _ in range(50):  # the subscription goes away with the client
            if len(app.state.gateway.nc._subs) == subs_before:
                break
            await asyncio.sleep(0.1)
        assert len(app.state.gateway.nc._subs) == subs_before
    finally:
        await nc.close()
