"""/api/v1/llm: questions in plain English (Server-Sent Events), conversations, explanations.

``POST /ask`` streams one SSE event per step (``event: <step type>``, ``data:`` the step as
JSON) after a first ``conversation`` event naming the conversation and turn. The request waits
for the model's first answer before the stream starts, so a model that is down or too slow is
an ordinary 503/504 JSON error rather than a stream that fails at once. Every streamed step is
stored with the turn when the stream ends, also when the client goes away mid-way.

Every SQL text runs through the query engine scoped to the caller's apps; see
causality/llm/pipeline.py for why nothing in a question can make anything else run.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any, Literal, cast
from uuid import UUID

import anyio
import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from causality.auth.principal import Principal
from causality.auth.roles import Role
from causality.gateway.endpoint import endpoint
from causality.gateway.errors import ApiError, json_response
from causality.gateway.guards import require
from causality.gateway.payload import read_struct
from causality.gateway.query_routes import MAX_SQL_CHARS, page_params
from causality.gateway.state import GatewayState
from causality.llm.agent import Agent
from causality.llm.client import NOT_CONFIGURED
from causality.llm.explain import explain_sql
from causality.llm.pipeline import AskPipeline, Meter
from causality.llm.types import (
    AnswerStep,
    ContextStep,
    FailedStep,
    LLMError,
    LLMNotConfigured,
    LLMRateLimited,
    LLMTimeout,
    LLMUnavailable,
    ModelClient,
    Step,
)
from causality.store import conversations

log = logging.getLogger(__name__)

PREFIX = "/api/v1/llm"
MAX_QUESTION_CHARS = 2000

Question = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_QUESTION_CHARS)]
OptionalQuestion = Annotated[str, msgspec.Meta(max_length=MAX_QUESTION_CHARS)]
Sql = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_SQL_CHARS)]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=conversations.MAX_TITLE)]

# a model failure before anything was streamed is answered as this HTTP error
_FIRST_CALL_ERRORS: dict[str, type[LLMError]] = {
    LLMUnavailable.code: LLMUnavailable,
    LLMTimeout.code: LLMTimeout,
}
_encode = msgspec.json.encode


class AskRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A question; ``conversation_id`` continues a conversation (follow-ups)."""

    question: Question
    conversation_id: UUID | None = None
    mode: Literal["sql", "agent"] = "sql"


class ExplainRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """SQL to run and explain, with the question it answers if there is one."""

    sql: Sql
    question: OptionalQuestion = ""


class RenameRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A conversation's new title."""

    title: Title


def _state(request: Request) -> GatewayState:
    return request.app.state.gateway  # type: ignore[no-any-return]


def _apps(principal: Principal) -> frozenset[str] | None:
    return None if principal.app_ids is None else frozenset(principal.app_ids)


def _model(state: GatewayState) -> ModelClient:
    """The model client, or 503 ``llm_not_configured`` saying how to configure one."""
    if state.llm is None:
        raise LLMNotConfigured(state.llm_setup_error or NOT_CONFIGURED)
    return state.llm


def _check_rate(state: GatewayState, principal: Principal) -> None:
    """429 with Retry-After once the user asked more than ``llm_requests_per_minute``."""
    wait = state.llm_limiter.acquire(principal.user_id)
    if wait > 0:
        per_minute = state.settings.llm_requests_per_minute
        raise LLMRateLimited(
            f"at most {per_minute:g} questions a minute per user; "
            f"retry in {max(1, math.ceil(wait))} s",
            retry_after_s=wait,
        )


def _not_found() -> ApiError:
    return ApiError(404, "not_found", "no such conversation")


def _blank(text: str, field: str) -> None:
    if not text.strip():
        raise ApiError(422, "invalid_field", f"{field}: must not be blank", field=field)


def sse_frame(event: str, data: Any) -> bytes:
    """One Server-Sent Event: ``event:`` line, one ``data:`` line of JSON, a blank line."""
    return b"event: " + event.encode() + b"\ndata: " + _encode(data) + b"\n\n"


