"""The ask pipeline: a question in plain English to SQL, rows, words and a chart, step by step.

``AskPipeline.ask`` streams ``Step`` objects: the context, then per attempt the model's SQL
followed by its rejection, its error or its result; then the explanation, the chart and the
answer, or a ``FailedStep`` saying why in words. A rejected or failing attempt's reason goes
back to the model, at most ``llm_max_retries`` times.

Safety does not depend on the model or on the prompt: every SQL text runs through
``QueryEngine.query``, which re-checks that it is one read-only SELECT over ``events`` and
scopes it to the caller's apps, so nothing written in a question or in event data can make
anything else run. ``validate_sql`` before it only rejects early, with reasons the model can
act on (a hallucinated column and the closest real one).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from causality.config import Settings
from causality.llm.chart import choose_chart
from causality.llm.examples import Example, select_examples
from causality.llm.explain import explain_result
from causality.llm.output import SQL_ANSWER_SCHEMA, parse_sql_answer
from causality.llm.prompt import build_sql_messages
from causality.llm.schema_context import SchemaContextProvider, render_schema
from causality.llm.types import (
    AnswerStep,
    BadModelOutput,
    ChartStep,
    Completion,
    ContextStep,
    ErrorStep,
    ExplanationStep,
    FailedStep,
    LLMError,
    Message,
    ModelClient,
    RejectedStep,
    ResultStep,
    SqlAnswer,
    SqlStep,
    Step,
    Turn,
)
from causality.llm.validate import InvalidSql, validate_sql
from causality.query.engine import QueryEngine, QueryResult
from causality.query.errors import QueryError, UnsafeQuery

SCHEMA_MAX_CHARS = 6000
EXAMPLES_PER_QUESTION = 4
TABLES = ("events",)
FEEDBACK_SQL_CHARS = 800


class Meter:
    """What one turn cost, filled in while its steps stream: the caller reads it afterwards
    (the gateway stores it in the audit trail even when the stream was cut short)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.prompt_chars = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.model_calls = 0
        self.model_latency_ms = 0.0
        self.attempts = 0

    def at_ms(self) -> float:
        """Milliseconds since the question arrived (each step's ``at_ms``)."""
        return round((time.perf_counter() - self.started) * 1000, 1)

    def add(self, completion: Completion) -> None:
        """Count one model answer."""
        self.model_calls += 1
        self.prompt_tokens += completion.usage.prompt_tokens
        self.completion_tokens += completion.usage.completion_tokens
        self.model_latency_ms += completion.latency_ms


@dataclass
class Outcome:
    """Where an SQL-producing loop ended: the answer and its result, or the last reason."""

    answer: SqlAnswer | None = None
    sql: str = ""  # what ran (the validator's text)
    result: QueryResult | None = None
    attempts: int = 0
    reason: str = ""


def prompt_chars(messages: Sequence[Message]) -> int:
    """The size of a prompt in characters (what the audit trail records)."""
    return sum(len(m.content) for m in messages)


def _feedback(attempt: int, sql: str, problem: str) -> str:
    """What the next attempt is told; the problem first, since the prompt caps its length."""
    if not sql:
        return f"Attempt {attempt}: {problem}. Answer again with the JSON object only."
    shown = sql if len(sql) <= FEEDBACK_SQL_CHARS else sql[:FEEDBACK_SQL_CHARS] + " …"
    return f"Attempt {attempt} was refused: {problem}\nIts SQL was:\n{shown}"


def _sql_step(meter: Meter, attempt: int, sql: str, intent: str, completion: Completion) -> SqlStep:
    return SqlStep(
        at_ms=meter.at_ms(),
        attempt=attempt,
        sql=sql,
        intent=intent,
        prompt_tokens=completion.usage.prompt_tokens,
        completion_tokens=completion.usage.completion_tokens,
        latency_ms=round(completion.latency_ms, 1),
    )


