"""The detectors' shared state in PostgreSQL: window counts, cooldowns, learned baselines.

Any number of engines count and judge the same detectors at once, so nothing lives in an
engine's memory. Counts are added with ``INSERT ... ON CONFLICT DO UPDATE`` (two engines add up
to what one would count), and a detector is judged only while its ``anomaly_state`` row is
locked, so it fires once whatever the number of engines. The decisions themselves are the
pure functions of ``causality.reactions.detectors``.

Every function takes a connection inside a transaction the caller opened (READ COMMITTED, the
default): the engine commits counts, alert records, outbox rows and processed sequences
together. Functions return ``AlertDraft``s for the caller to record; none inserts alerts.

Deadlocks between engines are avoided by taking row locks in one global order: counts by
``(detector_id, bucket)``, state rows by ``detector_id``. Baselines are judged with
``SKIP LOCKED``: a detector another engine is judging is simply left to it.

``anomaly_state.evaluated_until`` is, for a baseline, the next bucket to judge; for a rate or
count detector, the last window end judged, so a batch spanning several seconds or minutes
judges each window that ends in it (once), not only the newest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import asyncpg

from causality.reactions.detectors import (
    BaselineState,
    baseline_step,
    bucket_of,
    bucket_seconds,
    cooldown_after,
    iso,
    scan_windows,
    silenced,
    summarize,
    window_span_s,
)
from causality.reactions.model import AlertDraft, Detector

# a window detector judges at most this far back from the newest counted second per call
WINDOW_CATCHUP_S: Final = 3_600
# a baseline judges at most this many closed buckets per call; older unjudged ones are skipped
MAX_BASELINE_CATCHUP: Final = 10_000

_WINDOW_KINDS: Final = ("rate", "count")

_ADD_COUNTS = """
INSERT INTO anomaly_counts (detector_id, bucket, count)
SELECT t.detector_id, t.bucket, t.count
FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS t(detector_id, bucket, count)
JOIN anomaly_detectors d ON d.id = t.detector_id
ORDER BY t.detector_id, t.bucket
ON CONFLICT (detector_id, bucket) DO UPDATE SET count = anomaly_counts.count + excluded.count
"""

# state rows are created in id order (an uncommitted insert blocks a concurrent one of the
# same key, so the order matters as much as for row locks); deleted detectors are left out.
# Existing rows are not even attempted: an insert that conflicts with a row another engine
# has updated but not committed would wait for that engine, defeating SKIP LOCKED.
_ENSURE_STATE = """
INSERT INTO anomaly_state (detector_id)
SELECT d.id FROM anomaly_detectors d
WHERE d.id = ANY($1::uuid[])
  AND NOT EXISTS (SELECT 1 FROM anomaly_state s WHERE s.detector_id = d.id)
ORDER BY d.id
ON CONFLICT (detector_id) DO NOTHING
"""

_LOCK_STATE = """
SELECT detector_id::text AS id, cooldown_until, evaluated_until, mean, variance, observations
FROM anomaly_state WHERE detector_id = ANY($1::uuid[]) ORDER BY detector_id FOR UPDATE
"""

# the window ending with each counted bucket in [$2, $3]: the buckets of its span, summed
_WINDOW_TOTALS = """
SELECT bucket, total FROM (
    SELECT bucket, (sum(count) OVER (
        ORDER BY bucket RANGE BETWEEN $4::bigint PRECEDING AND CURRENT ROW))::bigint AS total
    FROM anomaly_counts
    WHERE detector_id = $1 AND bucket >= $2::bigint - $4::bigint AND bucket <= $3::bigint
) w
WHERE bucket >= $2::bigint ORDER BY bucket
"""

_SAVE_STATE = """
UPDATE anomaly_state s SET
    cooldown_until = t.cooldown_until,
    evaluated_until = t.evaluated_until,
    mean = t.mean,
    variance = t.variance,
    observations = t.observations,
    last_fired_at = CASE WHEN t.fired THEN now() ELSE s.last_fired_at END,
    updated_at = now()
