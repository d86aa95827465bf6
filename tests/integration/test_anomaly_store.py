"""Detector state in the real PostgreSQL: shared counts, locked judging, cooldown, baselines.

Several "engines" are several connections with their own transactions, interleaved either
explicitly (one holds a lock while the other runs) or freely with ``asyncio.gather``.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import msgspec
import pytest
import pytest_asyncio

from causality.reactions.anomaly_store import (
    add_counts,
    judge_baselines,
    judge_thresholds,
    judge_windows,
    prune_counts,
    reset_detector,
)
from causality.reactions.detectors import threshold_breach, validate_params
from causality.reactions.model import AlertDraft, Detector
from tests.conftest import FreshDatabase

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(loop_scope="session")
async def pool(fresh_db: FreshDatabase) -> asyncpg.Pool:
    """A database of the test's own: the session's Serve app runs reaction engines on the
    shared one, and they would count live events into detectors created there."""
    return fresh_db.pool


T0 = 1_700_000_040  # a minute boundary, epoch seconds
HANG_GUARD_S = 60  # only turns a would-be deadlock into a failure; never a timing assertion


async def make_detector(
    pool: asyncpg.Pool,
    kind: str,
    params: dict[str, Any],
    *,
    cooldown_s: int = 3600,
    webhook_ids: tuple[str, ...] = (),
) -> Detector:
    detector_id = str(uuid.uuid4())
    normalized = validate_params(kind, params)
    await pool.execute(
        "INSERT INTO anomaly_detectors (id, name, kind, params, cooldown_s) "
        "VALUES ($1, $2, $3, $4::jsonb, $5)",
        detector_id,
        f"{kind} detector",
        kind,
        msgspec.json.encode(normalized).decode(),
        cooldown_s,
    )
    return Detector(
        id=detector_id,
        name=f"{kind} detector",
        kind=kind,  # type: ignore[arg-type]
        params=normalized,
        cooldown_s=cooldown_s,
        webhook_ids=webhook_ids,
        publish_alert=True,
        priority=7,
    )


async def engine_batch(
    pool: asyncpg.Pool,
    detectors: Sequence[Detector],
    counts: Mapping[tuple[str, int], int],
    touched: Mapping[str, int],
) -> list[AlertDraft]:
    """What the engine does per batch: add counts and judge windows in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await add_counts(conn, counts)
        return await judge_windows(conn, detectors, touched)


async def stored_counts(pool: asyncpg.Pool, detector: Detector) -> dict[int, int]:
    rows = await pool.fetch(
        "SELECT bucket, count FROM anomaly_counts WHERE detector_id = $1", detector.id
    )
    return {row["bucket"]: row["count"] for row in rows}


async def state_of(pool: asyncpg.Pool, detector: Detector) -> asyncpg.Record:
    return await pool.fetchrow("SELECT * FROM anomaly_state WHERE detector_id = $1", detector.id)


def seconds_batch(detector: Detector, seconds: Sequence[int]) -> tuple[dict, dict]:
    """The counts and touched maps of one batch of events received at ``seconds``."""
    counts: Counter[tuple[str, int]] = Counter()
    for second in seconds:
        bucket = second if detector.kind == "count" else second - second % 60
        counts[(detector.id, bucket)] += 1
    return dict(counts), {detector.id: max(seconds)}


async def test_two_engines_count_what_one_counts_and_fire_once(pool: asyncpg.Pool) -> None:
    rng = random.Random(5)
    seconds = sorted(T0 + rng.randrange(30) for _ in range(400))
    batches = [seconds[i : i + 9] for i in range(0, len(seconds), 9)]
    params = {"max_count": 100, "window_s": 10}
    alone = await make_detector(pool, "count", params)
    shared = await make_detector(pool, "count", params)
    shared_rate = await make_detector(pool, "rate", {"max_per_minute": 150})

    one_engine = []
    for batch in batches:
        counts, touched = seconds_batch(alone, batch)
        one_engine += await engine_batch(pool, [alone], counts, touched)

    async def engine(mine: list[list[int]]) -> list[AlertDraft]:
        drafts = []
        for batch in mine:
            counts, touched = seconds_batch(shared, batch)
            rate_counts, rate_touched = seconds_batch(shared_rate, batch)
            drafts += await engine_batch(
                pool,
                [shared, shared_rate],
                {**counts, **rate_counts},
                {**touched, **rate_touched},
            )
            await asyncio.sleep(0)
        return drafts

    first, second = await asyncio.gather(engine(batches[0::2]), engine(batches[1::2]))
    expected = Counter(seconds)
    assert await stored_counts(pool, alone) == expected
    assert await stored_counts(pool, shared) == expected
    per_minute = Counter(s - s % 60 for s in seconds)
    assert await stored_counts(pool, shared_rate) == per_minute
    assert max(per_minute.values()) > 150
    assert [d.detector_id for d in one_engine] == [alone.id]
    assert sorted(d.detector_id for d in first + second) == sorted([shared.id, shared_rate.id])


async def test_the_engine_that_judges_second_sees_the_first_ones_counts(
    pool: asyncpg.Pool,
) -> None:
    """Neither engine's batch alone exceeds the limit; together they do: exactly the engine
    that takes the detector's lock second fires, having read the committed counts."""
    detector = await make_detector(pool, "count", {"max_count": 50, "window_s": 10})
    # an earlier batch created the state row: what B waits for below is A's lock on it
    await engine_batch(pool, [detector], {(detector.id, T0 - 60): 1}, {detector.id: T0 - 60})
    async with pool.acquire() as conn_a, pool.acquire() as conn_b:
        tx_a, tx_b = conn_a.transaction(), conn_b.transaction()
        await tx_a.start()
        await tx_b.start()
        await add_counts(conn_a, {(detector.id, T0): 30})
        await add_counts(conn_b, {(detector.id, T0 + 1): 30})
        assert await judge_windows(conn_a, [detector], {detector.id: T0}) == []
        judging_b = asyncio.create_task(judge_windows(conn_b, [detector], {detector.id: T0 + 1}))
        await asyncio.sleep(0.2)
        assert not judging_b.done()  # waiting for engine A's lock on the detector
        await tx_a.commit()
        drafts = await asyncio.wait_for(judging_b, HANG_GUARD_S)
        await tx_b.commit()
    (draft,) = drafts
    assert draft.details["observed"] == 60
    assert draft.summary == "count detector: 60 events in 10 s (max 50)"


async def test_same_bucket_from_two_engines_waits_for_the_row(pool: asyncpg.Pool) -> None:
    detector = await make_detector(pool, "count", {"max_count": 50, "window_s": 1})
    async with pool.acquire() as conn_a, pool.acquire() as conn_b:
        tx_a, tx_b = conn_a.transaction(), conn_b.transaction()
        await tx_a.start()
        await tx_b.start()
        await add_counts(conn_a, {(detector.id, T0): 30})
        adding_b = asyncio.create_task(add_counts(conn_b, {(detector.id, T0): 30}))
        assert await judge_windows(conn_a, [detector], {detector.id: T0}) == []
        await tx_a.commit()
        await asyncio.wait_for(adding_b, HANG_GUARD_S)
        (draft,) = await judge_windows(conn_b, [detector], {detector.id: T0})
        await tx_b.commit()
    assert draft.details["observed"] == 60
    assert await stored_counts(pool, detector) == {T0: 60}


async def test_count_boundaries_in_sql(pool: asyncpg.Pool) -> None:
    at_max = await make_detector(pool, "count", {"max_count": 5, "window_s": 10})
    assert await engine_batch(pool, [at_max], {(at_max.id, T0): 5}, {at_max.id: T0}) == []
    (draft,) = await engine_batch(pool, [at_max], {(at_max.id, T0): 1}, {at_max.id: T0})
    assert draft.details["observed"] == 6

    edges = await make_detector(pool, "count", {"max_count": 5, "window_s": 10})
    await engine_batch(pool, [edges], {(edges.id, T0): 3}, {edges.id: T0})
    # T0 + 10: the window [T0 + 1, T0 + 10] no longer holds T0's events
    assert await engine_batch(pool, [edges], {(edges.id, T0 + 10): 3}, {edges.id: T0 + 10}) == []
    # T0 + 9 (a late event): the window [T0, T0 + 9] holds 3 + 3
    late = {(edges.id, T0 + 9): 3}
    assert await engine_batch(pool, [edges], late, {edges.id: T0 + 9}) != []


async def test_a_batch_spanning_seconds_judges_each_window(pool: asyncpg.Pool) -> None:
    detector = await make_detector(pool, "count", {"max_count": 5, "window_s": 1})
    await engine_batch(pool, [detector], {(detector.id, T0 - 5): 1}, {detector.id: T0 - 5})
    counts = {(detector.id, T0): 10, (detector.id, T0 + 1): 1}
    (draft,) = await engine_batch(pool, [detector], counts, {detector.id: T0 + 1})
    assert draft.details["observed"] == 10
    assert draft.details["window_start"] == "2023-11-14T22:14:00Z"
    assert (await state_of(pool, detector))["evaluated_until"] == T0 + 1


async def test_rate_in_one_minute_fires_across_two_does_not(pool: asyncpg.Pool) -> None:
    spread = await make_detector(pool, "rate", {"max_per_minute": 10})
    counts, touched = seconds_batch(spread, [T0 + 50] * 10 + [T0 + 70] * 10)
    assert await engine_batch(pool, [spread], counts, touched) == []

    bunched = await make_detector(pool, "rate", {"max_per_minute": 10})
    counts, touched = seconds_batch(bunched, [T0 + 1] * 10)
    assert await engine_batch(pool, [bunched], counts, touched) == []
    counts, touched = seconds_batch(bunched, [T0 + 59])  # the 11th, still in the minute
    (draft,) = await engine_batch(pool, [bunched], counts, touched)
    assert draft.details["observed"] == 11
    assert draft.details["window_end"] == "2023-11-14T22:15:00Z"
    assert draft.summary == "rate detector: 11 events in one minute (max 10)"
    assert (draft.source, draft.detector_id, draft.name) == ("anomaly", bunched.id, bunched.name)
    assert (draft.app_id, draft.publish_alert, draft.priority) == (None, True, 7)


async def test_window_cooldown_is_persisted(pool: asyncpg.Pool) -> None:
    detector = await make_detector(pool, "count", {"max_count": 1, "window_s": 1}, cooldown_s=60)
    fired = []
    for second in (T0, T0 + 10, T0 + 59, T0 + 60, T0 + 61):
        counts = {(detector.id, second): 2}
        drafts = await engine_batch(pool, [detector], counts, {detector.id: second})
        fired += [second] * len(drafts)
    assert fired == [T0, T0 + 60]
    state = await state_of(pool, detector)
    assert state["cooldown_until"] == T0 + 120
    assert state["last_fired_at"] is not None


async def test_threshold_cooldown_is_checked_and_persisted(pool: asyncpg.Pool) -> None:
    detector = await make_detector(
        pool, "threshold", {"field": "properties.amount", "max": 100}, cooldown_s=60
    )
    breach = threshold_breach(detector.params, 150)
    assert breach is not None

    async def judge(*seconds: int) -> list[AlertDraft]:
        async with pool.acquire() as conn, conn.transaction():
            items = [
                (detector, s, {**breach, "event_id": f"ev-{s}", "app_id": "shop"}) for s in seconds
            ]
            return await judge_thresholds(conn, items)

    (draft,) = await judge(T0, T0, T0 + 1)
    assert (draft.event_id, draft.app_id) == (f"ev-{T0}", "shop")
    assert draft.details["at"] == "2023-11-14T22:14:00Z"
    assert draft.details["observed"] == 150
    assert draft.summary == "threshold detector: properties.amount = 150, above max 100"
    assert await judge(T0 + 59) == []
    assert len(await judge(T0 + 60)) == 1
    assert (await state_of(pool, detector))["cooldown_until"] == T0 + 120


async def test_threshold_without_cooldown_fires_for_each_breach(pool: asyncpg.Pool) -> None:
    detector = await make_detector(
        pool, "threshold", {"field": "properties.amount", "min": 0}, cooldown_s=0
    )
    breach = threshold_breach(detector.params, -1)
    assert breach is not None
    async with pool.acquire() as conn, conn.transaction():
        drafts = await judge_thresholds(conn, [(detector, T0, breach)] * 3)
    assert len(drafts) == 3


