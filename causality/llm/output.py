"""Reading what the model wrote: the JSON schema it is asked for, and a tolerant parser.

Servers with structured outputs (vLLM's xgrammar, OpenAI's strict mode) hold the model to
``SQL_ANSWER_SCHEMA``; everything else (an older server, Ollama, a reasoning model's preamble)
gets the same schema described in the prompt and this parser, which digs the answer out of
fences, chatter and ``<think>`` blocks. When nothing usable is there, ``BadModelOutput``
carries a short reason the pipeline feeds back to the model for its next attempt.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import msgspec

from causality.llm.types import BadModelOutput, ChartSpec, ChartType, SqlAnswer

CHART_TYPES: tuple[str, ...] = get_args(ChartType)

_NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}

CHART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "enum": list(CHART_TYPES)},
        "x": _NULLABLE_STRING,
        "y": {"type": "array", "items": {"type": "string"}},
        "series": _NULLABLE_STRING,
        "title": {"type": "string"},
    },
    "required": ["type", "x", "y", "series", "title"],
    "additionalProperties": False,
}

# Strict mode (OpenAI) wants every property required and no extra ones; optional values are
# nullable instead. vLLM's xgrammar backend accepts the same schema.
SQL_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "sql": {"type": "string", "description": "one read-only SELECT (or WITH ... SELECT)"},
        "intent": {"type": "string", "description": "what the query computes, in one line"},
        "chart": {"anyOf": [CHART_SCHEMA, {"type": "null"}]},
    },
    "required": ["sql", "intent", "chart"],
    "additionalProperties": False,
}

# a model answer is a few KB; a proxy's error page can be much bigger and is never worth more
_MAX_CHARS = 200_000
_SCAN_BUDGET = 1_000_000
_SQL_KEYS = ("sql", "query", "sql_query")
_SQL_STARTS = ("select", "with")
_DECODER = msgspec.json.Decoder()


def parse_sql_answer(text: str) -> SqlAnswer:
    """The model's answer to a question as ``SqlAnswer``: JSON when there is any (the first
    object with a ``sql`` key wins), else a bare or fenced SELECT; an invalid chart is dropped.

    Raises ``BadModelOutput`` whose message says what was wrong, for the model to fix.
    """
    body = _strip_reasoning(text)
    seen_object = False
    for obj in _json_objects(body):
        seen_object = True
        answer = _answer_from_object(obj)
        if answer is not None:
            return answer
    sql = _bare_sql(body)
    if sql:
        return SqlAnswer(sql=sql)
    if seen_object:
        raise BadModelOutput('the JSON object has no "sql" string')
    raise BadModelOutput(_why_no_object(body))


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in a model's answer, with the same tolerance as
    ``parse_sql_answer`` (fences, chatter, ``<think>``); top-level keys are lower-cased."""
    body = _strip_reasoning(text)
    for obj in _json_objects(body):
        return _lower_keys(obj)
    raise BadModelOutput(_why_no_object(body))


# -- the answer ------------------------------------------------------------------------------


def _answer_from_object(obj: dict[str, Any]) -> SqlAnswer | None:
    """``SqlAnswer`` from a decoded object, or None when it has no usable SQL."""
    fields = _lower_keys(obj)
    sql = next((fields[k] for k in _SQL_KEYS if isinstance(fields.get(k), str)), None)
    if sql is None or not sql.strip():
        return None
    intent = fields.get("intent")
    return SqlAnswer(
        sql=_clean_sql(sql),
        intent=intent.strip() if isinstance(intent, str) else "",
        chart=_chart(fields.get("chart")),
    )


def _chart(raw: Any) -> ChartSpec | None:
    """A valid chart, or None: a bad chart suggestion never costs the answer."""
    if not isinstance(raw, dict):
        return None
    fields = _lower_keys(raw)
    if isinstance(fields.get("type"), str):
        fields["type"] = fields["type"].strip().lower()
    if isinstance(fields.get("y"), str):
        fields["y"] = [fields["y"]]
    if fields.get("title") is None:
        fields.pop("title", None)
    try:
        return msgspec.convert(fields, ChartSpec, strict=False)
    except msgspec.ValidationError:
        return None


def _clean_sql(sql: str) -> str:
    """Surrounding blanks, a fence the model put inside the JSON string, and trailing
    semicolons off; anything inside is the safety layer's to judge."""
    text = sql.strip()
    if text.startswith("```"):
        first, _, rest = text[3:].partition("\n")
        text = rest if first.strip().lower() in ("", "sql") else text[3:]
        text = text.strip().removesuffix("```")
    return text.strip().rstrip(";").strip()