FROM unnest($1::uuid[], $2::float8[], $3::bigint[], $4::float8[], $5::float8[], $6::int[],
            $7::bool[]) AS t(detector_id, cooldown_until, evaluated_until, mean, variance,
                             observations, fired)
WHERE s.detector_id = t.detector_id
"""

_BASELINE_COUNTS = """
SELECT bucket / $2::bigint * $2::bigint AS start, sum(count)::bigint AS count
FROM anomaly_counts
WHERE detector_id = $1 AND bucket >= $3::bigint AND bucket < $4::bigint
GROUP BY 1
"""

_PRUNE_BEFORE = """
WITH doomed AS (
    SELECT c.detector_id, c.bucket
    FROM anomaly_counts c
    JOIN unnest($1::uuid[], $2::bigint[]) AS k(detector_id, keep_from)
      ON c.detector_id = k.detector_id AND c.bucket < k.keep_from
    FOR UPDATE OF c SKIP LOCKED
)
DELETE FROM anomaly_counts c USING doomed
WHERE c.detector_id = doomed.detector_id AND c.bucket = doomed.bucket
"""

_PRUNE_JUDGED = """
WITH doomed AS (
    SELECT c.detector_id, c.bucket
    FROM anomaly_counts c
    JOIN anomaly_state s ON s.detector_id = c.detector_id
    WHERE s.detector_id = ANY($1::uuid[]) AND s.evaluated_until IS NOT NULL
      AND c.bucket < s.evaluated_until
    FOR UPDATE OF c SKIP LOCKED
)
DELETE FROM anomaly_counts c USING doomed
WHERE c.detector_id = doomed.detector_id AND c.bucket = doomed.bucket
"""


class _State:
    """A locked ``anomaly_state`` row being changed in memory, saved in one statement."""

    __slots__ = ("cooldown_until", "evaluated_until", "fired", "id", "learned")

    def __init__(self, row: asyncpg.Record) -> None:
        self.id: str = row["id"]
        self.cooldown_until: float = row["cooldown_until"]
        self.evaluated_until: int | None = row["evaluated_until"]
        self.learned = BaselineState(row["mean"], row["variance"], row["observations"])
        self.fired = False


def _draft(
    detector: Detector,
    details: dict[str, Any],
    *,
    event_id: str | None = None,
    app_id: str | None = None,
) -> AlertDraft:
    return AlertDraft(
        source="anomaly",
        name=detector.name,
        summary=summarize(detector, details),
        app_id=detector.app_id if detector.app_id is not None else app_id,
        detector_id=detector.id,
        event_id=event_id,
        details=details,
        webhook_ids=detector.webhook_ids,
        publish_alert=detector.publish_alert,
        priority=detector.priority,
    )


async def _lock(
    conn: asyncpg.Connection, ids: Sequence[str], *, skip_locked: bool = False
) -> dict[str, _State]:
    """Create missing state rows and lock them all, in id order (or skip those locked)."""
    if not ids:
        return {}
    ordered = sorted(set(ids))
    await conn.execute(_ENSURE_STATE, ordered)
    query = _LOCK_STATE + (" SKIP LOCKED" if skip_locked else "")
    rows = await conn.fetch(query, ordered)
    return {row["id"]: _State(row) for row in rows}


async def _save(conn: asyncpg.Connection, states: Sequence[_State]) -> None:
    if not states:
        return
    await conn.execute(
        _SAVE_STATE,
        [s.id for s in states],
        [s.cooldown_until for s in states],
        [s.evaluated_until for s in states],
        [s.learned.mean for s in states],
        [s.learned.variance for s in states],
        [s.learned.observations for s in states],
        [s.fired for s in states],
    )


async def add_counts(conn: asyncpg.Connection, counts: Mapping[tuple[str, int], int]) -> None:
    """Add a batch's events per ``(detector_id, bucket)`` to the shared counts, in one
    statement and in key order (so concurrent engines cannot deadlock on count rows).
    Counts for detectors deleted meanwhile are dropped."""
    if not counts:
        return
    keys = list(counts)
    await conn.execute(
        _ADD_COUNTS,
        [detector_id for detector_id, _ in keys],
        [bucket for _, bucket in keys],
        [counts[key] for key in keys],
    )


async def judge_windows(
    conn: asyncpg.Connection, detectors: Sequence[Detector], touched: Mapping[str, int]
) -> list[AlertDraft]:
    """Judge the rate and count detectors this batch counted for; ``touched`` maps a detector
    id to the newest second (``received_at``) it counted.

    Under the state row's lock, every window ending with a counted bucket after the last one
    judged (at most ``WINDOW_CATCHUP_S`` back), and always the one ending with the newest
    bucket, is read from the committed counts (the batch's own included) and judged.
    """
    chosen = sorted(
        (d for d in detectors if d.kind in _WINDOW_KINDS and d.enabled and d.id in touched),
        key=lambda d: d.id,
    )
    states = await _lock(conn, [d.id for d in chosen])
    drafts: list[AlertDraft] = []
    changed: list[_State] = []
    for detector in chosen:
        state = states.get(detector.id)
        if state is None:  # deleted since the engine loaded its configuration
            continue
        size = bucket_seconds(detector)
        newest = bucket_of(detector, touched[detector.id] * 1000)
        judged = state.evaluated_until
        low = newest
        if judged is not None:
            low = min(newest, max(judged + size, newest - WINDOW_CATCHUP_S))
        rows = await conn.fetch(
            _WINDOW_TOTALS, detector.id, low, newest, window_span_s(detector) - size
        )
        totals = [(row["bucket"], row["total"]) for row in rows]
        firings, state.cooldown_until = scan_windows(detector, totals, state.cooldown_until)
        drafts += [_draft(detector, details) for details in firings]
        state.fired = bool(firings)
        state.evaluated_until = newest if judged is None else max(judged, newest)
        changed.append(state)
    await _save(conn, changed)
    return drafts


async def judge_thresholds(
    conn: asyncpg.Connection, breaches: Sequence[tuple[Detector, int, dict[str, Any]]]
) -> list[AlertDraft]:
    """Turn threshold breaches ``(detector, event second, threshold_breach details)`` into
    alerts, in order, except those within the detector's cooldown (checked and updated
    under its state row's lock). ``event_id`` and ``app_id`` in the details, if any, name the
    event; the app is the alert's when the detector watches every app."""
    states = await _lock(conn, [d.id for d, _, _ in breaches if d.kind == "threshold"])
    drafts: list[AlertDraft] = []
    for detector, second, breach in breaches:
        state = states.get(detector.id)
        if state is None or detector.kind != "threshold":
            continue
        if silenced(detector, second, state.cooldown_until):
            continue
        state.cooldown_until = cooldown_after(detector, second, state.cooldown_until)
        state.fired = True
        details = {**breach, "kind": "threshold", "at": iso(second)}
        event_id, app_id = breach.get("event_id"), breach.get("app_id")
        drafts.append(
            _draft(
                detector,
                details,
                event_id=event_id if isinstance(event_id, str) else None,
                app_id=app_id if isinstance(app_id, str) else None,
            )
        )
    await _save(conn, [s for s in states.values() if s.fired])
    return drafts


async def _first_bucket(
    conn: asyncpg.Connection, detector: Detector, state: _State, now_s: float
) -> int:
    """Where judging starts: the next unjudged bucket, else the oldest counted one, else
    the current one (nothing counted yet: the detector starts learning from now)."""
    size = bucket_seconds(detector)
    if state.evaluated_until is not None:
        return -(-state.evaluated_until // size) * size  # aligned up if bucket_s changed
    oldest = await conn.fetchval(
        "SELECT min(bucket) FROM anomaly_counts WHERE detector_id = $1", detector.id
    )
    start = math.floor(now_s) if oldest is None else oldest
    return start - start % size


async def judge_baselines(
    conn: asyncpg.Connection, detectors: Sequence[Detector], *, now_s: float, grace_s: float
) -> list[AlertDraft]:
    """Judge every baseline bucket that closed (its end + ``grace_s`` <= ``now_s``) since the
    last call, in order, learning from each; empty buckets count as 0.

    Detectors another engine is judging right now are skipped (``SKIP LOCKED``), so each
    bucket is judged once. ``now_s`` is the engines' clock in epoch seconds; ``grace_s``
    leaves time for late messages of a bucket to be counted before it is judged. At most the
    last ``MAX_BASELINE_CATCHUP`` closed buckets are judged; older unjudged ones are skipped.
    """
    chosen = {d.id: d for d in detectors if d.kind == "baseline" and d.enabled}
    states = await _lock(conn, list(chosen), skip_locked=True)
    drafts: list[AlertDraft] = []
    changed: list[_State] = []
    for detector_id in sorted(states):
        detector, state = chosen[detector_id], states[detector_id]
        size = bucket_seconds(detector)
        closed_until = math.floor(now_s - grace_s)
        closed_until -= closed_until % size  # buckets starting before this are closed
        start = await _first_bucket(conn, detector, state, now_s)
        start = max(start, closed_until - MAX_BASELINE_CATCHUP * size)
        if start >= closed_until:
            if state.evaluated_until is None:
                state.evaluated_until = start
                changed.append(state)
            continue
        rows = await conn.fetch(_BASELINE_COUNTS, detector.id, size, start, closed_until)
        counts = {row["start"]: row["count"] for row in rows}
        for bucket in range(start, closed_until, size):
            state.learned, verdict = baseline_step(
                detector.params, state.learned, counts.get(bucket, 0)
            )
            if verdict is None or silenced(detector, bucket, state.cooldown_until):
                continue
            state.cooldown_until = cooldown_after(detector, bucket, state.cooldown_until)
            state.fired = True
            details = {
                "kind": "baseline",
                **verdict,
                "bucket_s": size,
                "bucket_start": iso(bucket),
                "bucket_end": iso(bucket + size),
            }
            drafts.append(_draft(detector, details))
        state.evaluated_until = closed_until
        changed.append(state)
    await _save(conn, changed)
    return drafts


async def prune_counts(
    conn: asyncpg.Connection | asyncpg.Pool, detectors: Sequence[Detector], now_s: float
) -> int:
    """Delete count buckets no detector needs any more, returning how many: for rate and
    count detectors those older than their window plus ``WINDOW_CATCHUP_S``, for baselines
    those already judged. Rows another transaction holds are left for the next prune."""
    windows = [d for d in detectors if d.kind in _WINDOW_KINDS]
    baselines = [d.id for d in detectors if d.kind == "baseline"]
    deleted = 0
    if windows:
        keep_from = [math.floor(now_s) - window_span_s(d) - WINDOW_CATCHUP_S for d in windows]
        status = await conn.execute(_PRUNE_BEFORE, [d.id for d in windows], keep_from)
        deleted += int(status.split()[-1])
    if baselines:
        status = await conn.execute(_PRUNE_JUDGED, baselines)
        deleted += int(status.split()[-1])
    return deleted


async def reset_detector(conn: asyncpg.Connection | asyncpg.Pool, detector_id: str) -> None:
    """Forget a detector's counts, cooldown and learned baseline: for when its kind, scope,
    condition or parameters change, or it is enabled again after a pause, since what was
    counted or learned no longer describes what it now watches."""
    await conn.execute("DELETE FROM anomaly_counts WHERE detector_id = $1", detector_id)
    await conn.execute("DELETE FROM anomaly_state WHERE detector_id = $1", detector_id)
