"""Agent mode: an open question ("why did purchases drop yesterday?") answered by a plan of
several analyses, each run like an ordinary question, then a synthesis of what they showed.

The model plans at most ``llm_agent_max_steps`` analyses (periods compared, breakdowns by
platform, app version, country, funnel step); each goes through the ask pipeline's own SQL
generation, validation, scoped execution and self-correction, so agent mode can run nothing a
single question could not. Steps stream as they happen: the plan, per analysis its SQL, result
and finding, then the synthesis with the numbers behind it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec

from causality.llm.output import parse_json_object
from causality.llm.pipeline import TABLES, AskPipeline, Meter, Outcome, prompt_chars
from causality.llm.prompt import build_plan_messages, build_synthesis_messages
from causality.llm.summary import summarize_result
from causality.llm.types import (
    AnswerStep,
    BadModelOutput,
    ContextStep,
    ExplanationStep,
    FailedStep,
    FindingStep,
    LLMError,
    PlanStep,
    Step,
    Turn,
)
from causality.query.errors import QueryError

FINDING_ROWS = 10
SYNTHESIS_MAX_TOKENS = 600

PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "question": {"type": "string"}},
                "required": ["title", "question"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["steps"],
    "additionalProperties": False,
}


class Analysis(msgspec.Struct, frozen=True):
    """One planned sub-analysis: a short title and a self-contained question for SQL."""

    title: str
    question: str


class _Plan(msgspec.Struct):
    steps: list[Analysis]


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """What one analysis showed, as the synthesis prompt receives it (a compact summary of
    the result, never its raw rows beyond the summary cap)."""

    title: str
    question: str
    sql: str
    ok: bool
    summary: Any


def default_plan(question: str) -> list[Analysis]:
    """The analyses run when the model's plan is unreadable: the usual suspects for a change."""
    q = question.strip()
    return [
        Analysis(
            "Most recent day vs the week before",
            f"{q} — compare the count per day for the last 8 days.",
        ),
        Analysis("By platform", f"{q} — break it down by platform, per day for the last 8 days."),
        Analysis(
            "By app version", f"{q} — break it down by app_version for the last 8 days, top 10."
        ),
        Analysis("By country", f"{q} — break it down by locale for the last 8 days, top 10."),
        Analysis(
            "By funnel step",
            f"{q} — devices reaching each commerce step (add_to_cart, checkout_start, "
            "purchase_complete) on the last day vs the 7 days before.",
        ),
    ]


def parse_plan(text: str) -> list[Analysis]:
    """The analyses of a plan answer; raises BadModelOutput when there are none."""
    try:
        plan = msgspec.convert(parse_json_object(text), _Plan)
    except msgspec.ValidationError as exc:
        raise BadModelOutput(f"the plan does not have the expected shape: {exc}") from None
    steps = [a for a in plan.steps if a.title.strip() and a.question.strip()]
    if not steps:
        raise BadModelOutput("the plan has no steps")
    return steps


def _finding_text(columns: Sequence[str], rows: Sequence[Sequence[Any]], truncated: bool) -> str:
    """A short, deterministic reading of a result: its size and its first rows."""
    if not rows:
        return "No rows."
    shown = [
        ", ".join(f"{c}={v}" for c, v in zip(columns, row, strict=False))
        for row in rows[:FINDING_ROWS]
    ]
    more = "+" if truncated else ""
    head = f"{len(rows)}{more} row{'s' if len(rows) != 1 else ''}"
    tail = "; …" if len(rows) > FINDING_ROWS else ""
    return f"{head}: " + "; ".join(shown) + tail


def with_context(question: str, history: Sequence[Turn]) -> str:
    """The question for the planner, with the conversation's last answered turn so that a
    follow-up ("and on Android?") can be planned; the planned questions are self-contained."""
    if not history:
        return question
    last = history[-1]
    return (
        f"{question}\n(Earlier in this conversation: {last.question} -- answered with this "
        f"SQL: {last.sql})"
    )


