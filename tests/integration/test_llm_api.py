"""The Ask HTTP API: authentication, bodies, conversations, /explain, limits and model outages.

Three gateways share the session's PostgreSQL: the module's (scripted model, no practical
limit), a strict one (short model timeout, two questions a minute) and one with no model
configured.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import httpx
import pytest
import pytest_asyncio

from causality.auth.roles import Role
from causality.config import Settings
from causality.gateway.app import build_gateway_app
from tests.auth_helpers import UserClient, assert_error, new_user_client
from tests.helpers import serve_in_thread, wait_for
from tests.integration.llm_support import (
    ASK,
    BLOG,
    CONVERSATIONS,
    EXPLAIN,
    RESULT_ROWS,
    SHOP,
    ask,
    conversation_turn,
    kinds,
    one,
    prompt_of,
)
from tests.llm_server import Reply, ScriptedModel, sql_reply

pytestmark = [pytest.mark.integration]
pytest_plugins = ["tests.integration.auth_fixtures", "tests.integration.llm_fixtures"]

Users = dict[str, UserClient]
COUNT = "SELECT count(*) AS n FROM events"
STRICT_TIMEOUT_S = 1.0
SLOW_S = 3.0


@pytest.fixture(scope="module")
def strict_gateway(llm_settings: Settings) -> Iterator[str]:
    """The same model and warehouse with a short timeout and two questions a minute."""
    settings = llm_settings.replace(llm_timeout_s=STRICT_TIMEOUT_S, llm_requests_per_minute=2.0)
    with serve_in_thread(build_gateway_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def none_gateway(llm_warehouse_settings: Settings, llm_apps: None) -> Iterator[str]:
    """A gateway with ``llm_provider = none`` (the default)."""
    with serve_in_thread(build_gateway_app(llm_warehouse_settings)) as url:
        yield url


ViewerOn = Callable[[str], Awaitable[UserClient]]


@pytest_asyncio.fixture(loop_scope="session")
async def viewer_on(pg_pool: asyncpg.Pool, password_hash: str) -> AsyncIterator[ViewerOn]:
    """``await viewer_on(url)``: a fresh viewer logged in on that gateway."""
    made: list[UserClient] = []

    async def make(url: str) -> UserClient:
        made.append(await new_user_client(url, pg_pool, password_hash, Role.VIEWER))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


# -- access and bodies ---------------------------------------------------------------------


async def test_everything_needs_a_login(llm_anon: httpx.AsyncClient) -> None:
    some_id = "0190c0de-0000-7000-8000-000000000000"
    for method, path in [
        ("POST", ASK),
        ("POST", EXPLAIN),
        ("GET", CONVERSATIONS),
        ("GET", f"{CONVERSATIONS}/{some_id}"),
        ("PATCH", f"{CONVERSATIONS}/{some_id}"),
        ("DELETE", f"{CONVERSATIONS}/{some_id}"),
    ]:
        r = await llm_anon.request(method, path, json={"question": "hi", "title": "x"})
        assert_error(r, 401, "not_authenticated")


async def test_malformed_bodies_name_the_field(llm_users: Users, llm_model: ScriptedModel) -> None:
    viewer = llm_users["viewer"]
    r = await viewer.post(ASK, content=b"question=hi", headers={"Content-Type": "text/plain"})
    assert_error(r, 415, "unsupported_media_type", "Content-Type")
    r = await viewer.post(ASK, content=b"{nope", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json", "body")
    for body, field in [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": 42}, "question"),
        ({"question": "hi", "mode": "magic"}, "mode"),
        ({"question": "hi", "conversation_id": "not-a-uuid"}, "conversation_id"),
        ({"question": "hi", "sql": "SELECT 1"}, "sql"),
    ]:
        assert_error(await viewer.post(ASK, json=body), 422, "invalid_field", field)
    big = json.dumps({"question": "x" * 70_000}).encode()
    r = await viewer.post(ASK, content=big, headers={"Content-Type": "application/json"})
    assert_error(r, 413, "body_too_large", "body")
    assert_error(await viewer.post(EXPLAIN, json={}), 422, "invalid_field", "sql")
    assert_error(
        await viewer.post(EXPLAIN, json={"sql": "SELECT 1", "question": 3}),
        422,
        "invalid_field",
        "question",
    )
    assert llm_model.requests == []  # nothing reached the model


async def test_cookie_writes_need_the_csrf_token(
    llm_users: Users, llm_gateway: str, llm_model: ScriptedModel
) -> None:
    viewer = llm_users["viewer"]
    cookies = {"causality_session": viewer.session_id}
    async with httpx.AsyncClient(base_url=llm_gateway, cookies=cookies, timeout=30) as bare:
        r = await bare.post(ASK, json={"question": "How many events?"})
        assert_error(r, 403, "csrf_failed", "X-CSRF-Token")
        assert (await bare.get(CONVERSATIONS)).status_code == 200  # reads need none


async def test_api_tokens_work_without_csrf(
    llm_users: Users, llm_anon: httpx.AsyncClient, llm_model: ScriptedModel
) -> None:
    r = await llm_users["other"].post("/api/v1/auth/tokens", json={"name": "ask script"})
    assert r.status_code == 201, r.text
    bearer = {"Authorization": f"Bearer {r.json()['secret']}"}
    llm_model.push(sql_reply(COUNT), Reply("Counted."))
    events = await ask(llm_anon, "How many events?", headers=bearer)
    assert kinds(events)[-1] == "answer"
    listed = (await llm_anon.get(CONVERSATIONS, headers=bearer)).json()
    assert events[0].data["conversation_id"] in [c["id"] for c in listed["items"]]


# -- conversations -------------------------------------------------------------------------


async def test_conversations_list_read_rename_delete_and_stay_private(
    llm_users: Users,
    llm_model: ScriptedModel,
    llm_gateway: str,
    pg_pool: asyncpg.Pool,
    password_hash: str,
) -> None:
    owner = await new_user_client(llm_gateway, pg_pool, password_hash, Role.VIEWER)
    stranger = llm_users["other"]
    try:
        llm_model.push(sql_reply(COUNT), Reply("One."), sql_reply(COUNT), Reply("Two."))
        first = (await ask(owner, "First question?"))[0].data["conversation_id"]
        second = (await ask(owner, "Second question?\nwith a second line"))[0].data[
            "conversation_id"
        ]
        llm_model.push(sql_reply(COUNT), Reply("Again."))
        await ask(owner, "A follow-up", conversation_id=first)

        r = await owner.get(CONVERSATIONS)
        assert r.status_code == 200, r.text
        listed = r.json()
        assert listed["total"] == 2 and listed["limit"] == 50 and listed["offset"] == 0
        assert [c["id"] for c in listed["items"]] == [first, second]  # most recently active
        assert [c["turns"] for c in listed["items"]] == [2, 1]
        assert listed["items"][1]["title"] == "Second question?"
        page = (await owner.get(CONVERSATIONS, params={"limit": 1, "offset": 1})).json()
        assert [c["id"] for c in page["items"]] == [second] and page["total"] == 2
        assert_error(
            await owner.get(CONVERSATIONS, params={"limit": 0}), 400, "invalid_parameter", "limit"
        )

        detail = (await owner.get(f"{CONVERSATIONS}/{first}")).json()
        assert detail["title"] == "First question?"
        assert [t["question"] for t in detail["turns"]] == ["First question?", "A follow-up"]
        assert detail["turns"][0]["steps"][-1]["type"] == "answer"
        assert detail["turns"][1]["sql"] == COUNT and detail["turns"][1]["status"] == "answered"

        r = await owner.patch(f"{CONVERSATIONS}/{first}", json={"title": "  Renamed  "})
        assert r.status_code == 200, r.text
        assert r.json()["title"] == "Renamed" and r.json()["turns"] == 2
        assert_error(
            await owner.patch(f"{CONVERSATIONS}/{first}", json={"title": ""}),
            422,
            "invalid_field",
            "title",
        )

        # another user: not even its existence shows
        assert first not in [c["id"] for c in (await stranger.get(CONVERSATIONS)).json()["items"]]
        assert_error(await stranger.get(f"{CONVERSATIONS}/{first}"), 404, "not_found")
        r = await stranger.patch(f"{CONVERSATIONS}/{first}", json={"title": "mine"})
        assert_error(r, 404, "not_found")
        assert_error(await stranger.delete(f"{CONVERSATIONS}/{first}"), 404, "not_found")
        r = await stranger.post(ASK, json={"question": "hi", "conversation_id": first})
        assert_error(r, 404, "not_found")
        assert_error(await owner.get(f"{CONVERSATIONS}/not-a-uuid"), 404, "not_found")
        assert (await owner.get(f"{CONVERSATIONS}/{first}")).json()["title"] == "Renamed"

        r = await owner.delete(f"{CONVERSATIONS}/{first}")
        assert r.status_code == 204, r.text
        assert_error(await owner.get(f"{CONVERSATIONS}/{first}"), 404, "not_found")
        assert (
            await pg_pool.fetchval(
                "SELECT count(*) FROM llm_turns WHERE conversation_id = $1::uuid", first
            )
            == 0
        )
        assert (await owner.get(CONVERSATIONS)).json()["total"] == 1
    finally:
        await owner.aclose()


async def test_disconnect_mid_stream_stores_what_happened(
    llm_users: Users, llm_model: ScriptedModel, pg_pool: asyncpg.Pool
) -> None:
    llm_model.push(sql_reply(COUNT), Reply("too late", delay_s=SLOW_S))
    seen: list[str] = []
    conversation_id = ""
    async with llm_users["viewer"].stream("POST", ASK, json={"question": "Count?"}) as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                seen.append(line[6:].strip())
            elif line.startswith("data:") and not conversation_id:
                conversation_id = json.loads(line[5:])["conversation_id"]
            if seen and seen[-1] == "result":
                break  # the client goes away while the explanation is being written

    async def finished() -> asyncpg.Record | None:
        row = await conversation_turn(pg_pool, conversation_id, 1)
        return row if row is not None and row["status"] != "running" else None

    row = await wait_for(finished, timeout=30, interval=0.1)
    assert row["status"] == "interrupted" and "client" in row["error"]
    assert [s["type"] for s in json.loads(row["steps_json"])] == ["context", "sql", "result"]
    assert row["sql"] == COUNT and row["row_count"] == 1


# -- /explain ------------------------------------------------------------------------------


async def test_explain_runs_scoped_capped_sql_and_explains_it(
    llm_users: Users, llm_model: ScriptedModel
) -> None:
    llm_model.push(Reply("The shop has far more events than the blog."))
    sql = "SELECT app_id, count(*) AS n FROM events GROUP BY app_id ORDER BY app_id"
    r = await llm_users["viewer"].post(EXPLAIN, json={"sql": sql, "question": "Which app?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["app_id", "n"]
    assert [row[0] for row in body["rows"]] == [BLOG, SHOP]
    assert body["explanation"] == "The shop has far more events than the blog."
    assert body["chart"]["type"] in ("bar", "table")
    assert "Which app?" in prompt_of(llm_model.requests[0])

    llm_model.push(Reply("Only the shop."), Reply("Many ids."))
    limited = (await llm_users["limited"].post(EXPLAIN, json={"sql": sql})).json()
    assert [row[0] for row in limited["rows"]] == [SHOP]
    capped = (await llm_users["viewer"].post(EXPLAIN, json={"sql": "SELECT id FROM events"})).json()
    assert len(capped["rows"]) == RESULT_ROWS and capped["truncated"] is True


async def test_explain_refuses_unsafe_sql_without_asking_the_model(
    llm_users: Users, llm_model: ScriptedModel
) -> None:
    for sql in ("DELETE FROM events", "SELECT * FROM read_csv('/etc/passwd')"):
        r = await llm_users["viewer"].post(EXPLAIN, json={"sql": sql})
        assert_error(r, 400, "unsafe_sql", "sql")
    assert llm_model.requests == []


# -- the model's availability and the limits -----------------------------------------------


async def test_model_down_is_a_clear_503(
    llm_users: Users, llm_model: ScriptedModel, pg_pool: asyncpg.Pool
) -> None:
    llm_model.stop()
    try:
        r = await llm_users["viewer"].post(ASK, json={"question": "How many events?"})
        error = assert_error(r, 503, "llm_unavailable")
        assert llm_model.base_url in error["message"] and "not reachable" in error["message"]
        assert r.headers["Retry-After"]
        r = await llm_users["viewer"].post(EXPLAIN, json={"sql": COUNT})
        assert_error(r, 503, "llm_unavailable")
    finally:
        llm_model.start()
    # the failed turn is in the audit trail
    row = await pg_pool.fetchrow(
        "SELECT t.status, t.error FROM llm_turns t JOIN conversations c "
        "ON c.id = t.conversation_id WHERE c.user_id = $1::uuid ORDER BY t.created_at DESC",
        llm_users["viewer"].user.id,
    )
    assert row["status"] == "failed" and "not reachable" in row["error"]
    llm_model.push(sql_reply(COUNT), Reply("Back."))
    assert kinds(await ask(llm_users["viewer"], "How many events?"))[-1] == "answer"


async def test_model_timeout_is_504_before_the_stream_and_a_failed_step_after(
    strict_gateway: str, llm_model: ScriptedModel, viewer_on: ViewerOn
) -> None:
    client = await viewer_on(strict_gateway)
    llm_model.push(Reply(sql_reply(COUNT).content, delay_s=SLOW_S))
    r = await client.post(ASK, json={"question": "How many events?"})
    error = assert_error(r, 504, "llm_timeout")
    assert "llm_timeout_s" in error["message"]

    llm_model.push(sql_reply(COUNT), Reply("slow words", delay_s=SLOW_S))
    events = await ask(client, "How many events?")
    assert kinds(events)[1:] == ["context", "sql", "result", "failed"]
    assert one(events, "failed")["code"] == "llm_timeout"


async def test_per_user_rate_limit_is_429_with_retry_after(
    strict_gateway: str, llm_model: ScriptedModel, viewer_on: ViewerOn
) -> None:
    client = await viewer_on(strict_gateway)
    llm_model.push(sql_reply(COUNT), Reply("One."), Reply("Explained."))
    await ask(client, "How many events?")
    r = await client.post(EXPLAIN, json={"sql": COUNT})
    assert r.status_code == 200, r.text
    r = await client.post(ASK, json={"question": "And now?"})
    error = assert_error(r, 429, "llm_rate_limited")
    assert int(r.headers["Retry-After"]) >= 1 and "a minute" in error["message"]
    assert_error(await client.post(EXPLAIN, json={"sql": COUNT}), 429, "llm_rate_limited")
    # another user has a bucket of their own
    other = await viewer_on(strict_gateway)
    llm_model.push(Reply("Fine."))
    assert (await other.post(EXPLAIN, json={"sql": COUNT})).status_code == 200


async def test_no_model_configured_says_how_to_configure_one(
    none_gateway: str, viewer_on: ViewerOn
) -> None:
    client = await viewer_on(none_gateway)
    for path, body in ((ASK, {"question": "How many events?"}), (EXPLAIN, {"sql": COUNT})):
        r = await client.post(path, json=body)
        error = assert_error(r, 503, "llm_not_configured")
        assert "CAUSALITY_LLM_PROVIDER" in error["message"]
        assert "Retry-After" not in r.headers
    assert (await client.get(CONVERSATIONS)).status_code == 200


async def test_sse_frames_are_well_formed(llm_users: Users, llm_model: ScriptedModel) -> None:
    llm_model.push(sql_reply(COUNT), Reply("Counted."))
    async with llm_users["viewer"].stream("POST", ASK, json={"question": "Count?"}) as r:
        assert r.headers["cache-control"] == "no-cache"
        raw = (await r.aread()).decode()
    frames = [f for f in raw.split("\n\n") if f]
    assert all(f.startswith("event: ") and "\ndata: {" in f for f in frames), raw
    events = sse_frames(raw)
    assert events[0][0] == "conversation"
    assert all(data["type"] == event for event, data in events)


def sse_frames(raw: str) -> list[tuple[str, dict[str, object]]]:
    """``(event, data)`` per frame, insisting on exactly one event and one data line each."""
    out = []
    for frame in raw.split("\n\n"):
        if not frame:
            continue
        event, data = frame.split("\n", 1)
        out.append((event[len("event: ") :], json.loads(data[len("data: ") :])))
    return out


async def test_nul_characters_in_questions_and_results_are_stored(
    llm_users: Users, llm_model: ScriptedModel, pg_pool: asyncpg.Pool
) -> None:
    llm_model.push(sql_reply("SELECT 'a' || chr(0) || 'b' AS s, count(*) AS n FROM events"))
    llm_model.push(Reply("A strange value."))
    events = await ask(llm_users["viewer"], "Count\x00 the events")
    assert one(events, "result")["rows"] == [["a\x00b", 298]]
    conversation_id = events[0].data["conversation_id"]
    row = await conversation_turn(pg_pool, conversation_id, 1)
    assert row["status"] == "answered" and row["question"] == "Count\ufffd the events"
    stored = json.loads(row["steps_json"])
    assert next(s for s in stored if s["type"] == "result")["rows"] == [["a\ufffdb", 298]]
    listed = (await llm_users["viewer"].get(f"{CONVERSATIONS}/{conversation_id}")).json()
    assert listed["title"] == "Count\ufffd the events"
