"""When to try a batch again: exponential backoff with jitter, and the server's Retry-After.

Jitter matters because SDK instances fail together (a gateway restart disconnects all of
them at once); without it they would all come back in the same instant, again and again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_S = 600.0
"""A Retry-After above this is treated as this: a misconfigured proxy must not park the SDK
for a day while its queue overflows."""


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110: delay-seconds or an HTTP-date).

    ``None`` when absent or unparseable (the caller falls back to its backoff); a date in the
    past means "now" (0.0); huge values are capped at ``MAX_RETRY_AFTER_S``.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None  # RFC 9110 dates are always GMT; a zone-less one is not an HTTP-date
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER_S)


@dataclass
class Backoff:
    """Delay before retry number ``attempt`` (1-based): ``base * 2**(attempt-1)`` capped at
    ``cap``, then "equal jitter" (a uniform draw from its upper half), so a retry never comes
    hot but instances still spread out. A positive Retry-After replaces the backoff (the
    server knows when it will have room), plus up to ``retry_after_jitter`` of itself so a
    crowd told "1 s" does not come back in the same millisecond.
    """

    base: float = 0.5
    cap: float = 30.0
    retry_after_jitter: float = 0.1
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """Seconds to sleep before retry ``attempt``."""
        exp = min(self.cap, self.base * (2.0 ** min(max(0, attempt - 1), 60)))
        backoff = exp / 2 + self.rng.uniform(0, exp / 2)
        if retry_after is None or retry_after <= 0:
            return backoff
        return retry_after + self.rng.uniform(0, retry_after * self.retry_after_jitter)
