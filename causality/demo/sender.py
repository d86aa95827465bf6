"""Streams demo traffic to a running gateway over HTTP, the way a fleet of SDKs would.

It goes through the public batch endpoint (gzip, API key per app) rather than publishing to
the bus directly, so the demo exercises authentication, validation, rate limits and dedup
exactly like production traffic does.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import gzip
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import msgspec

from causality.demo.traffic import TrafficGenerator

BATCH_PATH: Final = "/api/v1/events/batch"
MAX_WAIT_S: Final = 60.0
MAX_BACKOFF_S: Final = 10.0
NETWORK_ERROR_STATUS: Final = 0
_RETRY_LATER: Final = frozenset({429, 503})

ResultHook = Callable[[str, int, dict[str, Any]], None]


@dataclass(slots=True)
class DemoStats:
    """What happened to the demo traffic, for the CLI's summary line."""

    sent: int = 0
    """Events in requests the gateway answered with 2xx."""
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed_requests: int = 0
    """Requests that failed: network errors, 5xx, and refused (4xx other than 429) batches."""
    throttled: int = 0
    """429/503 answers; their batch was kept and sent again after Retry-After."""
    dropped: int = 0
    """Events given up: refused by a 4xx, or pushed out of a full queue."""


@dataclass(slots=True)
class _Lane:
    """One app's queue and its retry schedule, independent of the other apps."""

    app_id: str
    api_key: str
    pending: list[dict[str, Any]] = field(default_factory=list)
    not_before: float = 0.0
    failures: int = 0


async def stream_traffic(
    *,
    base_url: str,
    api_keys: Mapping[str, str],
    events_per_s: float,
    stop: asyncio.Event,
    generator: TrafficGenerator,
    client: httpx.AsyncClient | None = None,
    on_result: ResultHook | None = None,
    interval_s: float = 0.5,
    max_batch: int = 500,
    max_pending: int = 10_000,
) -> DemoStats:
    """POST generated batches every ``interval_s`` until ``stop`` is set; return the counts.

    Events of apps without a key in ``api_keys`` are discarded. ``on_result`` sees every
    answer as ``(app_id, status, json_body)``; a network error is reported as status 0 with
    ``{"error": ...}``. An in-flight request is abandoned when ``stop`` is set.
    """
    if events_per_s < 0 or interval_s <= 0 or max_batch <= 0 or max_pending <= 0:
        raise ValueError("rates, interval and sizes must be positive")
    url = base_url.rstrip("/") + BATCH_PATH
    lanes = {app_id: _Lane(app_id=app_id, api_key=key) for app_id, key in api_keys.items()}
    stats = DemoStats()
    # Our own client ignores proxy variables: library code never reads the environment.
    http = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0), trust_env=False)
    loop = asyncio.get_running_loop()
    owed = events_per_s * interval_s
    last_tick = loop.time()
    try:
        while not stop.is_set():
            tick = loop.time()
            # Pace by elapsed time so a slow gateway does not lower the rate; cap the catch-up
            # so a stall (a suspended laptop) does not end in one huge burst.
            owed += events_per_s * min(tick - last_tick, 5 * interval_s)
            last_tick = tick
            size = int(owed)
            owed -= size
            for app_id, events in generator.next_batch(size=size).items():
                lane = lanes.get(app_id)
                if lane is None:
                    continue
                lane.pending.extend(events)
                overflow = len(lane.pending) - max_pending
                if overflow > 0:
                    del lane.pending[:overflow]
                    stats.dropped += overflow
            ready = [ln for ln in lanes.values() if ln.pending and ln.not_before <= tick]
            flushes = [
                _flush(lane, http=http, url=url, stats=stats, max_batch=max_batch, hook=on_result)
                for lane in ready
            ]
            await _unless_stopped(stop, _all(flushes))
            remaining = interval_s - (loop.time() - tick)
            if remaining > 0 and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), remaining)
    finally:
        if client is None:
            await http.aclose()
    return stats


async def _flush(
    lane: _Lane,
    *,
    http: httpx.AsyncClient,
    url: str,
    stats: DemoStats,
    max_batch: int,
    hook: ResultHook | None,
) -> None:
    """Send the lane's queue in chunks until it is empty or the gateway says wait."""
    loop = asyncio.get_running_loop()
    while lane.pending:
        chunk = lane.pending[:max_batch]
        body = gzip.compress(msgspec.json.encode({"events": chunk}), compresslevel=5)
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "X-API-Key": lane.api_key,
        }
        try:
            response = await http.post(url, content=body, headers=headers)
        except httpx.RequestError as exc:
            stats.failed_requests += 1
            lane.failures += 1
            lane.not_before = loop.time() + _backoff(lane.failures)
            if hook is not None:
                hook(lane.app_id, NETWORK_ERROR_STATUS, {"error": f"{type(exc).__name__}: {exc}"})
            return
        answer = _json_object(response)
        if hook is not None:
            hook(lane.app_id, response.status_code, answer)
        status = response.status_code
        if status in _RETRY_LATER:
            stats.throttled += 1
            lane.failures += 1
            wait = _retry_after(response.headers.get("Retry-After"))
            lane.not_before = loop.time() + (wait if wait is not None else _backoff(lane.failures))
            return
        if status >= 500:
            stats.failed_requests += 1
            lane.failures += 1
            lane.not_before = loop.time() + _backoff(lane.failures)
            return
        del lane.pending[: len(chunk)]
        if status >= 400:
            # The gateway refused the batch itself (bad key, too large): resending cannot help.
            stats.failed_requests += 1
            stats.dropped += len(chunk)
            return
        lane.failures = 0
        stats.sent += len(chunk)
        stats.accepted += _count(answer, "accepted")
        stats.duplicates += _count(answer, "duplicates")
        stats.rejected += _count(answer, "rejected")


async def _all(flushes: list[Coroutine[Any, Any, None]]) -> None:
    """Flush the apps concurrently; a bug in one cancels the others instead of orphaning them."""
    async with asyncio.TaskGroup() as group:
        for flush in flushes:
            group.create_task(flush)


async def _unless_stopped(stop: asyncio.Event, work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` but abandon it as soon as ``stop`` is set, so shutdown is prompt."""
    task = asyncio.create_task(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        task.cancel()
        await asyncio.wait({task, stopped})
    if not task.cancelled():
        task.result()


def _backoff(failures: int) -> float:
    return min(0.5 * 2 ** (failures - 1), MAX_BACKOFF_S)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait per RFC 9110 Retry-After (delay-seconds or an HTTP date), capped."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_WAIT_S)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _count(answer: dict[str, Any], key: str) -> int:
    value = answer.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
