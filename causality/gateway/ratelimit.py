"""Per-key token buckets: a misbehaving client slows itself down, not the others."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucketLimiter:
    """``rate`` events per second with bursts up to ``burst``, one bucket per key.

    In-process: with several gateway replicas each enforces the limit on its share of the
    traffic, which is the usual trade-off for a limiter that costs nothing per request.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self._rate = rate
        self._burst = max(burst, 1.0)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, key: str, n: int = 1) -> float:
        """Take ``n`` tokens; 0.0 when allowed, else seconds until they would be available.

        A request larger than the burst is allowed against a full bucket (going negative),
        so one maximal batch never locks a key out forever.
        """
        if self._rate <= 0:
            return 0.0
        now = self._clock()
        tokens, last = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens >= n or tokens >= self._burst:
            self._store(key, tokens - n, now)
            return 0.0
        self._store(key, tokens, now)
        return (min(n, self._burst) - tokens) / self._rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        if key not in self._buckets and len(self._buckets) >= self._max_keys:
            # forget the oldest buckets: a forgotten key starts full, which is the safe side
            for old in list(self._buckets)[: self._max_keys // 10]:
                del self._buckets[old]
        self._buckets[key] = (tokens, now)
