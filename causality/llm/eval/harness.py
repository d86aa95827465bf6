"""Running the question set through the real ask pipeline and scoring what comes back.

For each question the harness runs ``AskPipeline.ask`` exactly as the API does (same prompt,
validation, retries and explanation), runs the gold SQL on the same engine, and compares
the two results with ``compare.compare_results``. Follow-ups get their chain of earlier
questions as history: the model's own SQL for an earlier question when it ran in this
evaluation and produced runnable SQL, else that question's gold SQL (so a follow-up is
judged on the follow-up, not on an earlier miss, and ``--tags`` may pick it alone).

The model is told nothing about the gold SQL. The schema context is built as of the
dataset's last event (the eval data is in the past; "seen in the last 30 days" must mean the
data's last 30 days). The engine's row cap for comparison is ``COMPARE_ROWS``; an answer the
pipeline truncated is run again with that cap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, Literal

import msgspec

from causality.config import Settings
from causality.llm.eval.compare import compare_results
from causality.llm.eval.dataset import Question
from causality.llm.pipeline import AskPipeline, Meter
from causality.llm.schema_context import SchemaContextProvider
from causality.llm.types import AnswerStep, FailedStep, ModelClient, ResultStep, Step, Turn
from causality.query.engine import QueryEngine, QueryResult
from causality.query.errors import QueryError

COMPARE_ROWS: Final = 10_000
ABORT_AFTER_UNAVAILABLE: Final = 3
"""Consecutive questions the model server was down for before the run gives up."""

Outcome = Literal["correct", "wrong", "invalid", "failed", "gold_error"]
"""correct/wrong: the final SQL ran and its result matched the gold result or not; invalid:
no attempt produced SQL that passed validation and ran; failed: the model or the warehouse
failed (timeout, server down); gold_error: the gold SQL itself did not run (a broken set)."""


class EvalAborted(Exception):
    """The evaluation cannot go on (no data, model server down); the message says why."""


class QuestionResult(msgspec.Struct, kw_only=True):
    """How one question went: the verdict, the final SQL and what answering it cost."""

    id: str
    question: str
    tags: tuple[str, ...]
    outcome: Outcome
    correct: bool
    valid_sql: bool
    reason: str = ""
    sql: str = ""
    follows: str | None = None
    attempts: int = 0
    retries: int = 0
    rows: int = 0
    gold_rows: int = 0
    latency_ms: float = 0.0
    model_latency_ms: float = 0.0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error_code: str = ""


class TagScore(msgspec.Struct):
    """Accuracy over the questions carrying one tag."""

    questions: int
    correct: int
    execution_accuracy: float


class EvalSummary(msgspec.Struct, kw_only=True):
    """The headline numbers. Rates are over ``scored`` questions (gold errors left out);
    latency percentiles use the nearest-rank method over whole turns (explanation included)."""

    questions: int
    scored: int
    correct: int
    execution_accuracy: float
    valid_sql: int
    valid_sql_rate: float
    failed: int
    gold_errors: int
    retries: int
    questions_retried: int
    latency_p50_ms: float
    latency_p95_ms: float
    prompt_tokens: int
    completion_tokens: int
    prompt_tokens_per_question: float
    completion_tokens_per_question: float
    by_tag: dict[str, TagScore]


class EvalReport(msgspec.Struct, kw_only=True):
    """The whole run, as ``--json`` and ``--out`` write it."""

    provider: str
    model: str
    base_url: str
    warehouse: str
    data_end: str
    started_at: str
    duration_s: float
    summary: EvalSummary
    results: list[QuestionResult]


async def run_eval(
    settings: Settings,
    *,
    engine: QueryEngine,
    model: ModelClient,
    questions: Sequence[Question],
    question_set: Sequence[Question] = (),
    on_result: Callable[[int, QuestionResult], None] | None = None,
) -> EvalReport:
    """Ask every question in order and score it; ``question_set`` (the full set) supplies
    earlier questions of a follow-up chain that ``questions`` left out."""
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    data_end = await _data_end(engine)
    contexts = SchemaContextProvider(engine, settings, now=lambda: data_end)
    pipeline = AskPipeline(settings, model, engine, contexts)
    known = {q.id: q for q in (*question_set, *questions)}
    answered: dict[str, str] = {}
    results: list[QuestionResult] = []
    down = 0
    for index, question in enumerate(questions):
        history = _history(question, known, answered)
        result = await _ask_one(pipeline, engine, question, history)
        if result.valid_sql:
            answered[question.id] = result.sql
        results.append(result)
        if on_result is not None:
            on_result(index, result)
        down = down + 1 if result.error_code == "llm_unavailable" else 0
        if down >= ABORT_AFTER_UNAVAILABLE:
            raise EvalAborted(f"the model server is unavailable: {result.reason}")
    return EvalReport(
        provider=settings.llm_provider,
        model=_model_name(settings),
        base_url=settings.llm_base_url,
        warehouse=settings.warehouse,
        data_end=data_end.isoformat(),
        started_at=started_at.isoformat(),
        duration_s=round(time.perf_counter() - clock, 3),
        summary=summarize(results),
        results=results,
    )


def summarize(results: Sequence[QuestionResult]) -> EvalSummary:
    """The headline numbers of a run (see ``EvalSummary``)."""
    scored = [r for r in results if r.outcome != "gold_error"]
    correct = sum(r.correct for r in scored)
    valid = sum(r.valid_sql for r in scored)
    latencies = sorted(r.latency_ms for r in scored)
    prompt = sum(r.prompt_tokens for r in results)
    completion = sum(r.completion_tokens for r in results)
    tags: dict[str, list[QuestionResult]] = {}
    for r in scored:
        for tag in r.tags:
            tags.setdefault(tag, []).append(r)
    return EvalSummary(
        questions=len(results),
        scored=len(scored),
        correct=correct,
        execution_accuracy=_ratio(correct, len(scored)),
        valid_sql=valid,
        valid_sql_rate=_ratio(valid, len(scored)),
        failed=sum(r.outcome == "failed" for r in scored),
        gold_errors=len(results) - len(scored),
        retries=sum(r.retries for r in scored),
        questions_retried=sum(r.retries > 0 for r in scored),
        latency_p50_ms=percentile(latencies, 0.5),
        latency_p95_ms=percentile(latencies, 0.95),
        prompt_tokens=prompt,
        completion_tokens=completion,
        prompt_tokens_per_question=round(_ratio(prompt, len(results)), 1),
        completion_tokens_per_question=round(_ratio(completion, len(results)), 1),
        by_tag={
            tag: TagScore(
                questions=len(rs),
                correct=sum(r.correct for r in rs),
                execution_accuracy=_ratio(sum(r.correct for r in rs), len(rs)),
            )
            for tag, rs in sorted(tags.items())
        },
    )


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q * len(sorted_values)))
    return round(sorted_values[rank - 1], 1)


# -- one question ------------------------------------------------------------------------------


async def _ask_one(
    pipeline: AskPipeline, engine: QueryEngine, question: Question, history: list[Turn]
) -> QuestionResult:
    meter = Meter()
    started = time.perf_counter()
    last_result: ResultStep | None = None
    terminal: Step | None = None
    async for step in pipeline.ask(question.question, app_ids=None, history=history, meter=meter):
        if isinstance(step, ResultStep):
            last_result = step
        elif isinstance(step, AnswerStep | FailedStep):
            terminal = step
    latency_ms = (time.perf_counter() - started) * 1000
    attempts = meter.attempts
    base: dict[str, Any] = {
        "id": question.id,
        "question": question.question,
        "tags": question.tags,
        "follows": question.follows,
        "attempts": attempts,
        "retries": max(0, attempts - 1),
        "latency_ms": round(latency_ms, 1),
        "model_latency_ms": round(meter.model_latency_ms, 1),
        "model_calls": meter.model_calls,
        "prompt_tokens": meter.prompt_tokens,
        "completion_tokens": meter.completion_tokens,
    }
    gold, gold_problem = await _run(engine, question.gold_sql)
    if gold is None:
        return QuestionResult(
            **base, outcome="gold_error", correct=False, valid_sql=False, reason=gold_problem
        )
    base["gold_rows"] = len(gold.rows)
    if not isinstance(terminal, AnswerStep) or last_result is None:
        failed = terminal if isinstance(terminal, FailedStep) else None
        code = failed.code if failed is not None else "no_answer"
        reason = failed.reason if failed is not None else "the pipeline ended without an answer"
        outcome: Outcome = "invalid" if code == "retries_exhausted" else "failed"
        return QuestionResult(
            **base, outcome=outcome, correct=False, valid_sql=False, reason=reason, error_code=code
        )
    rows: Sequence[Sequence[Any]] = last_result.rows
    if last_result.truncated:
        rerun, problem = await _run(engine, terminal.sql)
        if rerun is None:
            reason = f"running the answer again without the row cap failed: {problem}"
            return QuestionResult(
                **base,
                outcome="wrong",
                correct=False,
                valid_sql=True,
                sql=terminal.sql,
                reason=reason,
            )
        rows = rerun.rows
    verdict = compare_results(gold.rows, rows, ordered=question.ordered)
    return QuestionResult(
        **base,
        outcome="correct" if verdict.match else "wrong",
        correct=verdict.match,
        valid_sql=True,
        sql=terminal.sql,
        rows=len(rows),
        reason=verdict.reason,
    )


async def _run(engine: QueryEngine, sql: str) -> tuple[QueryResult | None, str]:
    """Run SQL for comparison: the result, or None and why (a capped result counts as why)."""
    try:
        result = await engine.query(sql, limit=COMPARE_ROWS, app_ids=None)
    except QueryError as exc:
        return None, f"{exc.code}: {exc.message}"
    if result.truncated:
        return None, f"more than {COMPARE_ROWS} rows: too many to compare"
    return result, ""


def _history(
    question: Question, known: dict[str, Question], answered: dict[str, str]
) -> list[Turn]:
    """The earlier questions of ``question``'s follow-up chain, oldest first."""
    chain: list[Question] = []
    parent = known.get(question.follows) if question.follows else None
    while parent is not None and parent not in chain:
        chain.append(parent)
        parent = known.get(parent.follows) if parent.follows else None
    return [
        Turn(question=q.question, sql=answered.get(q.id, q.gold_sql.strip()))
        for q in reversed(chain)
    ]


async def _data_end(engine: QueryEngine) -> datetime:
    """The time of the warehouse's last event: the eval's "now"."""
    try:
        result = await engine.query("SELECT max(timestamp) AS last FROM events", limit=1)
    except QueryError as exc:
        raise EvalAborted(f"cannot read the warehouse: {exc.message}") from exc
    value = result.rows[0][0] if result.rows else None
    if value is None:
        raise EvalAborted(
            "the warehouse holds no events: build the eval dataset first (omit --data)"
        )
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise EvalAborted(f"unexpected max(timestamp) value {value!r}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _model_name(settings: Settings) -> str:
    return settings.llm_vllm_model_id if settings.llm_provider == "vllm" else settings.llm_model


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0
