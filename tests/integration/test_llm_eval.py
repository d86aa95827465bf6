"""`causality eval-llm` end to end: the eval dataset, every gold SQL, the harness and the CLI.

The model is the scripted OpenAI-compatible server (tests/llm_server.py) reached through the
real client; the warehouse is built by the real generator, validator and Parquet writer and
read by the real DuckDB engine. The script answers the gold SQL for most questions, a wrong
but valid SQL for some, invalid SQL first for others and invalid SQL every time for one, and
the report must say exactly that.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from click.testing import CliRunner

from causality.cli import main
from causality.config import Settings
from causality.llm.client import build_model_client
from causality.llm.eval.compare import compare_results
from causality.llm.eval.dataset import (
    EVAL_APP_IDS,
    EvalDataset,
    Question,
    build_eval_warehouse,
    load_questions,
    midnight,
)
from causality.llm.eval.harness import (
    ABORT_AFTER_UNAVAILABLE,
    EvalAborted,
    EvalReport,
    run_eval,
)
from causality.llm.prompt import quote_question
from causality.query.duckdb_engine import DuckDBEngine
from causality.query.engine import QueryEngine
from tests.llm_server import Reply, ScriptedModel, sql_reply

pytestmark = pytest.mark.integration

END = datetime(2026, 3, 2, tzinfo=UTC)
QUESTIONS = load_questions()
BY_ID = {q.id: q for q in QUESTIONS}

WRONG_SQL = "SELECT count(*) + 1 AS n FROM events"
WRONG = frozenset({"count-devices", "trend-daily-signups", "breakdown-locales", "revenue-aov-usd"})
# a hallucinated column, forbidden DDL, a read_csv: each refused, then the gold SQL
INVALID_FIRST = {
    "count-purchases": "SELECT no_such_column FROM events",
    "funnel-abandoned-carts": "DROP TABLE events",
    "crashes-per-app": "SELECT * FROM read_csv('/etc/passwd')",
}
ALWAYS_INVALID = frozenset({"sessions-avg-events"})  # its follow-up then gets the gold SQL
EXPLANATION = "The numbers speak for themselves."


def _settings(warehouse: str, model: ScriptedModel) -> Settings:
    return Settings(
        warehouse_uri=warehouse,
        llm_provider="openai",
        llm_base_url=model.base_url,
        llm_model="scripted",
        llm_max_retries=2,
        llm_timeout_s=30.0,
    )


class Script:
    """Answers each question as planned; counts the SQL requests per question."""

    def __init__(self, questions: list[Question]) -> None:
        self.questions = questions
        self.sql_requests: dict[str, int] = {}
        self.requests_by_question: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, body: dict[str, Any]) -> Reply:
        if "response_format" not in body:  # the explanation of a result
            return Reply(content=EXPLANATION)
        last = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
        matches = [q for q in self.questions if quote_question(q.question) in last]
        assert len(matches) == 1, f"cannot tell the question of {last[:200]!r}"
        question = matches[0]
        attempt = self.sql_requests.get(question.id, 0) + 1
        self.sql_requests[question.id] = attempt
        self.requests_by_question.setdefault(question.id, []).append(body)
        if question.id in WRONG:
            return sql_reply(WRONG_SQL, intent="a wrong answer")
        if question.id in ALWAYS_INVALID:
            return sql_reply("SELECT no_such_column FROM events", intent="hopeless")
        if question.id in INVALID_FIRST and attempt == 1:
            return sql_reply(INVALID_FIRST[question.id], intent="a bad first try")
        return sql_reply(question.gold_sql.strip(), intent=question.id)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> EvalDataset:
    """Two days of demo traffic: the smallest dataset every gold SQL must work on."""
    return build_eval_warehouse(tmp_path_factory.mktemp("eval") / "warehouse", days=2, end=END)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def engine(dataset: EvalDataset) -> AsyncIterator[QueryEngine]:
    engine = DuckDBEngine(settings=Settings(warehouse_uri=dataset.path))
    yield engine
    await engine.close()


async def _gold_results(engine: QueryEngine) -> dict[str, list[list[Any]]]:
    out = {}
    for question in QUESTIONS:
        result = await engine.query(question.gold_sql, limit=10_000)
        assert not result.truncated, question.id
        out[question.id] = result.rows
    return out


# -- the dataset and the gold SQL ---------------------------------------------------------------


async def test_dataset_is_the_validated_demo_traffic_of_the_span(
    dataset: EvalDataset, engine: QueryEngine
) -> None:
    result = await engine.query(
        "SELECT count(*), count(DISTINCT id), min(timestamp), max(timestamp), "
        "min(received_at) >= min(timestamp), list(DISTINCT app_id ORDER BY app_id) FROM events"
    )
    events, ids, first, last, received_after, apps = result.rows[0]
    assert events == dataset.events > 10_000
    assert ids == events  # every event has its own id
    assert datetime.fromisoformat(first) >= datetime.fromtimestamp(dataset.start_ms / 1000, UTC)
    assert datetime.fromisoformat(last) < END
    assert dataset.end_ms == int(END.timestamp() * 1000)
    assert received_after is True
    assert apps == sorted(EVAL_APP_IDS)


async def test_every_gold_sql_returns_rows(engine: QueryEngine) -> None:
    assert len(QUESTIONS) >= 80
    results = await _gold_results(engine)
    empty = [qid for qid, rows in results.items() if not rows]
    assert empty == []


async def test_gold_results_are_the_same_on_a_rebuilt_dataset(
    engine: QueryEngine, tmp_path: Path
) -> None:
    first = await _gold_results(engine)
    rebuilt = build_eval_warehouse(tmp_path / "again", days=2, end=END)
    other = DuckDBEngine(settings=Settings(warehouse_uri=rebuilt.path))
    try:
        second = await _gold_results(other)
    finally:
        await other.close()
    differ = [
        q.id
        for q in QUESTIONS
        if not compare_results(first[q.id], second[q.id], ordered=q.ordered).match
    ]
    assert differ == []


def test_dataset_content_does_not_depend_on_its_end(tmp_path: Path) -> None:
    a = build_eval_warehouse(tmp_path / "a", days=1, end=END)
    b = build_eval_warehouse(tmp_path / "b", days=1, end=datetime(2025, 1, 7, 13, 5, tzinfo=UTC))
    assert a.events == b.events
    assert b.end_ms == int(datetime(2025, 1, 7, tzinfo=UTC).timestamp() * 1000)
    assert midnight(None) <= datetime.now(UTC)


def test_build_refuses_a_folder_with_files(tmp_path: Path) -> None:
    (tmp_path / "stray.txt").write_text("x")
    with pytest.raises(ValueError, match="must be an empty or new directory"):
        build_eval_warehouse(tmp_path, days=1)


async def test_ordered_questions_have_no_ties_on_the_default_dataset(tmp_path: Path) -> None:
    """Top-N answers that break ties differently from the gold SQL would be judged wrong."""
    default = build_eval_warehouse(tmp_path / "week", end=END)
    engine = DuckDBEngine(settings=Settings(warehouse_uri=default.path))
    tied = []
    try:
        for question in (q for q in QUESTIONS if q.ordered):
            limit = re.search(r"LIMIT (\d+)\s*$", question.gold_sql.strip())
            sql = re.sub(r"LIMIT \d+\s*$", "", question.gold_sql.strip())
            rows = (await engine.query(sql, limit=1000)).rows
            shown = rows[: int(limit.group(1)) + 1] if limit else rows
            measures = [row[-1] for row in shown]
            if len(set(measures)) != len(measures):
                tied.append(question.id)
    finally:
        await engine.close()
    assert tied == []


# -- the harness against the scripted model -----------------------------------------------------


async def _run(
    dataset: EvalDataset, engine: QueryEngine, questions: list[Question]
) -> tuple[EvalReport, Script]:
    script = Script(questions)
    with ScriptedModel(responder=script) as model:
        settings = _settings(dataset.path, model)
        client = build_model_client(settings)
        try:
            report = await run_eval(
                settings, engine=engine, model=client, questions=questions, question_set=QUESTIONS
            )
        finally:
            await client.aclose()
    return report, script


async def test_harness_reports_what_the_model_was_scripted_to_do(
    dataset: EvalDataset, engine: QueryEngine
) -> None:
    report, script = await _run(dataset, engine, QUESTIONS)
    results = {r.id: r for r in report.results}
    summary = report.summary
    n = len(QUESTIONS)

    assert summary.questions == summary.scored == n
    assert summary.gold_errors == 0
    assert summary.correct == n - len(WRONG) - len(ALWAYS_INVALID)
    assert summary.execution_accuracy == pytest.approx(summary.correct / n)
    assert summary.valid_sql == n - len(ALWAYS_INVALID)
    assert summary.valid_sql_rate == pytest.approx((n - len(ALWAYS_INVALID)) / n)
    assert summary.retries == len(INVALID_FIRST) + 2 * len(ALWAYS_INVALID)
    assert summary.questions_retried == len(INVALID_FIRST) + len(ALWAYS_INVALID)
    assert summary.failed == 0

    for qid in WRONG:
        assert results[qid].outcome == "wrong"
        assert results[qid].valid_sql and not results[qid].correct
        assert results[qid].sql == WRONG_SQL
        assert results[qid].reason
    for qid in INVALID_FIRST:
        assert results[qid].outcome == "correct"
        assert (results[qid].attempts, results[qid].retries) == (2, 1)
        assert script.sql_requests[qid] == 2
    for qid in ALWAYS_INVALID:
        assert results[qid].outcome == "invalid"
        assert not results[qid].valid_sql
        assert (results[qid].attempts, results[qid].retries) == (3, 2)
        assert results[qid].error_code == "retries_exhausted"
        assert results[qid].model_calls == 3  # no explanation without a result
    plain = [r for r in report.results if r.id not in WRONG | ALWAYS_INVALID | set(INVALID_FIRST)]
    assert all(r.outcome == "correct" and r.attempts == 1 for r in plain)
    assert all(r.model_calls == 2 for r in plain)  # the SQL and the explanation
    assert all(r.gold_rows == r.rows > 0 for r in plain)

    # tokens are the server's counts, summed; latency percentiles come from the turns
    assert summary.prompt_tokens == sum(r.prompt_tokens for r in report.results) > 0
    assert summary.completion_tokens == sum(r.completion_tokens for r in report.results) > 0
    latencies = sorted(r.latency_ms for r in report.results)
    assert latencies[0] <= summary.latency_p50_ms <= summary.latency_p95_ms <= latencies[-1]
    assert summary.by_tag["followup"].questions == sum("followup" in q.tags for q in QUESTIONS)
    assert summary.by_tag["counts"].correct < summary.by_tag["counts"].questions  # WRONG hits
    data_end = datetime.fromisoformat(report.data_end)
    assert END - timedelta(hours=1) < data_end < END


async def test_follow_ups_carry_the_conversation(dataset: EvalDataset, engine: QueryEngine) -> None:
    chain = [BY_ID[i] for i in ("count-purchases", "count-purchases-by-platform")]
    chain.append(BY_ID["count-purchases-by-platform-last-day"])
    chain += [BY_ID["sessions-avg-events"], BY_ID["sessions-avg-events-by-platform"]]
    _, script = await _run(dataset, engine, chain)

    def previous_sql(question_id: str) -> list[str]:
        body = script.requests_by_question[question_id][0]
        return [json.loads(m["content"])["sql"] for m in _conversation(body)]

    # the model's own answers (the gold SQL after its retry), oldest first
    assert previous_sql("count-purchases-by-platform-last-day") == [
        BY_ID["count-purchases"].gold_sql.strip(),
        BY_ID["count-purchases-by-platform"].gold_sql.strip(),
    ]
    # the model never answered sessions-avg-events: its follow-up gets the gold SQL
    assert previous_sql("sessions-avg-events-by-platform") == [
        BY_ID["sessions-avg-events"].gold_sql.strip()
    ]
    assert previous_sql("count-purchases") == []


def _conversation(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The assistant turns of the conversation (worked examples left out)."""
    messages = body["messages"]
    out = []
    for before, message in itertools.pairwise(messages):
        if message["role"] == "assistant" and not before["content"].startswith("(worked"):
            out.append(message)
    return out