def _bare_sql(body: str) -> str | None:
    """SQL written without JSON: a ```sql fence, or the whole answer starting with SELECT/WITH."""
    for label, block in _fences(body):
        if label == "sql" or (not label and _starts_like_sql(block)):
            sql = _clean_sql(block)
            if sql:
                return sql
    stripped = body.strip()
    if _starts_like_sql(stripped):
        return _clean_sql(stripped)
    return None


def _starts_like_sql(text: str) -> bool:
    words = text.lstrip().split(None, 1)
    return bool(words) and words[0].lower() in _SQL_STARTS


def _lower_keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {str(k).strip().lower(): v for k, v in obj.items()}


# -- finding JSON in text --------------------------------------------------------------------


def _strip_reasoning(text: str) -> str:
    """What follows a reasoning model's ``<think>...</think>``; an unclosed block means the
    answer stopped while the model was still thinking."""
    if not isinstance(text, str):
        raise BadModelOutput("the answer is not text")
    body = text[:_MAX_CHARS]
    lowered = body.lower()
    end = lowered.rfind("</think>")
    if end >= 0:
        return body[end + len("</think>") :]
    if lowered.lstrip().startswith("<think>"):
        raise BadModelOutput("the answer ended inside <think> without a final answer")
    return body


def _json_objects(body: str) -> Iterator[dict[str, Any]]:
    """Every JSON object the text holds, best candidates first: the whole text, fenced
    blocks, then each balanced ``{...}`` found by scanning (outermost first)."""
    stripped = body.strip()
    whole = _decode(stripped)
    if isinstance(whole, dict):
        yield whole
        return
    for label, block in _fences(body):
        if label in ("", "json", "javascript", "js"):
            obj = _decode(block.strip())
            if isinstance(obj, dict):
                yield obj
    yield from _balanced_objects(body)


def _decode(text: str) -> Any:
    if not text or text[0] not in "{[":
        return None
    try:
        return _DECODER.decode(text)
    except msgspec.DecodeError:
        return None


def _fences(body: str) -> Iterator[tuple[str, str]]:
    """(label, content) of each ``` block; an unclosed last fence counts as a block."""
    parts = body.split("```")
    for inside in parts[1::2]:
        first, _, rest = inside.partition("\n")
        label = first.strip().lower()
        if " " in label or "{" in label:  # ```{"sql": ...}``` on one line: no label
            label, rest = "", inside
        yield label, rest


def _balanced_objects(body: str) -> Iterator[dict[str, Any]]:
    """Objects decoded from balanced ``{...}`` spans, left to right, outermost first. A span
    that is not JSON (CSS in an HTML page, prose in braces) or never closes may still hold
    one that is, so the scan goes on from its next brace, within a budget of scanned chars."""
    budget = _SCAN_BUDGET
    start = body.find("{")
    while start >= 0 and budget > 0:
        span, end = _scan_object(body, start)
        budget -= end - start
        obj = _decode(span) if span is not None else None
        if isinstance(obj, dict):
            yield obj
            start = body.find("{", end)
        else:
            start = body.find("{", start + 1)


def _scan_object(body: str, start: int) -> tuple[str | None, int]:
    """The object starting at ``start`` and the index after it; (None, len) when unclosed.
    Raw newlines and tabs inside strings (a common slip with multi-line SQL) are escaped so
    that the span decodes as JSON."""
    out: list[str] = []
    depth = 0
    in_string = escaped = False
    for i in range(start, len(body)):
        ch = body[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            elif ch in _CONTROL_ESCAPES:
                out.append(_CONTROL_ESCAPES[ch])
                continue
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                out.append(ch)
                return "".join(out), i + 1
        out.append(ch)
    return None, len(body)


_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _why_no_object(body: str) -> str:
    """A short reason for an answer without any usable JSON, fit to send back to the model."""
    stripped = body.strip()
    if not stripped:
        return "the answer is empty"
    if "{" in stripped and _scan_object(stripped, stripped.find("{"))[0] is None:
        return "the JSON object is not complete (the answer was cut off?)"
    if stripped.startswith("<"):
        return f"the answer is markup, not JSON: {_excerpt(stripped)}"
    if stripped.startswith("["):
        return "the answer is a JSON array; expected one JSON object"
    return f"the answer has no JSON object: {_excerpt(stripped)}"


def _excerpt(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")
