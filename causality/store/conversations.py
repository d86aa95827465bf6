"""Conversations with the model and their turns: what each user asked, and the audit trail.

Every function takes the caller's ``user_id`` and filters on it, so a user only ever reads,
renames or deletes their own conversations (the gateway answers 404 for anyone else's). A turn
is reserved when a question starts (``begin_turn``: its number is streamed to the client) and
completed when the stream ends (``finish_turn``), so a turn cut short still leaves a row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import asyncpg
import msgspec

from causality.llm.types import AnswerStep, FailedStep, ResultStep, SqlStep, Step, Turn

TurnStatus = Literal["running", "answered", "failed", "interrupted"]
MAX_TITLE = 200
HISTORY_TURNS = 5  # previous turns given to the model for follow-ups

_encode = msgspec.json.encode
_decode = msgspec.json.decode


class Conversation(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation as listed: ``turns`` counts its questions."""

    id: str
    title: str
    turns: int
    created_at: datetime
    updated_at: datetime


class TurnRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One stored turn: the question, what ran, what it cost, and every streamed step."""

    turn: int
    mode: str
    status: str
    question: str
    prompt_chars: int
    sql: str | None
    intent: str
    row_count: int | None
    error: str | None
    attempts: int
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    steps: list[Any]
    created_at: datetime


class ConversationDetail(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation with its turns, oldest first."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    turns: list[TurnRecord]


class TurnOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """How a turn ended, written by ``finish_turn``."""

    status: TurnStatus
    prompt_chars: int = 0
    sql: str | None = None
    intent: str = ""
    row_count: int | None = None
    error: str | None = None
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    steps: Sequence[Step] = ()


INTERRUPTED = "interrupted: the client went away before the answer"


def outcome_of(
    steps: Sequence[Step],
    *,
    prompt_chars: int,
    attempts: int,
    prompt_tokens: int,
    completion_tokens: int,
    latency_ms: float,
) -> TurnOutcome:
    """How a turn ended, read from the steps that were streamed (its last step says whether
    it was answered or failed; neither means the stream was cut short)."""
    last = steps[-1] if steps else None
    sqls = [s.sql for s in steps if isinstance(s, SqlStep) and s.sql]
    results = [s for s in steps if isinstance(s, ResultStep)]
    status: TurnStatus
    if isinstance(last, AnswerStep):
        status, sql, intent, error = "answered", last.sql or None, last.intent, None
    elif isinstance(last, FailedStep):
        status, sql, intent, error = "failed", sqls[-1] if sqls else None, "", last.reason
    else:
        status, sql, intent, error = "interrupted", sqls[-1] if sqls else None, "", INTERRUPTED
    return TurnOutcome(
        status=status,
        prompt_chars=prompt_chars,
        sql=sql,
        intent=intent,
        row_count=results[-1].row_count if results else None,
        error=error,
        attempts=attempts,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        latency_ms=latency_ms,
        steps=steps,
    )


def title_for(question: str) -> str:
    """A conversation's default title: the first line of its first question, shortened."""
    line = clean(question).strip().splitlines()[0] if question.strip() else "Question"
    return line if len(line) <= 80 else line[:79].rstrip() + "…"


def clean(text: str) -> str:
    """PostgreSQL text cannot hold NUL characters; questions and event data may."""
    return text.replace("\x00", "\ufffd")


