"""Explaining a query result in words, from a compact summary of it.

The model sees ``summarize_result``'s summary (row count, column statistics and the first
``llm_summary_rows`` rows), never the raw rows beyond that cap: results may be large and their
values are untrusted event data. Used by the ask pipeline after a query ran and by
``POST /api/v1/llm/explain`` for SQL a person wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from causality.config import Settings
from causality.llm.chart import choose_chart
from causality.llm.prompt import build_explain_messages
from causality.llm.summary import summarize_result
from causality.llm.types import ChartSpec, Completion, ModelClient
from causality.query.engine import QueryEngine

EXPLAIN_MAX_TOKENS = 400


class Explanation(msgspec.Struct, frozen=True, kw_only=True):
    """The model's words about a result and what they cost."""

    text: str
    completion: Completion


class ExplainedQuery(msgspec.Struct, frozen=True, kw_only=True):
    """What ``POST /api/v1/llm/explain`` answers: the (capped) result, words and a chart."""

    sql: str
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float
    explanation: str
    chart: ChartSpec
    prompt_tokens: int
    completion_tokens: int


async def explain_result(
    model: ModelClient,
    settings: Settings,
    *,
    question: str,
    sql: str,
    columns: Sequence[str],
    types: Sequence[str],
    rows: Sequence[Sequence[Any]],
    truncated: bool = False,
) -> Explanation:
    """A short explanation of ``rows`` computed from their summary only; raises LLMError."""
    summary = summarize_result(
        columns, types, rows, max_rows=settings.llm_summary_rows, truncated=truncated
    )
    messages = build_explain_messages(question, sql, summary)
    completion = await model.complete(
        messages, max_tokens=min(EXPLAIN_MAX_TOKENS, settings.llm_max_tokens)
    )
    return Explanation(text=completion.text.strip(), completion=completion)


async def explain_sql(
    model: ModelClient,
    engine: QueryEngine,
    settings: Settings,
    *,
    sql: str,
    question: str = "",
    app_ids: frozenset[str] | None,
) -> ExplainedQuery:
    """Run ``sql`` scoped to ``app_ids`` and capped at ``llm_result_rows``, then explain it.

    Raises the engine's QueryError (unsafe or failing SQL) before the model is asked, and
    LLMError when the model fails.
    """
    result = await engine.query(sql, limit=settings.llm_result_rows, app_ids=app_ids)
    explanation = await explain_result(
        model,
        settings,
        question=question or "What does this query show?",
        sql=sql,
        columns=result.columns,
        types=result.types,
        rows=result.rows,
        truncated=result.truncated,
    )
    usage = explanation.completion.usage
    return ExplainedQuery(
        sql=sql,
        columns=result.columns,
        types=result.types,
        rows=result.rows,
        row_count=len(result.rows),
        truncated=result.truncated,
        elapsed_ms=round(result.elapsed_ms, 1),
        explanation=explanation.text,
        chart=choose_chart(None, result.columns, result.types, result.rows),
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )
