from __future__ import annotations

import pickle
import re
import secrets

import asyncpg
import pytest

from causality.store.apps import App, create_app, get_app, is_valid_app_id, list_apps, slugify
from causality.store.errors import AppExists, InvalidAppId, InvalidAppName

pytestmark = pytest.mark.integration

GENERATED_ID = re.compile(r"^(?P<stem>[a-z0-9][a-z0-9_-]*)-[0-9a-f]{4}$")


def _unique_id() -> str:
    return f"app-{secrets.token_hex(6)}"


async def test_create_get_and_list(pg_pool: asyncpg.Pool) -> None:
    app_id = _unique_id()
    app = await create_app(pg_pool, name="  Web shop  ", app_id=app_id)
    assert isinstance(app, App)
    assert (app.id, app.name) == (app_id, "Web shop")
    assert app.created_at.tzinfo is not None
    assert await get_app(pg_pool, app_id) == app
    assert app in await list_apps(pg_pool)


async def test_get_unknown_app_is_none(pg_pool: asyncpg.Pool) -> None:
    assert await get_app(pg_pool, "no-such-app") is None


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("My Shop (iOS)", "my-shop-ios"),
        ("Café Crème", "cafe-creme"),
        ("snake_case_app", "snake_case_app"),
        ("!!!", "app"),
        ("events.>.*", "events"),
    ],
)
async def test_generated_id_is_a_subject_safe_slug(
    pg_pool: asyncpg.Pool, name: str, stem: str
) -> None:
    app = await create_app(pg_pool, name=name)
    match = GENERATED_ID.match(app.id)
    assert match is not None, app.id
    assert match.group("stem") == stem
    assert is_valid_app_id(app.id)
    assert app.name == name


async def test_generated_ids_differ_for_the_same_name(pg_pool: asyncpg.Pool) -> None:
    first = await create_app(pg_pool, name="Twin")
    second = await create_app(pg_pool, name="Twin")
    assert first.id != second.id


async def test_long_names_give_ids_within_the_limit(pg_pool: asyncpg.Pool) -> None:
    app = await create_app(pg_pool, name="x" * 200)
    assert len(app.id) <= 63 and is_valid_app_id(app.id)


@pytest.mark.parametrize(
    "app_id",
    ["Upper", "has.dot", "events.*", "a b", "", "-leading", "_leading", "a" * 64, "ünï", "a>"],
)
async def test_invalid_explicit_id_is_rejected(pg_pool: asyncpg.Pool, app_id: str) -> None:
    with pytest.raises(InvalidAppId) as excinfo:
        await create_app(pg_pool, name="Bad", app_id=app_id)
    assert excinfo.value.code == "invalid_app_id" and excinfo.value.exposed
    assert await get_app(pg_pool, app_id) is None


async def test_database_enforces_the_id_pattern_too(pg_pool: asyncpg.Pool) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await pg_pool.execute("INSERT INTO apps (id, name) VALUES ('Bad.Id', 'x')")


async def test_duplicate_id_is_app_exists(pg_pool: asyncpg.Pool) -> None:
    app_id = _unique_id()
    await create_app(pg_pool, name="One", app_id=app_id)
    with pytest.raises(AppExists) as excinfo:
        await create_app(pg_pool, name="Two", app_id=app_id)
    assert excinfo.value.code == "app_exists"
    app = await get_app(pg_pool, app_id)
    assert app is not None and app.name == "One"


async def test_empty_name_is_rejected(pg_pool: asyncpg.Pool) -> None:
    with pytest.raises(InvalidAppName):
        await create_app(pg_pool, name="   ")


def test_slugify_bounds_length() -> None:
    slug = slugify("a-" * 100)
    assert len(slug) <= 58 and not slug.endswith("-")


def test_store_errors_survive_pickling() -> None:
    clone = pickle.loads(pickle.dumps(AppExists("app 'x' already exists")))
    assert type(clone) is AppExists and clone.code == "app_exists"
