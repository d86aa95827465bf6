"""Apps: the tenants. Every event, key and rule belongs to one.

An app id appears in NATS subjects (``events.<app_id>.…``) and warehouse paths
(``app_id=<id>/``), so it is restricted to lowercase letters, digits, ``_`` and ``-``; the
database enforces the same pattern.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime

import asyncpg
import msgspec

from causality.store.errors import AppExists, InvalidAppId, InvalidAppName

APP_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_SLUG_MAX = 58  # leaves room for "-" and 4 hex chars within the 63-character limit
_GENERATE_ATTEMPTS = 5


class App(msgspec.Struct, frozen=True, kw_only=True):
    """An app as stored."""

    id: str
    name: str
    created_at: datetime


def is_valid_app_id(app_id: str) -> bool:
    """Whether ``app_id`` is safe as a NATS subject token and a partition value."""
    return APP_ID_PATTERN.fullmatch(app_id) is not None


def slugify(name: str) -> str:
    """A readable id stem from a display name: ``"My Shop (iOS)"`` → ``"my-shop-ios"``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9_-]+", "-", ascii_name.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-_")[:_SLUG_MAX].rstrip("-_")
    return slug or "app"


def _row_to_app(row: asyncpg.Record) -> App:
    return App(id=row["id"], name=row["name"], created_at=row["created_at"])


async def create_app(pool: asyncpg.Pool, *, name: str, app_id: str | None = None) -> App:
    """Create an app. Without ``app_id`` one is derived from the name plus 4 random hex chars,
    so two apps called "Shop" do not collide; an explicit id is used as given or rejected."""
    name = name.strip()
    if not name:
        raise InvalidAppName("app name must not be empty")
    if app_id is not None:
        if not is_valid_app_id(app_id):
            raise InvalidAppId(
                f"invalid app id {app_id!r}: use 1-63 lowercase letters, digits, '_' or '-', "
                "starting with a letter or digit"
            )
        try:
            return await _insert(pool, app_id=app_id, name=name)
        except asyncpg.UniqueViolationError as exc:
            raise AppExists(f"app {app_id!r} already exists") from exc
    stem = slugify(name)
    for _ in range(_GENERATE_ATTEMPTS):
        candidate = f"{stem}-{secrets.token_hex(2)}"
        try:
            return await _insert(pool, app_id=candidate, name=name)
        except asyncpg.UniqueViolationError:
            continue
    raise AppExists(f"could not find a free app id for {name!r}; pass app_id explicitly")


async def _insert(pool: asyncpg.Pool, *, app_id: str, name: str) -> App:
    try:
        row = await pool.fetchrow(
            "INSERT INTO apps (id, name) VALUES ($1, $2) RETURNING id, name, created_at",
            app_id,
            name,
        )
    except asyncpg.CheckViolationError as exc:  # the database's copy of APP_ID_PATTERN
        raise InvalidAppId(f"invalid app id {app_id!r}") from exc
    assert row is not None
    return _row_to_app(row)


async def list_apps(pool: asyncpg.Pool) -> list[App]:
    """All apps, oldest first."""
    rows = await pool.fetch("SELECT id, name, created_at FROM apps ORDER BY created_at, id")
    return [_row_to_app(row) for row in rows]


async def get_app(pool: asyncpg.Pool, app_id: str) -> App | None:
    """One app, or None when no app has this id."""
    row = await pool.fetchrow("SELECT id, name, created_at FROM apps WHERE id = $1", app_id)
    return None if row is None else _row_to_app(row)
