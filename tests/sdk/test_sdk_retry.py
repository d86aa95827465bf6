"""Backoff, jitter and Retry-After parsing."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest
from causality_sdk.retry import MAX_RETRY_AFTER_S, Backoff, parse_retry_after

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("1", 1.0),
        (" 7 ", 7.0),
        ("86400", MAX_RETRY_AFTER_S),  # a misconfigured proxy does not park us for a day
        (formatdate(NOW + 30, usegmt=True), 30.0),
        (formatdate(NOW - 30, usegmt=True), 0.0),  # a date in the past means now
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),  # RFC 9110 delay-seconds are integers
        ("Wed, 21 Oct 2015 07:28:00", None),  # not an HTTP-date without its GMT
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_backoff_grows_exponentially_within_the_upper_half_and_caps() -> None:
    backoff = Backoff(base=0.5, cap=8.0, rng=random.Random(1))
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)]:
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempt
        assert max(delays) - min(delays) > ceiling / 4, "jitter spreads clients out"


def test_backoff_survives_absurd_attempt_numbers() -> None:
    assert 15.0 <= Backoff(cap=30.0).delay(10_000) <= 30.0


def test_retry_after_replaces_the_backoff_with_a_little_jitter() -> None:
    backoff = Backoff(base=0.1, cap=0.2, retry_after_jitter=0.1, rng=random.Random(2))
    delays = [backoff.delay(1, retry_after=3.0) for _ in range(200)]
    assert all(3.0 <= d <= 3.3 for d in delays)
    assert len(set(delays)) > 100
    # far into an outage the server's word still wins over the (larger) backoff
    assert 1.0 <= Backoff(base=10, cap=60).delay(6, retry_after=1.0) <= 1.1


def test_zero_retry_after_falls_back_to_the_backoff() -> None:
    assert 0.25 <= Backoff(base=0.5).delay(1, retry_after=0.0) <= 0.5