async def test_a_broken_gold_sql_is_reported_not_scored(
    dataset: EvalDataset, engine: QueryEngine
) -> None:
    broken = Question(id="broken", question="How many events?", gold_sql="SELECT nope FROM events")
    report, _ = await _run(dataset, engine, [broken, BY_ID["count-events"]])
    assert [r.outcome for r in report.results] == ["gold_error", "correct"]
    assert report.results[0].reason.startswith("query_failed")
    assert (report.summary.scored, report.summary.gold_errors) == (1, 1)
    assert report.summary.execution_accuracy == 1.0


async def test_a_model_server_that_is_down_stops_the_run(
    dataset: EvalDataset, engine: QueryEngine
) -> None:
    model = ScriptedModel(responder=Script(QUESTIONS))
    settings = _settings(dataset.path, model)  # nothing listens on its port
    client = build_model_client(settings)
    seen: list[str] = []
    try:
        with pytest.raises(EvalAborted, match="the model server is unavailable"):
            await run_eval(
                settings,
                engine=engine,
                model=client,
                questions=QUESTIONS[:10],
                on_result=lambda _, r: seen.append(f"{r.outcome}:{r.error_code}"),
            )
    finally:
        await client.aclose()
    assert seen == ["failed:llm_unavailable"] * ABORT_AFTER_UNAVAILABLE


