"""The model's answer parser: what real models write around their JSON, and what is refused."""

from __future__ import annotations

from typing import Any

import jsonschema
import msgspec
import pytest

from causality.llm.output import (
    CHART_TYPES,
    SQL_ANSWER_SCHEMA,
    parse_json_object,
    parse_sql_answer,
)
from causality.llm.types import BadModelOutput, ChartSpec, SqlAnswer
from tests.llm_server import sql_reply

SQL = "SELECT count(*) AS n FROM events WHERE type = 'purchase'"


def _strict_objects(schema: Any) -> list[dict[str, Any]]:
    """Every object schema inside ``schema``."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        if schema.get("type") == "object":
            found.append(schema)
        for value in schema.values():
            found.extend(_strict_objects(value))
    elif isinstance(schema, list):
        for item in schema:
            found.extend(_strict_objects(item))
    return found


def test_schema_is_valid_and_fit_for_strict_mode() -> None:
    jsonschema.Draft202012Validator.check_schema(SQL_ANSWER_SCHEMA)
    objects = _strict_objects(SQL_ANSWER_SCHEMA)
    assert len(objects) == 2  # the answer and its chart
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert sorted(obj["required"]) == sorted(obj["properties"])
    chart = SQL_ANSWER_SCHEMA["properties"]["chart"]["anyOf"][0]
    assert chart["properties"]["type"]["enum"] == ["number", "line", "bar", "funnel", "table"]
    assert list(CHART_TYPES) == chart["properties"]["type"]["enum"]


@pytest.mark.parametrize(
    "chart", [None, ChartSpec(type="line", x="day", y=("n",), series="platform", title="Daily")]
)
def test_sql_reply_conforms_to_the_schema_and_round_trips(chart: ChartSpec | None) -> None:
    content = sql_reply(SQL, intent="purchases", chart=chart).content
    jsonschema.validate(msgspec.json.decode(content), SQL_ANSWER_SCHEMA)
    assert parse_sql_answer(content) == SqlAnswer(sql=SQL, intent="purchases", chart=chart)


def test_plain_json() -> None:
    text = '{"sql": "SELECT 1", "intent": "one", "chart": {"type": "number", "y": ["n"]}}'
    answer = parse_sql_answer(text)
    assert answer == SqlAnswer(
        sql="SELECT 1", intent="one", chart=ChartSpec(type="number", y=("n",))
    )


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"sql": "SELECT 1", "intent": "one"}\n```',
        '```\n{"sql": "SELECT 1", "intent": "one"}\n```',
        'Sure! Here is the query:\n```json\n{"sql": "SELECT 1", "intent": "one"}\n```\nHope so.',
        'Here you go: {"sql": "SELECT 1", "intent": "one"} -- let me know.',
        '{"SQL": "SELECT 1", "Intent": "one"}',
        '  \n{"sql": "  SELECT 1;  ", "intent": " one "}\n',
        '<think>\nThe user wants {a count}. Maybe {"sql": "SELECT 2"}?\n</think>\n'
        '{"sql": "SELECT 1", "intent": "one"}',
        '<THINK>hmm</THINK>```json\n{"sql": "SELECT 1", "intent": "one"}\n```',
        '[{"sql": "SELECT 1", "intent": "one"}]',
        '```json\n{"sql": "SELECT 1", "intent": "one"}',  # the closing fence never came
        '{"sql": "SELECT 1", "intent": "one"}\n{"sql": "SELECT 2", "intent": "two"}',
        '{"note": "thinking"} then {"sql": "SELECT 1", "intent": "one"}',
        '{"query": "SELECT 1", "intent": "one"}',
    ],
)
def test_json_in_what_models_really_write(text: str) -> None:
    answer = parse_sql_answer(text)
    assert answer.sql == "SELECT 1"
    assert answer.intent == "one"


def test_raw_newlines_inside_json_strings_are_accepted() -> None:
    text = '{"sql": "SELECT type,\n\tcount(*)\nFROM events\nGROUP BY 1", "intent": "by type"}'
    answer = parse_sql_answer(text)
    assert answer.sql == "SELECT type,\n\tcount(*)\nFROM events\nGROUP BY 1"


@pytest.mark.parametrize(
    "sql", ["```sql\nSELECT 1;\n```", "```\nSELECT 1\n```", "  SELECT 1 ;; ", "```SELECT 1```"]
)
def test_fences_and_semicolons_inside_the_sql_value_are_removed(sql: str) -> None:
    text = msgspec.json.encode({"sql": sql, "intent": "one"}).decode()
    assert parse_sql_answer(text).sql == "SELECT 1"


def test_braces_and_quotes_inside_the_sql_string() -> None:
    sql = "SELECT '{\"a\": 1}' AS j, '}' AS b FROM events"
    text = "Answer: " + msgspec.json.encode({"sql": sql, "intent": "x"}).decode() + " done"
    assert parse_sql_answer(text).sql == sql


@pytest.mark.parametrize(
    "chart",
    [
        {"type": "pie", "y": ["n"]},
        {"type": "bar", "y": [1, 2]},
        {"x": "day"},
        "bar",
        ["bar"],
        {"type": "line", "x": {"col": "day"}},
    ],
)
def test_an_invalid_chart_is_dropped_not_fatal(chart: Any) -> None:
    text = msgspec.json.encode({"sql": "SELECT 1", "intent": "one", "chart": chart}).decode()
    answer = parse_sql_answer(text)
    assert answer.sql == "SELECT 1"
    assert answer.chart is None


def test_chart_tolerance_case_and_single_y() -> None:
    text = '{"sql": "SELECT 1", "chart": {"Type": "BAR", "X": "platform", "y": "n", "title": null}}'
    assert parse_sql_answer(text).chart == ChartSpec(type="bar", x="platform", y=("n",))


@pytest.mark.parametrize(
    "text",
    [
        "```sql\nSELECT count(*) FROM events;\n```",
        "Use this:\n```sql\nSELECT count(*) FROM events\n```",
        "SELECT count(*) FROM events",
        "  select count(*) FROM events;",
        "```\nSELECT count(*) FROM events\n```",
    ],
)
def test_sql_without_json(text: str) -> None:
    assert parse_sql_answer(text).sql.lower() == "select count(*) from events"


def test_with_query_without_json() -> None:
    text = "WITH d AS (SELECT 1 AS n) SELECT n FROM d"
    assert parse_sql_answer(text) == SqlAnswer(sql=text)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ('{"sql": "SELECT count(*) FROM ev', "not complete"),
        ('```json\n{"sql": "SELECT 1", "intent": ', "not complete"),
        ('{"intent": "count purchases"}', 'no "sql"'),
        ('{"sql": ""}', 'no "sql"'),
        ('{"sql": ["SELECT 1", "SELECT 2"]}', 'no "sql"'),
        ('["SELECT 1"]', "array"),
        ("I cannot answer that question.", "no JSON object"),
        ("Sure, I will DROP TABLE events for you", "no JSON object"),
        (
            "<html><head><style>body { color: red }</style></head>"
            "<body><h1>502 Bad Gateway</h1></body></html>",
            "markup",
        ),
        ("<think>\nLet me think about {this}... SELECT", "inside <think>"),
    ],
)
def test_unreadable_answers_raise_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(BadModelOutput) as info:
        parse_sql_answer(text)
    assert reason in info.value.message
    assert info.value.status == 502


def test_reason_is_short_even_for_a_huge_page() -> None:
    with pytest.raises(BadModelOutput) as info:
        parse_sql_answer("<html>" + "x" * 300_000)
    assert len(info.value.message) < 200


def test_many_unclosed_braces_stay_cheap() -> None:
    # every brace opens and none closes: the scan is bounded, and the answer is refused
    with pytest.raises(BadModelOutput):
        parse_sql_answer("{" * 150_000)


def test_parse_json_object() -> None:
    text = 'Plan:\n```json\n{"Steps": ["by platform", "by version"], "why": "drop"}\n```'
    assert parse_json_object(text) == {"steps": ["by platform", "by version"], "why": "drop"}
    assert parse_json_object('<think>x</think>{"a": {"B": 1}}') == {"a": {"B": 1}}
    with pytest.raises(BadModelOutput, match="not complete"):
        parse_json_object('{"steps": ["a", ')
    with pytest.raises(BadModelOutput, match="no JSON object"):
        parse_json_object("SELECT 1")
