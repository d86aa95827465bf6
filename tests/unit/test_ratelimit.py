"""Token buckets: bursts, refill, per-key isolation, oversized requests."""

from __future__ import annotations

from causality.gateway.ratelimit import TokenBucketLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=10, burst=20, clock=clock)
    assert limiter.acquire("k", 20) == 0.0
    wait = limiter.acquire("k", 5)
    assert 0.49 < wait <= 0.5
    clock.now += 0.5
    assert limiter.acquire("k", 5) == 0.0


def test_keys_are_independent() -> None:
    limiter = TokenBucketLimiter(rate=1, burst=1, clock=Clock())
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0
    assert limiter.acquire("b") == 0.0


def test_request_larger_than_burst_passes_on_a_full_bucket_only() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate=100, burst=50, clock=clock)
    assert limiter.acquire("k", 80) == 0.0  # full bucket: allowed, goes negative
    wait = limiter.acquire("k", 80)
    assert wait > 0.5  # must first refill the debt and a full burst
    clock.now += 2.0
    assert limiter.acquire("k", 80) == 0.0


def test_zero_rate_disables_limiting() -> None:
    limiter = TokenBucketLimiter(rate=0, burst=0, clock=Clock())
    assert all(limiter.acquire("k", 10_000) == 0.0 for _ in range(5))


def test_key_table_is_bounded() -> None:
    limiter = TokenBucketLimiter(rate=1, burst=1, clock=Clock(), max_keys=100)
    for i in range(1000):
        limiter.acquire(f"k{i}")
    assert len(limiter._buckets) <= 100
