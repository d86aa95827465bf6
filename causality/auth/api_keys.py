"""Authenticating SDK requests by API key, cheaply enough to run on every request.

Lookups are cached for ``ttl_s`` (valid and invalid keys alike, so a flood of bad keys does
not become a flood of queries), concurrent lookups of one key share a single query, and
``last_used_at`` is written in the background at most once per key per minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

import asyncpg
import msgspec

from causality.auth.errors import AuthUnavailable, InvalidApiKey, MissingApiKey
from causality.auth.keys import KEY_PREFIX, generate_key, hash_key, key_prefix
from causality.store.api_keys import find_active_key, mark_used

__all__ = [
    "ApiKeyAuthenticator",
    "AuthenticatedKey",
    "generate_key",
    "hash_key",
    "key_prefix",
]

_log = logging.getLogger(__name__)

_MAX_KEY_LENGTH = 128
# asyncpg raises these when the server is gone; PostgresError covers server-side failures.
_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class AuthenticatedKey(msgspec.Struct, frozen=True, kw_only=True):
    """Who a request is from: the key and the app it belongs to."""

    key_id: str
    app_id: str


class _TtlCache:
    """A bounded LRU of hash → (expires_at, value) read and written with the injected clock."""

    def __init__(self, *, max_entries: int) -> None:
        self._entries: OrderedDict[str, tuple[float, AuthenticatedKey | None]] = OrderedDict()
        self._max_entries = max_entries

    def get(self, key: str, *, now: float) -> tuple[bool, AuthenticatedKey | None]:
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        expires_at, value = entry
        if expires_at <= now:
            del self._entries[key]
            return False, None
        self._entries.move_to_end(key)
        return True, value

    def put(self, key: str, value: AuthenticatedKey | None, *, expires_at: float) -> None:
        self._entries[key] = (expires_at, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class ApiKeyAuthenticator:
    """Turns an ``X-API-Key`` value into an ``AuthenticatedKey`` or an auth error.

    Revocation takes effect within ``ttl_s``. Valid and invalid keys are cached separately,
    each bounded by ``max_entries``, so random bad keys cannot evict the good ones. Use as an
    async context manager (or call ``aclose()``) so pending ``last_used_at`` writes are flushed
    and background tasks are awaited on shutdown.
    """

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
        touch_interval_s: float = 60.0,
    ) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._clock = clock
        self._touch_interval_s = touch_interval_s
        self._max_entries = max_entries
        self._valid = _TtlCache(max_entries=max_entries)
        self._invalid = _TtlCache(max_entries=max_entries)
        self._inflight: dict[str, asyncio.Task[AuthenticatedKey | None]] = {}
        self._last_touch: dict[str, float] = {}
        self._pending_touch: set[str] = set()
        self._touch_task: asyncio.Task[None] | None = None
        self._closed = False

    async def authenticate(self, plaintext: str | None) -> AuthenticatedKey:
        """Check a key; raises ``MissingApiKey`` or ``InvalidApiKey`` (or ``AuthUnavailable``
        when PostgreSQL cannot be asked)."""
        if not plaintext:
            raise MissingApiKey()
        if not plaintext.startswith(KEY_PREFIX) or len(plaintext) > _MAX_KEY_LENGTH:
            raise InvalidApiKey()  # cannot be one of ours: no query, no cache entry
        key_hash = hash_key(plaintext)
        now = self._clock()
        found, result = self._valid.get(key_hash, now=now)
        if not found:
            found, result = self._invalid.get(key_hash, now=now)
        if not found:
            result = await self._lookup(key_hash)
        if result is None:
            raise InvalidApiKey()
        self._note_use(result.key_id, now=now)
        return result

    async def flush(self) -> None:
        """Wait until pending ``last_used_at`` updates are written (shutdown, tests)."""
        task = self._touch_task
        if task is not None:
            # The writer loops until nothing is pending and logs its own failures.
            await asyncio.shield(task)

    async def aclose(self) -> None:
        """Flush usage updates and wait for lookups in flight; idempotent."""
        await self.flush()
        self._closed = True
        inflight = list(self._inflight.values())
        if inflight:
            await asyncio.gather(*inflight, return_exceptions=True)

    async def __aenter__(self) -> ApiKeyAuthenticator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _lookup(self, key_hash: str) -> AuthenticatedKey | None:
        """Ask PostgreSQL once for all concurrent callers of the same key.

        The query runs in its own task so that one caller being cancelled (its client hung
        up) does not cancel the lookup the others are waiting on.
        """
        task = self._inflight.get(key_hash)
        if task is None:
            task = asyncio.create_task(self._fetch(key_hash), name="api-key-lookup")
            self._inflight[key_hash] = task
            task.add_done_callback(lambda done: self._lookup_done(key_hash, done))
        return await asyncio.shield(task)

    async def _fetch(self, key_hash: str) -> AuthenticatedKey | None:
        try:
            key = await find_active_key(self._pool, key_hash=key_hash)
        except _DB_ERRORS as exc:
            raise AuthUnavailable(f"cannot check API keys: {exc}") from exc
        expires_at = self._clock() + self._ttl_s
        if key is None:
            self._invalid.put(key_hash, None, expires_at=expires_at)
            return None
        result = AuthenticatedKey(key_id=key.id, app_id=key.app_id)
        self._valid.put(key_hash, result, expires_at=expires_at)
        return result

    def _lookup_done(self, key_hash: str, task: asyncio.Task[AuthenticatedKey | None]) -> None:
        if self._inflight.get(key_hash) is task:
            del self._inflight[key_hash]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone away

    def _note_use(self, key_id: str, *, now: float) -> None:
        """Queue a ``last_used_at`` write unless this key had one within the interval."""
        last = self._last_touch.get(key_id)
        if last is not None and now - last < self._touch_interval_s:
            return
        if len(self._last_touch) >= self._max_entries:
            cutoff = now - self._touch_interval_s
            self._last_touch = {k: t for k, t in self._last_touch.items() if t > cutoff}
        self._last_touch[key_id] = now
        if self._closed:
            return
        self._pending_touch.add(key_id)
        if self._touch_task is None or self._touch_task.done():
            self._schedule_touch()

    def _schedule_touch(self) -> None:
        self._touch_task = asyncio.create_task(self._write_touches(), name="api-key-touch")

    async def _write_touches(self) -> None:
        """One UPDATE for every key used since the last write; failures only lose bookkeeping."""
        while self._pending_touch:
            key_ids, self._pending_touch = self._pending_touch, set()
            try:
                await mark_used(self._pool, key_ids=key_ids)
            except Exception as exc:  # bookkeeping only: never let it break authentication
                _log.warning("could not record API key use for %d keys: %s", len(key_ids), exc)
