"""Login attempts, the shared memory of the brute-force limit (every gateway replica sees
every attempt, so adding replicas does not multiply an attacker's guesses)."""

from __future__ import annotations

import asyncpg
import msgspec


class AttemptCounts(msgspec.Struct, frozen=True, kw_only=True):
    """Other attempts within the window, and when the oldest one that matters expires.

    ``email_retry_s`` is the time until the email's count drops below its limit (None while it
    already is); likewise for the address.
    """

    email_count: int
    email_retry_s: float | None
    ip_count: int
    ip_retry_s: float | None


async def record_attempt(pool: asyncpg.Pool, *, email: str, ip: str) -> int:
    """Write an attempt before the password is checked, so concurrent guesses see each other."""
    attempt_id = await pool.fetchval(
        "INSERT INTO login_attempts (email, ip) VALUES ($1, $2) RETURNING id", email, ip
    )
    return int(attempt_id)


async def count_others(
    pool: asyncpg.Pool,
    *,
    attempt_id: int,
    email: str,
    ip: str,
    window_s: float,
    email_limit: int,
    ip_limit: int,
) -> AttemptCounts:
    """Attempts in the window other than ``attempt_id``, for the email and for the address."""
    row = await pool.fetchrow(
        """
        WITH recent AS (
            SELECT email, ip, attempted_at FROM login_attempts
            WHERE (email = $1 OR ip = $2) AND id <> $3
              AND attempted_at > now() - make_interval(secs => $4)
        )
        SELECT
            count(*) FILTER (WHERE email = $1) AS email_count,
            extract(epoch FROM (array_agg(attempted_at ORDER BY attempted_at DESC)
                FILTER (WHERE email = $1))[$5] + make_interval(secs => $4) - now())
                AS email_retry_s,
            count(*) FILTER (WHERE ip = $2) AS ip_count,
            extract(epoch FROM (array_agg(attempted_at ORDER BY attempted_at DESC)
                FILTER (WHERE ip = $2))[$6] + make_interval(secs => $4) - now())
                AS ip_retry_s
        FROM recent
        """,
        email,
        ip,
        attempt_id,
        float(window_s),
        email_limit,
        ip_limit,
    )
    assert row is not None
    return AttemptCounts(
        email_count=int(row["email_count"]),
        email_retry_s=None if row["email_retry_s"] is None else float(row["email_retry_s"]),
        ip_count=int(row["ip_count"]),
        ip_retry_s=None if row["ip_retry_s"] is None else float(row["ip_retry_s"]),
    )


async def delete_attempt(pool: asyncpg.Pool, *, attempt_id: int) -> None:
    """Forget an attempt that was refused before its password was checked."""
    await pool.execute("DELETE FROM login_attempts WHERE id = $1", attempt_id)


async def clear_email(pool: asyncpg.Pool, *, email: str) -> None:
    """A successful login resets the email's count."""
    await pool.execute("DELETE FROM login_attempts WHERE email = $1", email)


async def purge_older_than(pool: asyncpg.Pool, *, window_s: float) -> int:
    """Delete attempts that no longer count (housekeeping)."""
    status = await pool.execute(
        "DELETE FROM login_attempts WHERE attempted_at <= now() - make_interval(secs => $1)",
        float(window_s),
    )
    return int(status.split()[-1])
