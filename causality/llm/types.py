"""The shapes every part of the text-to-SQL pipeline agrees on.

The model client returns ``Completion``; the output parser turns its text into ``SqlAnswer``;
the pipeline and the agent stream ``Step`` events (one Server-Sent Event each, ``event:`` is the
step's ``type``); the web UI renders ``ChartSpec`` directly. Errors carry their HTTP status so
the gateway maps them without a table of its own.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import msgspec

ChartType = Literal["number", "line", "bar", "funnel", "table"]
Role = Literal["system", "user", "assistant"]


class ChartSpec(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How to draw a result: ``x`` and ``y`` name result columns; ``series`` splits lines or
    bars by a column's values. ``number`` shows the first value of ``y[0]``."""

    type: ChartType
    x: str | None = None
    y: tuple[str, ...] = ()
    series: str | None = None
    title: str = ""


class SqlAnswer(msgspec.Struct, frozen=True, kw_only=True):
    """What the model must produce for a question: one SELECT, a one-line intent, a chart."""

    sql: str
    intent: str = ""
    chart: ChartSpec | None = None


class Message(msgspec.Struct, frozen=True):
    """One chat message, as the chat-completions protocol has it."""

    role: Role
    content: str


class Usage(msgspec.Struct, frozen=True):
    """Tokens the server reported for one completion (0 when it reported none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    """One model answer: its text, tokens, latency, and whether the server was asked for (and
    accepted) structured output with a JSON schema."""

    text: str
    usage: Usage = Usage()
    latency_ms: float = 0.0
    structured: bool = False
    model: str = ""


class ModelClient(Protocol):
    """Anything that answers chat messages (causality.llm.client.OpenAIModelClient in
    production; tests use the same class against a scripted OpenAI-compatible server)."""

    async def complete(
        self,
        messages: list[Message],
        *,
        json_schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
    ) -> Completion: ...

    async def aclose(self) -> None: ...


# -- errors ----------------------------------------------------------------------------------


class LLMError(Exception):
    """Base of the pipeline's errors; ``status`` and ``code`` are what the API answers."""

    status: int = 500
    code: str = "llm_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LLMNotConfigured(LLMError):
    """``llm_provider`` is ``none``: the message says how to configure a model."""

    status = 503
    code = "llm_not_configured"


class LLMUnavailable(LLMError):
    """The model server is down or answered with a server error: retry later."""

    status = 503
    code = "llm_unavailable"


class LLMTimeout(LLMError):
    """The model did not answer within ``llm_timeout_s``."""

    status = 504
    code = "llm_timeout"


class LLMRateLimited(LLMError):
    """This user asked more than ``llm_requests_per_minute``; ``retry_after_s`` says when."""

    status = 429
    code = "llm_rate_limited"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BadModelOutput(LLMError):
    """The model's answer could not be read as the expected JSON (fed back for a retry)."""

    status = 502
    code = "llm_bad_output"


# -- streamed steps ----------------------------------------------------------------------------


class StepBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Every step has a type (the SSE event name) and the time since the question, in ms."""

    at_ms: float = 0.0


class ContextStep(StepBase, tag="context", kw_only=True):
    """The prompt is ready: how big it is and which curated examples were chosen."""

    prompt_chars: int
    examples: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()


class SqlStep(StepBase, tag="sql", kw_only=True):
    """The model proposed SQL (attempt 1, then retries after an error)."""

    attempt: int
    sql: str
    intent: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0


class RejectedStep(StepBase, tag="rejected", kw_only=True):
    """The proposed SQL (or the model output) was refused before running: the reason goes back
    to the model if retries are left."""

    attempt: int
    sql: str
    reason: str


class ErrorStep(StepBase, tag="error", kw_only=True):
    """The SQL ran and failed (the engine's message goes back to the model)."""

    attempt: int
    sql: str
    error: str


class ResultStep(StepBase, tag="result", kw_only=True):
    """The query ran: columns and the first rows (at most ``llm_result_rows``)."""

    sql: str
    columns: tuple[str, ...]
    types: tuple[str, ...] = ()
    rows: tuple[tuple[Any, ...], ...] = ()
    row_count: int = 0
    truncated: bool = False
    elapsed_ms: float = 0.0


class ExplanationStep(StepBase, tag="explanation", kw_only=True):
    """A short explanation computed from a compact summary of the result."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class ChartStep(StepBase, tag="chart", kw_only=True):
    """The chart to draw (the model's suggestion checked against the result's columns)."""

    chart: ChartSpec


class PlanStep(StepBase, tag="plan", kw_only=True):
    """Agent mode: the analyses it intends to run."""

    steps: tuple[str, ...]


class FindingStep(StepBase, tag="finding", kw_only=True):
    """Agent mode: what one analysis showed, with the numbers behind it."""

    title: str
    sql: str
    summary: str
    rows: tuple[tuple[Any, ...], ...] = ()
    columns: tuple[str, ...] = ()


class AnswerStep(StepBase, tag="answer", kw_only=True):
    """The last step of a successful turn."""

    conversation_id: str | None = None
    turn: int = 0
    sql: str = ""
    intent: str = ""
    explanation: str = ""
    chart: ChartSpec | None = None
    attempts: int = 1
    prompt_tokens: int = 0
    completion_tokens: int = 0


class FailedStep(StepBase, tag="failed", kw_only=True):
    """The last step of a turn that could not be answered, with the reason in words."""

    conversation_id: str | None = None
    turn: int = 0
    code: str
    reason: str
    attempts: int = 0


Step = (
    ContextStep
    | SqlStep
    | RejectedStep
    | ErrorStep
    | ResultStep
    | ExplanationStep
    | ChartStep
    | PlanStep
    | FindingStep
    | AnswerStep
    | FailedStep
)


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """A previous question of the conversation and what answered it, for follow-ups."""

    question: str
    sql: str = ""
    intent: str = ""
