"""How the gateway's answers become decisions, and how bodies are encoded."""

from __future__ import annotations

import gzip
import json

import pytest
from causality_sdk.transport import GZIP_MIN_BYTES, Verdict, encode_batch, interpret


def _error(code: str, field: str | None = None, **extra: object) -> bytes:
    return json.dumps({"error": {"code": code, "message": "m", "field": field}, **extra}).encode()


def test_202_carries_the_per_event_results() -> None:
    body = {
        "accepted": 3,
        "duplicates": 1,
        "rejected": 1,
        "errors": [{"index": 4, "field": "type", "reason": "unknown"}],
    }
    outcome = interpret(202, {}, json.dumps(body).encode())
    assert outcome.verdict is Verdict.DELIVERED
    assert (outcome.accepted, outcome.duplicates, outcome.rejected) == (3, 1, 1)
    assert outcome.errors == body["errors"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 415, 422])
def test_4xx_is_refused_not_retried(status: int) -> None:
    outcome = interpret(status, {}, _error("invalid", "X-API-Key"))
    assert outcome.verdict is Verdict.REFUSED
    assert "invalid" in outcome.reason and "X-API-Key" in outcome.reason


def test_400_with_every_event_invalid_keeps_the_event_errors() -> None:
    errors = [{"index": 0, "field": "properties.currency", "reason": "bad"}]
    body = _error("all_events_rejected", "events", rejected=1, errors=errors)
    outcome = interpret(400, {}, body)
    assert outcome.verdict is Verdict.REFUSED
    assert outcome.rejected == 1 and outcome.errors == errors


def test_413_asks_for_a_split() -> None:
    assert interpret(413, {}, _error("body_too_large")).verdict is Verdict.TOO_LARGE


@pytest.mark.parametrize(
    ("status", "headers", "after"),
    [
        (429, {"retry-after": "2"}, 2.0),
        (503, {"retry-after": "5"}, 5.0),
        (500, {}, None),
        (502, {}, None),
        (408, {}, None),
    ],
)
def test_retryable_statuses_keep_retry_after(
    status: int, headers: dict[str, str], after: float | None
) -> None:
    outcome = interpret(status, headers, b"<html>proxy error</html>")
    assert outcome.verdict is Verdict.RETRY
    assert outcome.retry_after == after


def test_small_bodies_are_sent_plain_and_large_ones_gzipped() -> None:
    small, headers = encode_batch([b'{"a":1}'], compress=True)
    assert small == b'{"events":[{"a":1}]}' and "Content-Encoding" not in headers
    events = [json.dumps({"type": "custom", "i": i}).encode() for i in range(200)]
    big, headers = encode_batch(events, compress=True)
    assert headers["Content-Encoding"] == "gzip"
    raw = gzip.decompress(big)
    assert len(raw) >= GZIP_MIN_BYTES and len(big) < len(raw) / 3
    assert [e["i"] for e in json.loads(raw)["events"]] == list(range(200))
    plain, headers = encode_batch(events, compress=False)
    assert plain == raw and "Content-Encoding" not in headers