async def test_an_empty_warehouse_is_refused(tmp_path: Path) -> None:
    empty = DuckDBEngine(settings=Settings(warehouse_uri=str(tmp_path / "empty")))
    with ScriptedModel(responder=Script(QUESTIONS)) as model:
        client = build_model_client(_settings(str(tmp_path / "empty"), model))
        try:
            with pytest.raises(EvalAborted, match="holds no events"):
                await run_eval(
                    _settings(str(tmp_path / "empty"), model),
                    engine=empty,
                    model=client,
                    questions=QUESTIONS[:1],
                )
        finally:
            await client.aclose()
            await empty.close()
    assert model.requests == []


# -- the CLI -------------------------------------------------------------------------------------


def _cli(model: ScriptedModel, tmp_path: Path) -> Callable[..., Any]:
    runner = CliRunner()
    env = {
        "CAUSALITY_LLM_PROVIDER": "openai",
        "CAUSALITY_LLM_BASE_URL": model.base_url,
        "CAUSALITY_LLM_MODEL": "scripted",
    }

    def invoke(*args: str) -> Any:
        return runner.invoke(
            main, ["--data-dir", str(tmp_path / "data"), "eval-llm", *args], env=env
        )

    return invoke


def test_cli_json_report_over_an_existing_dataset(dataset: EvalDataset, tmp_path: Path) -> None:
    tagged = [q for q in QUESTIONS if "crashes" in q.tags]
    with ScriptedModel(responder=Script(tagged)) as model:
        out = tmp_path / "report.json"
        result = _cli(model, tmp_path)(
            "--data", dataset.path, "--tags", "crashes", "--json", "--out", str(out)
        )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads(out.read_text())
    assert [r["id"] for r in report["results"]] == [q.id for q in tagged]
    assert report["summary"]["correct"] == len(tagged)
    assert report["summary"]["retries"] == 1  # crashes-per-app: the gold SQL after a refusal
    assert report["model"] == "scripted"
    assert re.search(rf"\[\d+/{len(tagged)}\] crashes-per-app: correct, 2 attempt", result.stderr)