class AskPipeline:
    """Answers one question with self-correcting SQL; ``solve`` is reused by agent mode."""

    def __init__(
        self,
        settings: Settings,
        model: ModelClient,
        engine: QueryEngine,
        contexts: SchemaContextProvider,
    ) -> None:
        self.settings = settings
        self.model = model
        self.engine = engine
        self.contexts = contexts

    async def schema_text(self, app_ids: frozenset[str] | None) -> str:
        """The schema block of the prompt, for the caller's apps only (cached upstream)."""
        context = await self.contexts.get(app_ids)
        return render_schema(context, max_chars=SCHEMA_MAX_CHARS)

    def examples(self, question: str) -> list[Example]:
        """The curated examples closest to ``question``."""
        return select_examples(question, k=EXAMPLES_PER_QUESTION)

    def sql_messages(
        self,
        question: str,
        *,
        schema_text: str,
        examples: Sequence[Example],
        history: Sequence[Turn],
        feedback: Sequence[str],
    ) -> list[Message]:
        """The prompt for one attempt."""
        return build_sql_messages(
            question,
            schema_text=schema_text,
            examples=list(examples),
            dialect=self.engine.dialect,
            history=list(history),
            feedback=list(feedback),
        )

    async def ask(
        self,
        question: str,
        *,
        app_ids: frozenset[str] | None,
        history: list[Turn],
        meter: Meter | None = None,
    ) -> AsyncIterator[Step]:
        """Stream the steps answering ``question``; the last is an AnswerStep or FailedStep.

        Never raises for model or query failures: they end the stream as a FailedStep with
        the error's code (the gateway answers 503/504 itself when that happens before the
        first model answer).
        """
        meter = meter or Meter()
        outcome = Outcome()
        try:
            schema_text = await self.schema_text(app_ids)
            examples = self.examples(question)
            first = self.sql_messages(
                question, schema_text=schema_text, examples=examples, history=history, feedback=()
            )
            meter.prompt_chars = prompt_chars(first)
            yield ContextStep(
                at_ms=meter.at_ms(),
                prompt_chars=meter.prompt_chars,
                examples=tuple(e.question for e in examples),
                tables=TABLES,
            )
            async for step in self.solve(
                question,
                app_ids=app_ids,
                history=history,
                schema_text=schema_text,
                examples=examples,
                meter=meter,
                outcome=outcome,
            ):
                yield step
            if outcome.answer is None or outcome.result is None:
                yield FailedStep(
                    at_ms=meter.at_ms(),
                    code="retries_exhausted",
                    reason=f"no runnable SQL after {outcome.attempts} attempts; the last "
                    f"problem was: {outcome.reason}",
                    attempts=outcome.attempts,
                )
                return
            async for step in self.finish(question, outcome, meter=meter):
                yield step
        except LLMError as exc:
            yield FailedStep(
                at_ms=meter.at_ms(), code=exc.code, reason=exc.message, attempts=outcome.attempts
            )
        except QueryError as exc:  # the warehouse itself failed, not the model's SQL
            yield FailedStep(
                at_ms=meter.at_ms(), code=exc.code, reason=exc.message, attempts=outcome.attempts
            )

    async def solve(
        self,
        question: str,
        *,
        app_ids: frozenset[str] | None,
        history: Sequence[Turn],
        schema_text: str,
        examples: Sequence[Example],
        meter: Meter,
        outcome: Outcome,
    ) -> AsyncIterator[Step]:
        """Ask for SQL, check it, run it; feed each refusal back, up to the retry budget.

        Yields SqlStep then RejectedStep, ErrorStep or ResultStep per attempt and leaves the
        answer and result (or the last reason) in ``outcome``. Model errors and transient
        warehouse errors propagate: retrying the model cannot fix them.
        """
        feedback: list[str] = []
        dialect = self.engine.dialect
        for attempt in range(1, self.settings.llm_max_retries + 2):
            outcome.attempts = attempt
            meter.attempts += 1
            messages = self.sql_messages(
                question,
                schema_text=schema_text,
                examples=examples,
                history=history,
                feedback=feedback,
            )
            completion = Completion(text="")
            try:
                completion = await self.model.complete(messages, json_schema=SQL_ANSWER_SCHEMA)
                meter.add(completion)
                answer = parse_sql_answer(completion.text)
            except BadModelOutput as exc:  # unreadable, or no answer at all: ask again
                reason = f"the answer was not the JSON object asked for ({exc.message})"
                yield _sql_step(meter, attempt, "", "", completion)
                yield RejectedStep(at_ms=meter.at_ms(), attempt=attempt, sql="", reason=reason)
                outcome.reason = reason
                feedback.append(_feedback(attempt, "", reason))
                continue
            sql = answer.sql.strip()
            yield _sql_step(meter, attempt, sql, answer.intent, completion)
            try:
                # the engines take DuckDB SQL: what the validator hands back is what runs
                runnable = validate_sql(sql, dialect=dialect)
                result = await self.engine.query(
                    runnable, limit=self.settings.llm_result_rows, app_ids=app_ids
                )
            except (InvalidSql, UnsafeQuery) as exc:
                reason = exc.reason if isinstance(exc, InvalidSql) else exc.message
                yield RejectedStep(at_ms=meter.at_ms(), attempt=attempt, sql=sql, reason=reason)
                outcome.reason = reason
                feedback.append(_feedback(attempt, sql, reason))
                continue
            except QueryError as exc:
                if exc.transient:
                    raise
                yield ErrorStep(at_ms=meter.at_ms(), attempt=attempt, sql=sql, error=exc.message)
                outcome.reason = exc.message
                feedback.append(_feedback(attempt, sql, f"it failed when run: {exc.message}"))
                continue
            outcome.answer, outcome.sql, outcome.result = answer, runnable, result
            yield ResultStep(
                at_ms=meter.at_ms(),
                sql=runnable,
                columns=tuple(result.columns),
                types=tuple(result.types),
                rows=tuple(tuple(r) for r in result.rows),
                row_count=len(result.rows),
                truncated=result.truncated,
                elapsed_ms=round(result.elapsed_ms, 1),
            )
            return

    async def finish(self, question: str, outcome: Outcome, *, meter: Meter) -> AsyncIterator[Step]:
        """Explanation (from the result's summary only), chart and answer."""
        answer, result, sql = outcome.answer, outcome.result, outcome.sql
        assert answer is not None and result is not None
        explanation = await explain_result(
            self.model,
            self.settings,
            question=question,
            sql=sql,
            columns=result.columns,
            types=result.types,
            rows=result.rows,
            truncated=result.truncated,
        )
        meter.add(explanation.completion)
        yield ExplanationStep(
            at_ms=meter.at_ms(),
            text=explanation.text,
            prompt_tokens=explanation.completion.usage.prompt_tokens,
            completion_tokens=explanation.completion.usage.completion_tokens,
        )
        chart = choose_chart(answer.chart, result.columns, result.types, result.rows)
        yield ChartStep(at_ms=meter.at_ms(), chart=chart)
        yield AnswerStep(
            at_ms=meter.at_ms(),
            sql=sql,
            intent=answer.intent,
            explanation=explanation.text,
            chart=chart,
            attempts=outcome.attempts,
            prompt_tokens=meter.prompt_tokens,
            completion_tokens=meter.completion_tokens,
        )
