"""ApiKeyAuthenticator against the real PostgreSQL, with an injected clock instead of sleeps."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import asyncpg
import pytest

from causality.auth.api_keys import ApiKeyAuthenticator, AuthenticatedKey, generate_key
from causality.auth.errors import AuthUnavailable, InvalidApiKey, MissingApiKey
from causality.store.api_keys import list_keys, revoke_key
from causality.store.db import open_pool

pytestmark = pytest.mark.integration

TTL_S = 5.0


class Clock:
    """A clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingPool:
    """The real pool, counting the statements sent through it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.calls: Counter[str] = Counter()

    async def fetchrow(self, *args: Any, **kwargs: Any) -> Any:
        self.calls["fetchrow"] += 1
        return await self._pool.fetchrow(*args, **kwargs)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.calls["execute"] += 1
        return await self._pool.execute(*args, **kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def counting(pg_pool: asyncpg.Pool) -> CountingPool:
    return CountingPool(pg_pool)


@pytest.fixture
def auth(counting: CountingPool, clock: Clock) -> ApiKeyAuthenticator:
    return ApiKeyAuthenticator(pool=counting, ttl_s=TTL_S, clock=clock)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, ""])
async def test_missing_key(auth: ApiKeyAuthenticator, value: str | None) -> None:
    with pytest.raises(MissingApiKey) as excinfo:
        await auth.authenticate(value)
    assert (excinfo.value.code, excinfo.value.field) == ("missing_api_key", "X-API-Key")


async def test_unknown_key_is_invalid(auth: ApiKeyAuthenticator) -> None:
    with pytest.raises(InvalidApiKey) as excinfo:
        await auth.authenticate(generate_key())
    assert (excinfo.value.code, excinfo.value.field) == ("invalid_api_key", "X-API-Key")


@pytest.mark.parametrize("value", ["hello", "Bearer ck_x", "ck_" + "a" * 500])
async def test_malformed_key_is_invalid_without_a_query(
    auth: ApiKeyAuthenticator, counting: CountingPool, value: str
) -> None:
    with pytest.raises(InvalidApiKey):
        await auth.authenticate(value)
    assert counting.calls["fetchrow"] == 0


async def test_valid_key(
    auth: ApiKeyAuthenticator, pg_pool: asyncpg.Pool, app_with_key: tuple[str, str]
) -> None:
    app_id, plaintext = app_with_key
    [key] = await list_keys(pg_pool, app_id=app_id)
    assert await auth.authenticate(plaintext) == AuthenticatedKey(key_id=key.id, app_id=app_id)


async def test_revoked_key_is_rejected_once_the_ttl_passed(
    auth: ApiKeyAuthenticator,
    clock: Clock,
    counting: CountingPool,
    pg_pool: asyncpg.Pool,
    app_with_key: tuple[str, str],
) -> None:
    app_id, plaintext = app_with_key
    await auth.authenticate(plaintext)
    [key] = await list_keys(pg_pool, app_id=app_id)
    assert await revoke_key(pg_pool, key_id=key.id)

    clock.advance(TTL_S - 0.5)
    assert (await auth.authenticate(plaintext)).app_id == app_id  # still cached
    assert counting.calls["fetchrow"] == 1

    clock.advance(1.0)
    with pytest.raises(InvalidApiKey):
        await auth.authenticate(plaintext)
    assert counting.calls["fetchrow"] == 2


async def test_invalid_keys_are_cached_too(
    auth: ApiKeyAuthenticator, clock: Clock, counting: CountingPool
) -> None:
    bad = generate_key()
    for _ in range(50):
        with pytest.raises(InvalidApiKey):
            await auth.authenticate(bad)
    assert counting.calls["fetchrow"] == 1

    clock.advance(TTL_S + 0.1)
    with pytest.raises(InvalidApiKey):
        await auth.authenticate(bad)
    assert counting.calls["fetchrow"] == 2


async def test_concurrent_lookups_of_one_key_share_a_query(
    auth: ApiKeyAuthenticator, counting: CountingPool, app_with_key: tuple[str, str]
) -> None:
    app_id, plaintext = app_with_key
    results = await asyncio.gather(*(auth.authenticate(plaintext) for _ in range(25)))
    assert {r.app_id for r in results} == {app_id}
    assert counting.calls["fetchrow"] == 1

    bad = generate_key()
    outcomes = await asyncio.gather(
        *(auth.authenticate(bad) for _ in range(25)), return_exceptions=True
    )
    assert all(isinstance(o, InvalidApiKey) for o in outcomes)
    assert counting.calls["fetchrow"] == 2


async def test_a_cancelled_caller_does_not_cancel_the_shared_lookup(
    auth: ApiKeyAuthenticator, counting: CountingPool, app_with_key: tuple[str, str]
) -> None:
    app_id, plaintext = app_with_key
    first = asyncio.create_task(auth.authenticate(plaintext))
    await asyncio.sleep(0)  # first has started the lookup and waits on it
    second = asyncio.create_task(auth.authenticate(plaintext))
    first.cancel()
    assert (await second).app_id == app_id
    with pytest.raises(asyncio.CancelledError):
        await first
    assert counting.calls["fetchrow"] == 1


async def test_cache_is_bounded_and_bad_keys_cannot_evict_good_ones(
    counting: CountingPool, clock: Clock, app_with_key: tuple[str, str]
) -> None:
    auth = ApiKeyAuthenticator(pool=counting, ttl_s=TTL_S, clock=clock, max_entries=3)  # type: ignore[arg-type]
    _, plaintext = app_with_key
    await auth.authenticate(plaintext)
    bad_keys = [generate_key() for _ in range(5)]
    for bad in bad_keys:
        with pytest.raises(InvalidApiKey):
            await auth.authenticate(bad)
    assert counting.calls["fetchrow"] == 6

    await auth.authenticate(plaintext)  # the valid key is still cached
    assert counting.calls["fetchrow"] == 6
    with pytest.raises(InvalidApiKey):
        await auth.authenticate(bad_keys[0])  # evicted: looked up again
    assert counting.calls["fetchrow"] == 7
    with pytest.raises(InvalidApiKey):
        await auth.authenticate(bad_keys[-1])  # recent: still cached
    assert counting.calls["fetchrow"] == 7


async def test_last_used_at_is_written_in_the_background_once_per_minute(
    auth: ApiKeyAuthenticator,
    clock: Clock,
    counting: CountingPool,
    pg_pool: asyncpg.Pool,
    app_with_key: tuple[str, str],
) -> None:
    app_id, plaintext = app_with_key
    for _ in range(10):
        await auth.authenticate(plaintext)
    await auth.flush()
    assert counting.calls["execute"] == 1
    [key] = await list_keys(pg_pool, app_id=app_id)
    assert key.last_used_at is not None
    first_use = key.last_used_at

    clock.advance(30)
    await auth.authenticate(plaintext)
    await auth.flush()
    assert counting.calls["execute"] == 1

    clock.advance(31)
    await auth.authenticate(plaintext)
    await auth.aclose()
    assert counting.calls["execute"] == 2
    [key] = await list_keys(pg_pool, app_id=app_id)
    assert key.last_used_at is not None and key.last_used_at > first_use


async def test_database_down_is_auth_unavailable(pg_dsn: str) -> None:
    async with open_pool(pg_dsn) as pool:
        pass  # closed on exit
    auth = ApiKeyAuthenticator(pool=pool, ttl_s=TTL_S)
    with pytest.raises(AuthUnavailable) as excinfo:
        await auth.authenticate(generate_key())
    assert excinfo.value.transient
    # Failures are not cached: the next request asks again.
    with pytest.raises(AuthUnavailable):
        await auth.authenticate(generate_key())


async def test_key_ids_are_uuids(auth: ApiKeyAuthenticator, app_with_key: tuple[str, str]) -> None:
    result = await auth.authenticate(app_with_key[1])
    uuid.UUID(result.key_id)