def test_cli_builds_a_dataset_and_prints_a_table(tmp_path: Path) -> None:
    picked = QUESTIONS[:3]
    with ScriptedModel(responder=Script(picked)) as model:
        result = _cli(model, tmp_path)("--days", "1", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "built the eval dataset" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["question", "outcome", "tries", "ms", "tokens", "why"]
    assert lines[2].split()[:3] == ["count-events", "correct", "1"]
    assert lines[3].split()[:2] == ["count-devices", "wrong"]
    assert "execution accuracy 66.7% (2/3)" in result.stdout


def test_cli_reuses_or_fills_a_data_folder(dataset: EvalDataset, tmp_path: Path) -> None:
    with ScriptedModel(responder=Script(QUESTIONS[:1])) as model:
        invoke = _cli(model, tmp_path)
        fresh = tmp_path / "kept"
        built = invoke("--data", str(fresh), "--days", "1", "--limit", "1")
        assert built.exit_code == 0, built.output
        assert any(fresh.rglob("*.parquet"))
        again = invoke("--data", str(fresh), "--days", "1", "--limit", "1")
    assert again.exit_code != 0
    assert "--days and --seed build a dataset" in again.output


def test_cli_errors_name_what_is_wrong(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    unset = runner.invoke(main, [*data, "eval-llm", "--limit", "1"], env={})
    assert unset.exit_code != 0
    assert "no language model is configured" in unset.output
    bad_tag = runner.invoke(main, [*data, "eval-llm", "--tags", "nonsense"])
    assert bad_tag.exit_code == 2
    assert "--tags" in bad_tag.output and "crashes" in bad_tag.output
    broken = tmp_path / "q.json"
    broken.write_text(json.dumps([{"id": "x", "question": "?", "gold_sql": "SELECT 1", "f": 1}]))
    bad_set = runner.invoke(main, [*data, "eval-llm", "--questions", str(broken)])
    assert bad_set.exit_code == 2
    assert "question[0]" in bad_set.output and "f" in bad_set.output
