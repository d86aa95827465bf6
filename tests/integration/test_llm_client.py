"""The model client through the real ``openai`` client against the scripted server: what it
sends, what it reads, and each way a model server fails turned into the error the API answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import msgspec
import pytest

from causality.config import Settings, SettingsError
from causality.llm.client import OpenAIModelClient, build_model_client
from causality.llm.output import SQL_ANSWER_SCHEMA, parse_sql_answer
from causality.llm.types import (
    BadModelOutput,
    ChartSpec,
    LLMError,
    LLMNotConfigured,
    LLMTimeout,
    LLMUnavailable,
    Message,
)
from tests.llm_server import Reply, ScriptedModel, sql_reply

pytestmark = pytest.mark.integration

QUESTION = [
    Message("system", "You write DuckDB SQL over the events table."),
    Message("user", "How many purchases were there yesterday?"),
]
SQL = "SELECT count(*) AS purchases FROM events WHERE type = 'purchase'"


@pytest.fixture
def scripted() -> Iterator[ScriptedModel]:
    with ScriptedModel() as server:
        yield server


def _settings(server: ScriptedModel, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "llm_provider": "openai",
        "llm_base_url": server.base_url,
        "llm_model": "qwen-coder",
        "llm_timeout_s": 5.0,
        "llm_max_tokens": 700,
        "llm_temperature": 0.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def client(scripted: ScriptedModel) -> AsyncIterator[OpenAIModelClient]:
    model = OpenAIModelClient(_settings(scripted))
    yield model
    await model.aclose()


async def test_happy_path_sends_the_schema_and_reads_text_usage_latency(
    scripted: ScriptedModel, client: OpenAIModelClient
) -> None:
    chart = ChartSpec(type="number", y=("purchases",), title="Purchases")
    reply = sql_reply(SQL, intent="count purchases", chart=chart)
    scripted.push(Reply(content=reply.content, prompt_tokens=812, completion_tokens=57))

    completion = await client.complete(QUESTION, json_schema=SQL_ANSWER_SCHEMA)

    assert completion.structured is True
    assert completion.usage.prompt_tokens == 812
    assert completion.usage.completion_tokens == 57
    assert completion.latency_ms > 0
    assert completion.model == "qwen-coder"
    answer = parse_sql_answer(completion.text)
    assert (answer.sql, answer.intent, answer.chart) == (SQL, "count purchases", chart)

    [request] = scripted.requests
    assert request["model"] == "qwen-coder"
    assert request["messages"] == [{"role": m.role, "content": m.content} for m in QUESTION]
    assert request["max_tokens"] == 700
    assert request["temperature"] == 0.0
    assert request["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SQL_ANSWER_SCHEMA, "strict": True},
    }
    # the old vLLM extra fields are ignored by current servers: never rely on them
    assert not any(key.startswith("guided_") for key in request)
    assert "structured_outputs" not in request
    assert "stream" not in request or request["stream"] is False


async def test_without_a_schema_no_response_format_and_max_tokens_override(
    scripted: ScriptedModel, client: OpenAIModelClient
) -> None:
    scripted.push(Reply(content="Purchases rose 12% week over week."))
    completion = await client.complete(QUESTION, max_tokens=64)
    assert completion.text == "Purchases rose 12% week over week."
    assert completion.structured is False
    # the server counted the tokens itself (no counts scripted)
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    [request] = scripted.requests
    assert "response_format" not in request
    assert request["max_tokens"] == 64


async def test_server_without_json_schema_is_asked_again_without_and_remembered() -> None:
    with ScriptedModel(json_schema_supported=False) as server:
        model = OpenAIModelClient(_settings(server))
        try:
            server.push(Reply(content=f"```sql\n{SQL}\n```"), sql_reply(SQL, intent="again"))
            first = await model.complete(QUESTION, json_schema=SQL_ANSWER_SCHEMA)
            assert first.structured is False
            assert model.structured is False
            assert parse_sql_answer(first.text).sql == SQL

            second = await model.complete(QUESTION, json_schema=SQL_ANSWER_SCHEMA)
            assert second.structured is False
            assert parse_sql_answer(second.text).intent == "again"
        finally:
            await model.aclose()
        formats = [r.get("response_format") for r in server.requests]
        # refused once, asked again without; the next question goes without at once
        assert [f is not None for f in formats] == [True, False, False]
        assert server.pending() == 0


async def test_a_422_also_falls_back(scripted: ScriptedModel, client: OpenAIModelClient) -> None:
    scripted.push(Reply(status=422, content="unprocessable"), Reply(content=SQL))
    completion = await client.complete(QUESTION, json_schema=SQL_ANSWER_SCHEMA)
    assert (completion.text, completion.structured, client.structured) == (SQL, False, False)


async def test_other_400s_are_errors_not_fallbacks(
    scripted: ScriptedModel, client: OpenAIModelClient
) -> None:
    message = "This model's maximum context length is 8192 tokens; your prompt has 9000."
    scripted.push(Reply(status=400, content=message))
    with pytest.raises(LLMError) as info:
        await client.complete(QUESTION, json_schema=SQL_ANSWER_SCHEMA)
    assert type(info.value) is LLMError
    assert "(400)" in info.value.message and "maximum context length" in info.value.message
    assert client.structured is True
    assert len(scripted.requests) == 1


async def test_timeout() -> None:
    with ScriptedModel() as server:
        model = OpenAIModelClient(_settings(server, llm_timeout_s=0.3))
        try:
            server.push(Reply(content=SQL, delay_s=10.0), Reply(content="SELECT 2"))
            with pytest.raises(LLMTimeout) as info:
                await model.complete(QUESTION)
            assert info.value.status == 504
            assert "llm_timeout_s" in info.value.message
            # the client is still usable after a timeout
            assert (await model.complete(QUESTION)).text == "SELECT 2"
        finally:
            await model.aclose()


async def test_server_down_then_up(scripted: ScriptedModel, client: OpenAIModelClient) -> None:
    scripted.push(Reply(content="SELECT 1"))
    assert (await client.complete(QUESTION)).text == "SELECT 1"

    scripted.stop()
    with pytest.raises(LLMUnavailable) as info:
        await client.complete(QUESTION)
    assert info.value.status == 503
    assert info.value.message == f"model server at {scripted.base_url} is not reachable"

    scripted.start()
    scripted.push(Reply(content="SELECT 2"))
    assert (await client.complete(QUESTION)).text == "SELECT 2"


@pytest.mark.parametrize(
    ("reply", "words"),
    [
        (Reply(status=500, content="CUDA out of memory"), ["(500)", "CUDA out of memory"]),
        (Reply(status=503, content="engine is loading"), ["(503)", "engine is loading"]),
        (Reply(status=429, content="too many requests"), ["(429)", "try again later"]),
        (Reply(status=401, content="bad key"), ["(401)", "llm_api_key", "CAUSALITY_LLM_API_KEY"]),
        (Reply(status=403, content="forbidden"), ["(403)", "llm_api_key"]),
        (Reply(status=502, raw_body=b"", content_type="text/plain"), ["(502)"]),
    ],
)
async def test_server_errors_are_unavailable(
    scripted: ScriptedModel, client: OpenAIModelClient, reply: Reply, words: list[str]
) -> None:
    scripted.push(reply)
    with pytest.raises(LLMUnavailable) as info:
        await client.complete(QUESTION, json_schema=SQL_ANSWER_SCHEMA)
    assert info.value.status == 503 and info.value.code == "llm_unavailable"
    for word in words:
        assert word in info.value.message
    # exactly one request: retries are the pipeline's to decide
    assert len(scripted.requests) == 1


async def test_unknown_model_names_the_setting() -> None:
    with ScriptedModel(model="served-model") as server:
        model = OpenAIModelClient(_settings(server, llm_model="other-model"))
        vllm = OpenAIModelClient(
            Settings(llm_provider="vllm", llm_base_url=server.base_url, llm_timeout_s=5.0)
        )
        try:
            with pytest.raises(LLMUnavailable) as info:
                await model.complete(QUESTION)
            assert "'other-model' (404)" in info.value.message
            assert "llm_model (CAUSALITY_LLM_MODEL)" in info.value.message
            with pytest.raises(LLMUnavailable) as info:
                await vllm.complete(QUESTION)
            assert "'causality-sql' (404)" in info.value.message
            assert "llm_vllm_model_id" in info.value.message
        finally:
            await model.aclose()
            await vllm.aclose()
        assert [r["model"] for r in server.requests] == ["other-model", "causality-sql"]


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        (Reply(raw_body=b'{"id": "x", "choices": [{"index": 0,'), LLMUnavailable, ["not JSON"]),
        (
            Reply(raw_body=b"<html><h1>Bad Gateway</h1></html>", content_type="text/html"),
            LLMUnavailable,
            ["not a chat completion", "Bad Gateway"],
        ),
        (Reply(raw_body=b"[1, 2, 3]"), LLMUnavailable, ["not a chat completion"]),
        (Reply(raw_body=b'{"object": "chat.completion"}'), LLMUnavailable, ["not a chat"]),
        (
            Reply(raw_body=b'{"object": "chat.completion", "choices": []}'),
            BadModelOutput,
            ["no choices"],
        ),
    ],
)
async def test_malformed_answers_are_clear_errors(
    scripted: ScriptedModel,
    client: OpenAIModelClient,
    reply: Reply,
    error: type[LLMError],
    words: list[str],
) -> None:
    scripted.push(reply)
    with pytest.raises(error) as info:
        await client.complete(QUESTION)
    for word in words:
        assert word in info.value.message


async def test_empty_content_is_empty_text_for_the_parser(
    scripted: ScriptedModel, client: OpenAIModelClient
) -> None:
    body = {"object": "chat.completion", "model": "m", "choices": [{"message": {"content": None}}]}
    scripted.push(Reply(raw_body=msgspec.json.encode(body)))
    completion = await client.complete(QUESTION)
    assert completion.text == ""
    assert completion.usage.prompt_tokens == 0
    with pytest.raises(BadModelOutput, match="empty"):
        parse_sql_answer(completion.text)


async def test_odd_usage_counts_are_zero_not_a_crash(
    scripted: ScriptedModel, client: OpenAIModelClient
) -> None:
    body = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "SELECT 1"}}],
        "usage": {"prompt_tokens": "many", "completion_tokens": -3},
    }
    scripted.push(Reply(raw_body=msgspec.json.encode(body)))
    completion = await client.complete(QUESTION)
    assert (completion.text, completion.usage.prompt_tokens) == ("SELECT 1", 0)
    assert completion.usage.completion_tokens == 0


async def test_responder_answers_from_the_request() -> None:
    def answer(request: dict[str, object]) -> Reply:
        messages = request["messages"]
        assert isinstance(messages, list)
        return sql_reply(f"SELECT '{messages[-1]['content']}' AS q")

    with ScriptedModel(responder=answer) as server:
        model = build_model_client(_settings(server))
        try:
            completion = await model.complete([Message("user", "hello")])
        finally:
            await model.aclose()
    assert parse_sql_answer(completion.text).sql == "SELECT 'hello' AS q"


async def test_an_empty_script_says_so(scripted: ScriptedModel, client: OpenAIModelClient) -> None:
    with pytest.raises(LLMUnavailable, match="no reply queued"):
        await client.complete(QUESTION)


def test_none_provider_says_how_to_configure() -> None:
    with pytest.raises(LLMNotConfigured) as info:
        build_model_client(Settings())
    message = info.value.message
    assert info.value.status == 503 and info.value.code == "llm_not_configured"
    for words in (
        "CAUSALITY_LLM_PROVIDER=openai",
        "CAUSALITY_LLM_BASE_URL=",
        "CAUSALITY_LLM_MODEL=",
        "CAUSALITY_LLM_API_KEY",
        "CAUSALITY_LLM_PROVIDER=vllm",
        "docs/llm.md",
    ):
        assert words in message


def test_openai_provider_needs_base_url_and_model() -> None:
    with pytest.raises(SettingsError, match="llm_base_url"):
        build_model_client(Settings(llm_provider="openai", llm_model="m"))
    with pytest.raises(SettingsError, match="llm_model"):
        build_model_client(Settings(llm_provider="openai", llm_base_url="http://h:8000/v1"))
