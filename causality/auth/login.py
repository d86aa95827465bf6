"""Checking an email and password, with the brute-force limit and without a timing oracle."""

from __future__ import annotations

import asyncio

import asyncpg

from causality.auth.errors import InvalidCredentials
from causality.auth.login_limit import LoginLimiter
from causality.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    burn_verification,
    needs_rehash,
    rehash,
    verify_password,
)
from causality.store import users
from causality.store.users import User


async def check_credentials(
    pool: asyncpg.Pool, *, email: str, password: str, ip: str, limiter: LoginLimiter
) -> User:
    """The user these credentials belong to, or ``InvalidCredentials`` / ``LoginRateLimited``.

    An unknown email, a wrong password and a disabled account fail identically and take the
    same time (a hash is verified in every case). argon2 runs in a worker thread so the event
    loop keeps serving other requests meanwhile.
    """
    normalized = email.strip().lower()[:254]
    attempt = await limiter.begin(email=normalized, ip=ip)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidCredentials()
    found = await users.find_login(pool, email=normalized)
    if found is None:
        await asyncio.to_thread(burn_verification, password)
        raise InvalidCredentials()
    user, password_hash = found
    if not await asyncio.to_thread(verify_password, password_hash, password) or user.disabled:
        raise InvalidCredentials()
    await limiter.succeeded(attempt)
    if needs_rehash(password_hash):
        new_hash = await asyncio.to_thread(rehash, password)
        await users.set_password_hash(pool, user_id=user.id, password_hash=new_hash)
    return user
