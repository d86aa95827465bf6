"""Agent mode end to end: a plan of analyses, each run through the same SQL pipeline, then a
synthesis with the numbers; the step budget (``llm_agent_max_steps`` = 3 here) holds."""

from __future__ import annotations

import json

import asyncpg
import pytest

from causality.llm.agent import default_plan
from tests.auth_helpers import UserClient
from tests.integration.llm_support import (
    AGENT_STEPS,
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
QUESTION = "Why did purchases drop yesterday?"
LAST_DAY_VS_WEEK = (
    "SELECT count(*) FILTER (WHERE timestamp >= now() - INTERVAL 1 DAY) AS last_day, "
    "count(*) FILTER (WHERE timestamp < now() - INTERVAL 1 DAY) / 7.0 AS daily_before "
    "FROM events WHERE event_type = 'purchase_complete' AND timestamp >= now() - INTERVAL 8 DAY"
)
BY_PLATFORM = (
    "SELECT platform, count(*) AS purchases FROM events WHERE event_type = 'purchase_complete' "
    "AND timestamp >= now() - INTERVAL 1 DAY GROUP BY platform ORDER BY platform"
)
BY_VERSION = (
    "SELECT app_version, count(*) AS purchases FROM events "
    "WHERE event_type = 'purchase_complete' GROUP BY app_version ORDER BY app_version"
)


def plan(*titles: str) -> Reply:
    steps = [{"title": t, "question": f"{QUESTION} ({t})"} for t in titles]
    return Reply(json.dumps({"steps": steps}))


def agent_kinds(analyses: int) -> list[str]:
    return (
        ["conversation", "context", "plan"]
        + ["sql", "result", "finding"] * analyses
        + ["explanation", "answer"]
    )


async def test_agent_streams_plan_findings_and_answer_within_the_budget(
    llm_users: Users, llm_model: ScriptedModel, pg_pool: asyncpg.Pool
) -> None:
    titles = ["Last day vs the week before", "By platform", "By app version", "By country", "X"]
    synthesis = "Purchases fell to 2 yesterday from 5 a day the week before."
    llm_model.push(
        plan(*titles),
        sql_reply(LAST_DAY_VS_WEEK),
        sql_reply(BY_PLATFORM),
        sql_reply(BY_VERSION),
        Reply(synthesis, prompt_tokens=200, completion_tokens=20),
    )
    events = await ask(llm_users["limited"], QUESTION, mode="agent")
    assert kinds(events) == agent_kinds(AGENT_STEPS)
    assert events[0].data["mode"] == "agent"
    assert one(events, "plan")["steps"] == titles[:AGENT_STEPS]  # the budget cut the plan
    requests = llm_model.requests
    assert len(requests) == 1 + AGENT_STEPS + 1
    assert requests[0]["response_format"]["type"] == "json_schema"
    assert QUESTION in prompt_of(requests[0])
    for title, request in zip(titles, requests[1:4], strict=False):
        assert f"{QUESTION} ({title})" in prompt_of(request)

    findings = [e.data for e in events if e.event == "finding"]
    assert [f["title"] for f in findings] == titles[:AGENT_STEPS]
    assert findings[0]["columns"] == ["last_day", "daily_before"]
    assert findings[0]["rows"] == [[2, 5.0]]
    assert "last_day=2" in findings[0]["summary"]
    assert {r[0]: r[1] for r in findings[1]["rows"]} == {"android": 1, "ios": 1}
    assert findings[2]["rows"] == [["2.0", 37]]
    # the synthesis is told the numbers of every finding
    synthesis_prompt = prompt_of(requests[-1])
    assert QUESTION in synthesis_prompt
    for needle in ("last_day", "daily_before", "android", "37"):
        assert needle in synthesis_prompt, needle

    assert one(events, "explanation")["text"] == synthesis
    answer = one(events, "answer")
    assert answer["explanation"] == synthesis and answer["attempts"] == AGENT_STEPS
    assert answer["completion_tokens"] >= 20
    row = await conversation_turn(pg_pool, events[0].data["conversation_id"], 1)
    assert row["mode"] == "agent" and row["status"] == "answered" and row["sql"] is None
    assert [s["type"] for s in json.loads(row["steps_json"])] == agent_kinds(AGENT_STEPS)[1:]


async def test_unreadable_plan_falls_back_to_the_usual_analyses(
    llm_users: Users, llm_model: ScriptedModel
) -> None:
    llm_model.push(
        Reply("Let me think about it."),
        *[sql_reply("SELECT count(*) AS n FROM events")] * AGENT_STEPS,
        Reply("Nothing stands out."),
    )
    events = await ask(llm_users["viewer"], QUESTION, mode="agent")
    assert kinds(events) == agent_kinds(AGENT_STEPS)
    expected = [a.title for a in default_plan(QUESTION)][:AGENT_STEPS]
    assert one(events, "plan")["steps"] == expected


async def test_a_failing_analysis_is_reported_and_the_others_still_answer(
    llm_users: Users, llm_model: ScriptedModel
) -> None:
    llm_model.push(
        plan("Broken", "By version"),
        *[sql_reply("SELECT made_up FROM events")] * 3,  # all retries of the first analysis
        sql_reply(BY_VERSION),
        Reply("Only the version breakdown worked."),
    )
    events = await ask(llm_users["limited"], QUESTION, mode="agent")
    assert kinds(events) == (
        ["conversation", "context", "plan"]
        + ["sql", "rejected"] * 3
        + ["finding", "sql", "result", "finding", "explanation", "answer"]
    )
    broken, version = [e.data for e in events if e.event == "finding"]
    assert broken["rows"] == [] and "could not be answered" in broken["summary"]
    assert "made_up" in broken["summary"]
    assert version["rows"] == [["2.0", 37]]
    assert one(events, "answer")["attempts"] == 4


async def test_no_finding_at_all_fails_the_turn(llm_users: Users, llm_model: ScriptedModel) -> None:
    llm_model.push(plan("Only"), *[sql_reply("SELECT made_up FROM events")] * 3)
    events = await ask(llm_users["viewer"], QUESTION, mode="agent")
    assert kinds(events)[-2:] == ["finding", "failed"]
    assert one(events, "failed")["code"] == "no_findings"


async def test_agent_follow_up_plans_with_the_previous_turn(
    llm_users: Users, llm_model: ScriptedModel
) -> None:
    first_sql = "SELECT count(*) AS purchases FROM events WHERE event_type = 'purchase_complete'"
    llm_model.push(sql_reply(first_sql), Reply("37 purchases."))
    first = await ask(llm_users["limited"], "How many purchases?")
    conversation_id = first[0].data["conversation_id"]
    llm_model.push(plan("By version"), sql_reply(BY_VERSION), Reply("All on 2.0."))
    events = await ask(
        llm_users["limited"], "Why so few?", conversation_id=conversation_id, mode="agent"
    )
    assert events[0].data["turn"] == 2 and kinds(events)[-1] == "answer"
    plan_prompt = prompt_of(llm_model.requests[2])
    assert "Why so few?" in plan_prompt and first_sql in plan_prompt