def step_type(step: Step) -> str:
    """A step's ``type`` tag (msgspec keeps it on the class, not on the instance)."""
    return str(type(step).__struct_config__.tag)


class _Turn:
    """One turn being streamed: stamps the final step with its conversation and turn, keeps
    every step, and stores them once when the stream ends however it ends."""

    def __init__(self, state: GatewayState, conversation_id: str, turn: int, meter: Meter) -> None:
        self.state = state
        self.conversation_id = conversation_id
        self.turn = turn
        self.meter = meter
        self.steps: list[Step] = []
        self._stored = False

    def add(self, step: Step) -> Step:
        if isinstance(step, AnswerStep | FailedStep):
            step = msgspec.structs.replace(
                step, conversation_id=self.conversation_id, turn=self.turn
            )
        self.steps.append(step)
        return step

    async def store(self) -> None:
        """Write the turn (shielded: a cancelled request still leaves its audit row)."""
        if self._stored:
            return
        self._stored = True
        meter = self.meter
        outcome = conversations.outcome_of(
            self.steps,
            prompt_chars=meter.prompt_chars,
            attempts=meter.attempts,
            prompt_tokens=meter.prompt_tokens,
            completion_tokens=meter.completion_tokens,
            latency_ms=meter.at_ms(),
        )
        with anyio.CancelScope(shield=True):
            try:
                await conversations.finish_turn(
                    self.state.pool,
                    conversation_id=self.conversation_id,
                    turn=self.turn,
                    outcome=outcome,
                )
            except Exception:  # the answer was streamed; losing its audit row is logged
                log.exception("could not store turn %s of %s", self.turn, self.conversation_id)