def _clean_tree(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list | tuple):
        return [_clean_tree(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean_tree(v) for k, v in value.items()}
    return value


def steps_json(steps: Sequence[Step]) -> str:
    """The steps as JSON text for ``jsonb`` (which refuses ``\\u0000`` in strings)."""
    encoded = _encode(list(steps))
    if b"\\u0000" in encoded:
        encoded = _encode(_clean_tree(msgspec.to_builtins(list(steps))))
    return encoded.decode()


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


_CONV = "c.id, c.title, c.created_at, c.updated_at"


def _conversation(row: asyncpg.Record) -> Conversation:
    return Conversation(
        id=str(row["id"]),
        title=row["title"],
        turns=int(row["turns"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def create(pool: asyncpg.Pool, *, user_id: str, title: str) -> Conversation:
    """A new, empty conversation owned by ``user_id``."""
    row = await pool.fetchrow(
        "INSERT INTO conversations AS c (id, user_id, title) VALUES ($1, $2, $3) "
        f"RETURNING {_CONV}, 0 AS turns",
        uuid.uuid4(),
        uuid.UUID(user_id),
        clean(title)[:MAX_TITLE] or "Question",
    )
    return _conversation(row)


async def list_page(
    pool: asyncpg.Pool, *, user_id: str, limit: int, offset: int
) -> tuple[list[Conversation], int]:
    """The user's conversations, most recently active first, with the total for paging."""
    owner = uuid.UUID(user_id)
    rows = await pool.fetch(
        f"SELECT {_CONV}, (SELECT count(*) FROM llm_turns t WHERE t.conversation_id = c.id) "
        "AS turns, count(*) OVER () AS total FROM conversations c WHERE c.user_id = $1 "
        "ORDER BY c.updated_at DESC, c.id LIMIT $2 OFFSET $3",
        owner,
        limit,
        offset,
    )
    if rows:
        total = rows[0]["total"]
    else:
        total = await pool.fetchval("SELECT count(*) FROM conversations WHERE user_id = $1", owner)
    return [_conversation(r) for r in rows], int(total)


async def owns(pool: asyncpg.Pool, conversation_id: str, *, user_id: str) -> bool:
    """Whether the conversation exists and belongs to ``user_id``."""
    cid = _uuid(conversation_id)
    if cid is None:
        return False
    found = await pool.fetchval(
        "SELECT true FROM conversations WHERE id = $1 AND user_id = $2", cid, uuid.UUID(user_id)
    )
    return bool(found)


_TURN_COLUMNS = (
    "turn, mode, status, question, prompt_chars, sql, intent, row_count, error, attempts, "
    "prompt_tokens, completion_tokens, latency_ms, steps::text AS steps, created_at"
)


def _turn(row: asyncpg.Record) -> TurnRecord:
    values = dict(row)
    values["steps"] = _decode(values["steps"])
    return TurnRecord(**values)


async def get(
    pool: asyncpg.Pool, conversation_id: str, *, user_id: str
) -> ConversationDetail | None:
    """The conversation with all its turns, or None when it is not the user's."""
    cid = _uuid(conversation_id)
    if cid is None:
        return None
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        row = await conn.fetchrow(
            "SELECT id, title, created_at, updated_at FROM conversations "
            "WHERE id = $1 AND user_id = $2",
            cid,
            uuid.UUID(user_id),
        )
        if row is None:
            return None
        turns = await conn.fetch(
            f"SELECT {_TURN_COLUMNS} FROM llm_turns WHERE conversation_id = $1 ORDER BY turn",
            cid,
        )
    return ConversationDetail(
        id=str(row["id"]),
        title=row["title"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        turns=[_turn(t) for t in turns],
    )


async def rename(
    pool: asyncpg.Pool, conversation_id: str, *, user_id: str, title: str
) -> Conversation | None:
    """Set the title; None when the conversation is not the user's."""
    cid = _uuid(conversation_id)
    if cid is None:
        return None
    row = await pool.fetchrow(
        "UPDATE conversations AS c SET title = $3, updated_at = now() "
        "WHERE id = $1 AND user_id = $2 "
        f"RETURNING {_CONV}, "
        "(SELECT count(*) FROM llm_turns t WHERE t.conversation_id = c.id) AS turns",
        cid,
        uuid.UUID(user_id),
        clean(title)[:MAX_TITLE],
    )
    return None if row is None else _conversation(row)


async def delete(pool: asyncpg.Pool, conversation_id: str, *, user_id: str) -> bool:
    """Delete the conversation and its turns; False when it is not the user's."""
    cid = _uuid(conversation_id)
    if cid is None:
        return False
    status = await pool.execute(
        "DELETE FROM conversations WHERE id = $1 AND user_id = $2", cid, uuid.UUID(user_id)
    )
    return bool(status == "DELETE 1")


async def begin_turn(
    pool: asyncpg.Pool, *, conversation_id: str, user_id: str, mode: str, question: str
) -> int | None:
    """Reserve the next turn number (row status ``running``); None when the conversation is
    not the user's. The conversation row is locked so concurrent questions get distinct
    numbers."""
    cid = _uuid(conversation_id)
    if cid is None:
        return None
    async with pool.acquire() as conn, conn.transaction():
        locked = await conn.fetchval(
            "UPDATE conversations SET updated_at = now() WHERE id = $1 AND user_id = $2 "
            "RETURNING id",
            cid,
            uuid.UUID(user_id),
        )
        if locked is None:
            return None
        turn: int = await conn.fetchval(
            "INSERT INTO llm_turns (conversation_id, turn, mode, question) "
            "SELECT $1, coalesce(max(turn), 0) + 1, $2, $3 FROM llm_turns "
            "WHERE conversation_id = $1 RETURNING turn",
            cid,
            mode,
            clean(question),
        )
    return turn


async def finish_turn(
    pool: asyncpg.Pool, *, conversation_id: str, turn: int, outcome: TurnOutcome
) -> None:
    """Complete a reserved turn with how it ended and every step that was streamed."""
    await pool.execute(
        "UPDATE llm_turns SET status = $3, prompt_chars = $4, sql = $5, intent = $6, "
        "row_count = $7, error = $8, attempts = $9, prompt_tokens = $10, "
        "completion_tokens = $11, latency_ms = $12, steps = $13::jsonb "
        "WHERE conversation_id = $1 AND turn = $2",
        uuid.UUID(conversation_id),
        turn,
        outcome.status,
        outcome.prompt_chars,
        None if outcome.sql is None else clean(outcome.sql),
        clean(outcome.intent),
        outcome.row_count,
        None if outcome.error is None else clean(outcome.error),
        outcome.attempts,
        outcome.prompt_tokens,
        outcome.completion_tokens,
        outcome.latency_ms,
        steps_json(outcome.steps),
    )


async def append_turn(
    pool: asyncpg.Pool,
    *,
    conversation_id: str,
    user_id: str,
    mode: str,
    question: str,
    outcome: TurnOutcome,
) -> int | None:
    """Store a whole turn at once (``begin_turn`` + ``finish_turn``); None when the
    conversation is not the user's."""
    turn = await begin_turn(
        pool, conversation_id=conversation_id, user_id=user_id, mode=mode, question=question
    )
    if turn is not None:
        await finish_turn(pool, conversation_id=conversation_id, turn=turn, outcome=outcome)
    return turn


async def history(
    pool: asyncpg.Pool, conversation_id: str, *, limit: int = HISTORY_TURNS
) -> list[Turn]:
    """The last answered turns, oldest first, for the model to rewrite in a follow-up."""
    cid = _uuid(conversation_id)
    if cid is None:
        return []
    rows = await pool.fetch(
        "SELECT question, sql, intent FROM llm_turns "
        "WHERE conversation_id = $1 AND status = 'answered' AND sql IS NOT NULL "
        "ORDER BY turn DESC LIMIT $2",
        cid,
        limit,
    )
    return [Turn(question=r["question"], sql=r["sql"], intent=r["intent"]) for r in reversed(rows)]
