"""Fixtures for the Ask API tests: a seeded warehouse, the scripted model, a gateway under
uvicorn and logged-in users.

Load with ``pytest_plugins = ["tests.integration.auth_fixtures",
"tests.integration.llm_fixtures"]``. Fixture names start with ``llm_`` because a plugin's
fixtures are visible to the whole session; nothing here is autouse.

The model is ``tests/llm_server.ScriptedModel`` (the only test double of the feature) reached
through the real ``openai`` client; the warehouse is real Parquet read by the real DuckDB
engine; conversations live in the session's real PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio

from causality.auth.roles import Role
from causality.config import Settings
from causality.gateway.app import build_gateway_app
from tests.auth_helpers import UserClient, new_user_client
from tests.helpers import serve_in_thread
from tests.integration.llm_support import (
    AGENT_STEPS,
    BLOG,
    RESULT_ROWS,
    SHOP,
    SUMMARY_ROWS,
    write_warehouse,
)
from tests.llm_server import ScriptedModel

# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def llm_scripted() -> Iterator[ScriptedModel]:
    """The module's scripted model server."""
    with ScriptedModel() as model:
        yield model


@pytest.fixture
def llm_model(llm_scripted: ScriptedModel) -> Iterator[ScriptedModel]:
    """The scripted model, cleared for this test; every pushed reply must have been used."""
    llm_scripted.clear()
    yield llm_scripted
    assert llm_scripted.pending() == 0, "a scripted reply was never asked for"


@pytest.fixture(scope="module")
def llm_warehouse_settings(
    auth_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The session's settings with a warehouse holding exactly the seeded events."""
    settings = auth_settings.replace(
        warehouse_uri=str(Path(tmp_path_factory.mktemp("llm")) / "warehouse")
    )
    write_warehouse(settings)
    return settings


@pytest.fixture(scope="module")
def llm_settings(llm_warehouse_settings: Settings, llm_scripted: ScriptedModel) -> Settings:
    """Settings of the module's gateway: the scripted model, small caps, no practical limit."""
    return llm_warehouse_settings.replace(
        llm_provider="openai",
        llm_base_url=llm_scripted.base_url,
        llm_model="scripted",
        llm_timeout_s=20.0,
        llm_result_rows=RESULT_ROWS,
        llm_summary_rows=SUMMARY_ROWS,
        llm_agent_max_steps=AGENT_STEPS,
        llm_requests_per_minute=100_000.0,
    )


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def llm_apps(pg_pool: asyncpg.Pool) -> None:
    """The seeded apps exist (users restricted to one need it)."""
    for app_id in (SHOP, BLOG):
        await pg_pool.execute(
            "INSERT INTO apps (id, name) VALUES ($1, $1) ON CONFLICT DO NOTHING", app_id
        )


@pytest.fixture(scope="module")
def llm_gateway(llm_settings: Settings, llm_apps: None) -> Iterator[str]:
    """The gateway app under uvicorn with the scripted model configured."""
    with serve_in_thread(build_gateway_app(llm_settings)) as url:
        yield url


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def llm_users(
    llm_gateway: str, pg_pool: asyncpg.Pool, password_hash: str
) -> AsyncIterator[dict[str, UserClient]]:
    """Logged-in clients: ``viewer`` (every app), ``limited`` (the shop only), ``other``."""
    clients = {
        "viewer": await new_user_client(llm_gateway, pg_pool, password_hash, Role.VIEWER),
        "limited": await new_user_client(llm_gateway, pg_pool, password_hash, Role.VIEWER, [SHOP]),
        "other": await new_user_client(llm_gateway, pg_pool, password_hash, Role.VIEWER),
    }
    yield clients
    for client in clients.values():
        await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def llm_anon(llm_gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the module's gateway with no credentials."""
    async with httpx.AsyncClient(base_url=llm_gateway, timeout=30) as client:
        yield client