class _SseResponse(StreamingResponse):
    """A StreamingResponse that always closes its step generator, even when the client went
    away while a frame was being sent (the generator then stores what happened)."""

    def __init__(
        self, body: AsyncGenerator[bytes, None], steps: AsyncGenerator[Step, None]
    ) -> None:
        super().__init__(
            body,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._body = body
        self._steps = steps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._body.aclose()
                await self._steps.aclose()


async def _first_answer(steps: AsyncIterator[Step], turn: _Turn) -> list[Step]:
    """Pull steps up to the first one that followed a model call; a model failure there
    raises the LLMError the API answers with (nothing has been streamed yet)."""
    buffered: list[Step] = []
    async for step in steps:
        buffered.append(turn.add(step))
        if isinstance(step, ContextStep):
            continue
        if isinstance(step, FailedStep) and step.code in _FIRST_CALL_ERRORS:
            raise _FIRST_CALL_ERRORS[step.code](step.reason)
        break
    return buffered


@endpoint
async def ask(request: Request) -> Response:
    """Answer a question as a stream of steps (see the module docstring)."""
    principal = await require(request, Role.VIEWER)
    body = await read_struct(request, AskRequest)
    _blank(body.question, "question")
    state = _state(request)
    model = _model(state)
    _check_rate(state, principal)
    question = body.question.strip()
    pool = state.pool
    if body.conversation_id is not None:
        conversation_id = str(body.conversation_id)
        if not await conversations.owns(pool, conversation_id, user_id=principal.user_id):
            raise _not_found()
        history = await conversations.history(pool, conversation_id)
    else:
        created = await conversations.create(
            pool, user_id=principal.user_id, title=conversations.title_for(question)
        )
        conversation_id, history = created.id, []
    number = await conversations.begin_turn(
        pool,
        conversation_id=conversation_id,
        user_id=principal.user_id,
        mode=body.mode,
        question=question,
    )
    if number is None:  # deleted in the meantime
        raise _not_found()
    meter = Meter()
    turn = _Turn(state, conversation_id, number, meter)
    pipeline = AskPipeline(state.settings, model, state.engine, state.schema_contexts)
    runner = Agent(pipeline) if body.mode == "agent" else pipeline
    steps = cast(
        AsyncGenerator[Step, None],
        runner.ask(question, app_ids=_apps(principal), history=history, meter=meter),
    )
    try:
        buffered = await _first_answer(steps, turn)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await steps.aclose()
            await turn.store()
        raise

    async def frames() -> AsyncGenerator[bytes, None]:
        try:
            yield sse_frame(
                "conversation",
                {
                    "type": "conversation",
                    "conversation_id": conversation_id,
                    "turn": number,
                    "mode": body.mode,
                },
            )
            for step in buffered:
                yield sse_frame(step_type(step), step)
            async for step in steps:
                step = turn.add(step)
                yield sse_frame(step_type(step), step)
        except Exception:
            log.exception("ask stream failed (conversation %s)", conversation_id)
            failed = turn.add(
                FailedStep(
                    at_ms=meter.at_ms(),
                    code="internal_error",
                    reason="an internal error ended this answer",
                    attempts=meter.attempts,
                )
            )
            yield sse_frame("failed", failed)
        finally:
            await turn.store()

    return _SseResponse(frames(), steps)


@endpoint
async def explain(request: Request) -> Response:
    """Run SQL (scoped, capped) and answer its rows with an explanation and a chart."""
    principal = await require(request, Role.VIEWER)
    body = await read_struct(request, ExplainRequest)
    _blank(body.sql, "sql")
    state = _state(request)
    model = _model(state)
    _check_rate(state, principal)
    explained = await explain_sql(
        model,
        state.engine,
        state.settings,
        sql=body.sql,
        question=body.question.strip(),
        app_ids=_apps(principal),
    )
    return json_response(200, explained)


@endpoint
async def list_conversations(request: Request) -> Response:
    """The caller's conversations, most recently active first."""
    principal = await require(request, Role.VIEWER)
    limit, offset = page_params(request)
    items, total = await conversations.list_page(
        _state(request).pool, user_id=principal.user_id, limit=limit, offset=offset
    )
    return json_response(200, {"items": items, "total": total, "limit": limit, "offset": offset})


@endpoint
async def get_conversation(request: Request) -> Response:
    """One of the caller's conversations with every turn and its steps."""
    principal = await require(request, Role.VIEWER)
    found = await conversations.get(
        _state(request).pool, request.path_params["conversation_id"], user_id=principal.user_id
    )
    if found is None:
        raise _not_found()
    return json_response(200, found)


@endpoint
async def rename_conversation(request: Request) -> Response:
    """Set a conversation's title."""
    principal = await require(request, Role.VIEWER)
    body = await read_struct(request, RenameRequest)
    _blank(body.title, "title")
    renamed = await conversations.rename(
        _state(request).pool,
        request.path_params["conversation_id"],
        user_id=principal.user_id,
        title=body.title.strip(),
    )
    if renamed is None:
        raise _not_found()
    return json_response(200, renamed)


@endpoint
async def delete_conversation(request: Request) -> Response:
    """Delete a conversation and its turns."""
    principal = await require(request, Role.VIEWER)
    deleted = await conversations.delete(
        _state(request).pool, request.path_params["conversation_id"], user_id=principal.user_id
    )
    if not deleted:
        raise _not_found()
    return Response(status_code=204)


def routes() -> list[Route]:
    """The routes of this module, mounted by build_gateway_app."""
    one = f"{PREFIX}/conversations/{{conversation_id}}"
    return [
        Route(f"{PREFIX}/ask", ask, methods=["POST"]),
        Route(f"{PREFIX}/explain", explain, methods=["POST"]),
        Route(f"{PREFIX}/conversations", list_conversations, methods=["GET"]),
        Route(one, get_conversation, methods=["GET"]),
        Route(one, rename_conversation, methods=["PATCH"]),
        Route(one, delete_conversation, methods=["DELETE"]),
    ]
