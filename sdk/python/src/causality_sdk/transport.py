"""One batch on the wire: the gzip POST to /api/v1/events/batch and what its answer means.

``interpret`` is the one place where HTTP statuses become decisions: retry (network errors,
5xx, 408, 429 with Retry-After), split (413), or settle (202: per-event results; any other
4xx: refused for good, because sending the same events again cannot change the answer).
The sync and async transports only differ in how they wait for the answer.
"""

from __future__ import annotations

import enum
import gzip
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from causality_sdk._version import __version__
from causality_sdk.retry import parse_retry_after

log = logging.getLogger("causality_sdk")

BATCH_PATH = "/api/v1/events/batch"
GZIP_MIN_BYTES = 1024
"""Smaller bodies are sent as they are: gzip would save a few bytes for a little CPU."""
GZIP_LEVEL = 5
"""Event JSON compresses ~10x at level 5; higher levels cost CPU for a few more percent."""
MAX_LOGGED_REJECTIONS = 10
"""Per batch: a systematic SDK misuse should not write a thousand log lines a second."""
USER_AGENT = f"causality-python/{__version__}"


class Verdict(enum.Enum):
    """What to do with a batch after one attempt."""

    DELIVERED = "delivered"  # the gateway answered 202 (some events may have been rejected)
    REFUSED = "refused"  # a 4xx: never retried, the reason is logged
    TOO_LARGE = "too_large"  # 413: split the batch, or refuse a single event
    RETRY = "retry"  # network error, 5xx, 408 or 429: try again after a delay


@dataclass
class Outcome:
    """One attempt's result, with the gateway's per-event counts when it answered."""

    verdict: Verdict
    status: int | None = None
    reason: str = ""
    retry_after: float | None = None
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def encode_batch(bodies: Sequence[bytes], *, compress: bool) -> tuple[bytes, dict[str, str]]:
    """The request body and headers: envelopes joined as they are, gzip above a size."""
    raw = b'{"events":[' + b",".join(bodies) + b"]}"
    headers = {"Content-Type": "application/json"}
    if compress and len(raw) >= GZIP_MIN_BYTES:
        headers["Content-Encoding"] = "gzip"
        return gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0), headers
    return raw, headers


def _json(content: bytes) -> dict[str, Any]:
    try:
        data = json.loads(content)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def interpret(
    status: int, headers: Mapping[str, str], content: bytes, *, now: float | None = None
) -> Outcome:
    """Classify the gateway's answer (README "Ingestion API" lists the statuses)."""
    data = _json(content)
    error: dict[str, Any] = data["error"] if isinstance(data.get("error"), dict) else {}
    reason = _reason(status, error)
    if 200 <= status < 300:
        return Outcome(
            Verdict.DELIVERED,
            status,
            accepted=int(data.get("accepted", 0) or 0),
            duplicates=int(data.get("duplicates", 0) or 0),
            rejected=int(data.get("rejected", 0) or 0),
            errors=list(data.get("errors") or []),
        )
    if status == 413:
        return Outcome(Verdict.TOO_LARGE, status, reason)
    if status in (408, 429) or status >= 500:
        after = parse_retry_after(
            headers.get("retry-after"), now=time.time() if now is None else now
        )
        return Outcome(Verdict.RETRY, status, reason, retry_after=after)
    # 400 (every event invalid: the per-event errors come along), 401, 403, 415, ...
    return Outcome(
        Verdict.REFUSED,
        status,
        reason,
        rejected=int(data.get("rejected", 0) or 0),
        errors=list(data.get("errors") or []),
    )


def _reason(status: int, error: Mapping[str, Any]) -> str:
    if not error:
        return f"HTTP {status}"
    text = f"HTTP {status} {error.get('code', '')}: {error.get('message', '')}"
    return f"{text} (field {error['field']})" if error.get("field") else text


def log_settled(outcome: Outcome, bodies: Sequence[bytes]) -> None:
    """Log what the gateway refused: each rejected event with its index, field and reason."""
    for err in outcome.errors[:MAX_LOGGED_REJECTIONS]:
        index = err.get("index")
        event: dict[str, Any] = {}
        if isinstance(index, int) and 0 <= index < len(bodies):
            event = _json(bodies[index])
        log.warning(
            "causality: event %s rejected (type %r, idempotency_key %s): field %s: %s",
            index,
            event.get("type"),
            event.get("idempotency_key"),
            err.get("field"),
            err.get("reason"),
        )
    if len(outcome.errors) > MAX_LOGGED_REJECTIONS:
        log.warning(
            "causality: %d more events of the batch rejected",
            len(outcome.errors) - MAX_LOGGED_REJECTIONS,
        )
    if outcome.verdict is not Verdict.DELIVERED:
        log.error(
            "causality: batch of %d events refused, not retried: %s", len(bodies), outcome.reason
        )


def log_retry(outcome: Outcome, events: int, *, attempt: int, delay: float) -> None:
    """A warning when an outage starts and every tenth attempt after; debug in between."""
    level = logging.WARNING if attempt == 1 or attempt % 10 == 0 else logging.DEBUG
    log.log(
        level,
        "causality: sending %d events failed (%s), attempt %d; retrying in %.1fs",
        events,
        outcome.reason or f"HTTP {outcome.status}",
        attempt,
        delay,
    )


def _request_headers(api_key: str) -> dict[str, str]:
    return {"X-API-Key": api_key, "User-Agent": USER_AGENT}


def _failure(exc: httpx.RequestError) -> Outcome:
    return Outcome(Verdict.RETRY, None, f"{type(exc).__name__}: {exc}")


class Transport:
    """Blocking POSTs over one keep-alive connection pool (used by the sender thread only).

    The pool is made on first use, so a forked child that never tracks pays nothing for it.
    """

    def __init__(self, *, host: str, api_key: str, timeout: float, compress: bool = True) -> None:
        self._host = host
        self._api_key = api_key
        self._timeout = timeout
        self._compress = compress
        self._http: httpx.Client | None = None

    def send(self, bodies: Sequence[bytes]) -> Outcome:
        """One attempt; network failures come back as a RETRY outcome, never raised."""
        content, headers = encode_batch(bodies, compress=self._compress)
        if self._http is None:
            self._http = httpx.Client(
                base_url=self._host, headers=_request_headers(self._api_key), timeout=self._timeout
            )
        try:
            r = self._http.post(BATCH_PATH, content=content, headers=headers)
        except httpx.RequestError as exc:
            return _failure(exc)
        return interpret(r.status_code, r.headers, r.content)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()

    def after_fork_in_child(self) -> None:
        """Forget the inherited pool: its sockets carry the parent's requests, so the child
        must never write to them; it opens its own connections on first use."""
        self._http = None


class AsyncTransport:
    """The asyncio twin of ``Transport``."""

    def __init__(self, *, host: str, api_key: str, timeout: float, compress: bool = True) -> None:
        self._compress = compress
        self._http = httpx.AsyncClient(
            base_url=host, headers=_request_headers(api_key), timeout=timeout
        )

    async def send(self, bodies: Sequence[bytes]) -> Outcome:
        """One attempt; network failures come back as a RETRY outcome, never raised."""
        content, headers = encode_batch(bodies, compress=self._compress)
        try:
            r = await self._http.post(BATCH_PATH, content=content, headers=headers)
        except httpx.RequestError as exc:
            return _failure(exc)
        return interpret(r.status_code, r.headers, r.content)

    async def aclose(self) -> None:
        await self._http.aclose()
