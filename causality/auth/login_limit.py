"""The brute-force limit on logins: at most N failures per email and M per client address
within a sliding window, counted in PostgreSQL so every gateway replica shares one count.

An attempt is recorded *before* its password is checked, and refused attempts are not checked
at all: while an email is locked, even the right password gets 429, so the limit cannot be
used as an oracle. A successful login clears the email's count.
"""

from __future__ import annotations

import math

import asyncpg
import msgspec

from causality.auth.errors import LoginRateLimited
from causality.store import login_attempts as repo


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    """An admitted attempt, to report success on."""

    attempt_id: int
    email: str
    ip: str


class LoginLimiter:
    """Admits or refuses login attempts; cheap to build per request (it holds no state)."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        max_failures: int,
        max_failures_per_ip: int,
        window_s: float,
    ) -> None:
        self._pool = pool
        self._max_failures = max_failures
        self._max_failures_per_ip = max_failures_per_ip
        self._window_s = window_s

    async def begin(self, *, email: str, ip: str) -> Attempt:
        """Record an attempt, or raise ``LoginRateLimited`` with the seconds to wait."""
        attempt_id = await repo.record_attempt(self._pool, email=email, ip=ip)
        counts = await repo.count_others(
            self._pool,
            attempt_id=attempt_id,
            email=email,
            ip=ip,
            window_s=self._window_s,
            email_limit=self._max_failures,
            ip_limit=self._max_failures_per_ip,
        )
        waits = []
        if counts.email_count >= self._max_failures:
            waits.append(counts.email_retry_s or self._window_s)
        if counts.ip_count >= self._max_failures_per_ip:
            waits.append(counts.ip_retry_s or self._window_s)
        if waits:
            await repo.delete_attempt(self._pool, attempt_id=attempt_id)
            raise LoginRateLimited(max(1, math.ceil(max(waits))))
        return Attempt(attempt_id=attempt_id, email=email, ip=ip)

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the email starts afresh."""
        await repo.clear_email(self._pool, email=attempt.email)

    async def purge(self) -> int:
        """Delete attempts older than the window (housekeeping)."""
        return await repo.purge_older_than(self._pool, window_s=self._window_s)