async def baseline_counts(pool: asyncpg.Pool, detector: Detector, series: list[int]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await add_counts(
            conn, {(detector.id, T0 + 60 * i): c for i, c in enumerate(series) if c > 0}
        )


async def judge_baselines_at(
    pool: asyncpg.Pool, detectors: Sequence[Detector], now_s: float
) -> list[AlertDraft]:
    async with pool.acquire() as conn, conn.transaction():
        return await judge_baselines(conn, detectors, now_s=now_s, grace_s=5)


BASELINE = {"warmup_buckets": 5, "k": 3.0}


async def test_baseline_judges_closed_buckets_once_and_fires_on_a_spike(
    pool: asyncpg.Pool,
) -> None:
    detector = await make_detector(pool, "baseline", BASELINE)
    await baseline_counts(pool, detector, [100, 98, 103, 101, 99, 100, 102, 400, 100])
    assert await judge_baselines_at(pool, [detector], T0 + 30) == []
    assert (await state_of(pool, detector))["evaluated_until"] == T0

    # bucket 8 ends at T0 + 540 but is still within its grace period
    (draft,) = await judge_baselines_at(pool, [detector], T0 + 544)
    assert draft.details["observed"] == 400
    assert draft.details["direction"] == "up"
    assert draft.details["bucket_start"] == "2023-11-14T22:21:00Z"
    assert draft.details["bucket_end"] == "2023-11-14T22:22:00Z"
    assert draft.summary.startswith("baseline detector: 400 events in 60 s, expected about 10")
    state = await state_of(pool, detector)
    assert (state["evaluated_until"], state["observations"]) == (T0 + 480, 8)
    assert state["cooldown_until"] == T0 + 420 + 3600
    assert await judge_baselines_at(pool, [detector], T0 + 544) == []
    assert await judge_baselines_at(pool, [detector], T0 + 545) == []
    assert (await state_of(pool, detector))["observations"] == 9


async def test_baseline_sees_a_drop_to_zero(pool: asyncpg.Pool) -> None:
    detector = await make_detector(pool, "baseline", BASELINE)
    await baseline_counts(pool, detector, [50, 52, 49, 51, 50, 48, 50])
    (draft,) = await judge_baselines_at(pool, [detector], T0 + 60 * 9 + 5)
    assert draft.details["observed"] == 0
    assert draft.details["direction"] == "down"
    assert draft.details["bucket_start"] == "2023-11-14T22:21:00Z"
    assert "(drop, z = -" in draft.summary


async def test_baseline_without_counts_starts_learning_now(pool: asyncpg.Pool) -> None:
    detector = await make_detector(pool, "baseline", {"warmup_buckets": 2})
    assert await judge_baselines_at(pool, [detector], T0 + 30) == []
    assert (await state_of(pool, detector))["evaluated_until"] == T0
    assert await judge_baselines_at(pool, [detector], T0 + 60 * 3 + 5) == []
    state = await state_of(pool, detector)
    assert (state["observations"], state["mean"], state["evaluated_until"]) == (3, 0.0, T0 + 180)


async def test_a_baseline_being_judged_is_skipped_by_another_engine(
    pool: asyncpg.Pool,
) -> None:
    detector = await make_detector(pool, "baseline", BASELINE)
    await baseline_counts(pool, detector, [100, 98, 103, 101, 99, 100, 102, 400])
    await judge_baselines_at(pool, [detector], T0 + 30)  # state row exists from here on
    now = T0 + 60 * 8 + 5
    async with pool.acquire() as conn_a, pool.acquire() as conn_b:
        tx_a = conn_a.transaction()
        await tx_a.start()
        drafts_a = await judge_baselines(conn_a, [detector], now_s=now, grace_s=5)
        async with conn_b.transaction():
            skipped = judge_baselines(conn_b, [detector], now_s=now, grace_s=5)
            assert await asyncio.wait_for(skipped, HANG_GUARD_S) == []
        await tx_a.commit()
    assert len(drafts_a) == 1
    assert (await state_of(pool, detector))["observations"] == 8


async def test_concurrent_baseline_judges_judge_each_bucket_once(pool: asyncpg.Pool) -> None:
    detectors = [await make_detector(pool, "baseline", BASELINE) for _ in range(4)]
    for detector in detectors:
        await baseline_counts(pool, detector, [100, 98, 103, 101, 99, 100, 102, 400, 100])
    now = T0 + 60 * 9 + 5
    results = await asyncio.gather(*(judge_baselines_at(pool, detectors, now) for _ in range(3)))
    drafts = [draft for result in results for draft in result]
    assert sorted(d.detector_id for d in drafts) == sorted(d.id for d in detectors)
    for detector in detectors:
        state = await state_of(pool, detector)
        assert (state["observations"], state["evaluated_until"]) == (9, T0 + 540)


async def test_prune_keeps_what_detectors_still_need(pool: asyncpg.Pool) -> None:
    count = await make_detector(pool, "count", {"max_count": 1000, "window_s": 60})
    baseline = await make_detector(pool, "baseline", BASELINE)
    now = T0 + 10_000
    keep_from = now - 60 - 3600
    async with pool.acquire() as conn, conn.transaction():
        await add_counts(conn, {(count.id, keep_from - 1): 1, (count.id, keep_from): 2})
    await baseline_counts(pool, baseline, [1, 2, 3, 4])
    await judge_baselines_at(pool, [baseline], T0 + 125)  # judges buckets 0 and 1
    deleted = await prune_counts(pool, [count, baseline], now)
    assert deleted == 3
    assert await stored_counts(pool, count) == {keep_from: 2}
    assert await stored_counts(pool, baseline) == {T0 + 120: 3, T0 + 180: 4}


async def test_deleted_and_reset_detectors(pool: asyncpg.Pool) -> None:
    gone = await make_detector(pool, "count", {"max_count": 0, "window_s": 1})
    await pool.execute("DELETE FROM anomaly_detectors WHERE id = $1", gone.id)
    assert await engine_batch(pool, [gone], {(gone.id, T0): 5}, {gone.id: T0}) == []
    assert await stored_counts(pool, gone) == {}

    detector = await make_detector(pool, "count", {"max_count": 0, "window_s": 1})
    assert len(await engine_batch(pool, [detector], {(detector.id, T0): 1}, {detector.id: T0}))
    await reset_detector(pool, detector.id)
    assert await stored_counts(pool, detector) == {}
    assert await state_of(pool, detector) is None
    assert len(await engine_batch(pool, [detector], {(detector.id, T0): 1}, {detector.id: T0}))
