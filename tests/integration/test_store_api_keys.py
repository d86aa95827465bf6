from __future__ import annotations

import uuid

import asyncpg
import pytest

from causality.auth.api_keys import hash_key
from causality.store.api_keys import (
    ApiKey,
    create_key,
    find_active_key,
    list_keys,
    mark_used,
    revoke_key,
)
from causality.store.apps import create_app
from causality.store.errors import AppNotFound

pytestmark = pytest.mark.integration


async def test_create_key_stores_only_the_hash(pg_pool: asyncpg.Pool) -> None:
    app = await create_app(pg_pool, name="Keys")
    key, plaintext = await create_key(pg_pool, app_id=app.id, name="ios")
    assert isinstance(key, ApiKey)
    assert plaintext.startswith("ck_")
    assert (key.app_id, key.name, key.prefix) == (app.id, "ios", plaintext[:10])
    assert key.active and key.last_used_at is None
    uuid.UUID(key.id)

    row = await pg_pool.fetchrow("SELECT * FROM api_keys WHERE id = $1", uuid.UUID(key.id))
    assert row is not None
    assert row["key_hash"] == hash_key(plaintext)
    everything = await pg_pool.fetchval(
        "SELECT string_agg(row_to_json(k)::text, '') FROM api_keys k"
    )
    assert plaintext not in everything
    assert plaintext[10:] not in everything


async def test_find_by_hash_and_revoke(pg_pool: asyncpg.Pool) -> None:
    app = await create_app(pg_pool, name="Revoke")
    key, plaintext = await create_key(pg_pool, app_id=app.id, name="web")
    found = await find_active_key(pg_pool, key_hash=hash_key(plaintext))
    assert found == key

    assert await revoke_key(pg_pool, key_id=key.id) is True
    assert await find_active_key(pg_pool, key_hash=hash_key(plaintext)) is None
    assert await revoke_key(pg_pool, key_id=key.id) is False  # already revoked

    [listed] = await list_keys(pg_pool, app_id=app.id)
    assert listed.id == key.id and listed.revoked_at is not None and not listed.active


async def test_revoke_unknown_or_malformed_id_is_false(pg_pool: asyncpg.Pool) -> None:
    assert await revoke_key(pg_pool, key_id=str(uuid.uuid4())) is False
    assert await revoke_key(pg_pool, key_id="ck_abcdefg") is False


async def test_find_unknown_hash_is_none(pg_pool: asyncpg.Pool) -> None:
    assert await find_active_key(pg_pool, key_hash=hash_key("ck_unknown")) is None


async def test_list_keys_per_app_and_all(pg_pool: asyncpg.Pool) -> None:
    first = await create_app(pg_pool, name="List A")
    second = await create_app(pg_pool, name="List B")
    a1, _ = await create_key(pg_pool, app_id=first.id, name="one")
    a2, _ = await create_key(pg_pool, app_id=first.id, name="two")
    b1, _ = await create_key(pg_pool, app_id=second.id, name="one")
    assert [k.id for k in await list_keys(pg_pool, app_id=first.id)] == [a1.id, a2.id]
    assert [k.id for k in await list_keys(pg_pool, app_id=second.id)] == [b1.id]
    all_ids = {k.id for k in await list_keys(pg_pool)}
    assert {a1.id, a2.id, b1.id} <= all_ids
    assert await list_keys(pg_pool, app_id="no-such-app") == []


async def test_key_for_unknown_app_is_app_not_found(pg_pool: asyncpg.Pool) -> None:
    with pytest.raises(AppNotFound) as excinfo:
        await create_key(pg_pool, app_id="no-such-app", name="x")
    assert excinfo.value.code == "app_not_found"


async def test_mark_used_sets_last_used_at(pg_pool: asyncpg.Pool) -> None:
    app = await create_app(pg_pool, name="Used")
    key, _ = await create_key(pg_pool, app_id=app.id, name="k")
    await mark_used(pg_pool, key_ids=[key.id, "not-a-uuid"])
    [listed] = await list_keys(pg_pool, app_id=app.id)
    assert listed.last_used_at is not None