class Agent:
    """Plans, runs and synthesizes analyses with an ``AskPipeline``'s machinery."""

    def __init__(self, pipeline: AskPipeline) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings

    async def ask(
        self,
        question: str,
        *,
        app_ids: frozenset[str] | None,
        history: list[Turn],
        meter: Meter | None = None,
    ) -> AsyncIterator[Step]:
        """Stream context, plan, per analysis SQL/result/finding, then explanation and answer
        (or a FailedStep); never raises for model or query failures."""
        meter = meter or Meter()
        try:
            schema_text = await self.pipeline.schema_text(app_ids)
            messages = build_plan_messages(
                with_context(question, history),
                schema_text=schema_text,
                dialect=self.pipeline.engine.dialect,
                max_steps=self.settings.llm_agent_max_steps,
            )
            meter.prompt_chars = prompt_chars(messages)
            yield ContextStep(at_ms=meter.at_ms(), prompt_chars=meter.prompt_chars, tables=TABLES)
            try:
                completion = await self.pipeline.model.complete(messages, json_schema=PLAN_SCHEMA)
                meter.add(completion)
                plan = parse_plan(completion.text)
            except BadModelOutput:  # unreadable or empty: the usual suspects instead
                plan = default_plan(question)
            plan = plan[: max(1, self.settings.llm_agent_max_steps)]  # the step budget
            yield PlanStep(at_ms=meter.at_ms(), steps=tuple(a.title for a in plan))
            findings: list[Finding] = []
            for analysis in plan:
                outcome = Outcome()
                async for step in self.pipeline.solve(
                    analysis.question,
                    app_ids=app_ids,
                    history=(),  # planned questions are self-contained
                    schema_text=schema_text,
                    examples=self.pipeline.examples(analysis.question),
                    meter=meter,
                    outcome=outcome,
                ):
                    yield step
                finding, step = self._finding(analysis, outcome, meter)
                findings.append(finding)
                yield step
            if not any(f.ok for f in findings):
                yield FailedStep(
                    at_ms=meter.at_ms(),
                    code="no_findings",
                    reason="none of the planned analyses produced a result",
                    attempts=meter.attempts,
                )
                return
            completion = await self.pipeline.model.complete(
                build_synthesis_messages(question, findings),
                max_tokens=min(SYNTHESIS_MAX_TOKENS, self.settings.llm_max_tokens),
            )
            meter.add(completion)
            text = completion.text.strip()
            yield ExplanationStep(
                at_ms=meter.at_ms(),
                text=text,
                prompt_tokens=completion.usage.prompt_tokens,
                completion_tokens=completion.usage.completion_tokens,
            )
            yield AnswerStep(
                at_ms=meter.at_ms(),
                explanation=text,
                attempts=meter.attempts,
                prompt_tokens=meter.prompt_tokens,
                completion_tokens=meter.completion_tokens,
            )
        except (LLMError, QueryError) as exc:
            yield FailedStep(
                at_ms=meter.at_ms(), code=exc.code, reason=exc.message, attempts=meter.attempts
            )

    def _finding(
        self, analysis: Analysis, outcome: Outcome, meter: Meter
    ) -> tuple[Finding, FindingStep]:
        answer, result = outcome.answer, outcome.result
        if answer is None or result is None:
            reason = f"could not be answered: {outcome.reason}"
            finding = Finding(
                title=analysis.title,
                question=analysis.question,
                sql="",
                ok=False,
                summary=reason,
            )
            return finding, FindingStep(
                at_ms=meter.at_ms(), title=analysis.title, sql="", summary=reason
            )
        sql = outcome.sql
        summary = summarize_result(
            result.columns,
            result.types,
            result.rows,
            max_rows=self.settings.llm_summary_rows,
            truncated=result.truncated,
        )
        finding = Finding(
            title=analysis.title, question=analysis.question, sql=sql, ok=True, summary=summary
        )
        return finding, FindingStep(
            at_ms=meter.at_ms(),
            title=analysis.title,
            sql=sql,
            summary=_finding_text(result.columns, result.rows, result.truncated),
            rows=tuple(tuple(r) for r in result.rows[:FINDING_ROWS]),
            columns=tuple(result.columns),
        )
