"""Fixtures of the browser tests: a real gateway (uvicorn, lifespan on: real NATS, PostgreSQL,
DuckDB over a warehouse seeded for these tests), users of each role, and Debian's Chromium
driven by Playwright's async API.

Why a uvicorn gateway and not the session's Serve application: these tests need no sink (the
warehouse is seeded with exact, known data so the funnel's numbers are exact), and the live
tail, the webhook test button and everything else the UI calls run inside the gateway. Not
asking for the Serve application also keeps a second Ray/Serve from ever starting here. The
NATS and PostgreSQL are the session's (tests/conftest.py).

Tests that need the built web UI skip with the reason when ``webui/dist`` is missing or the
gateway does not serve ``/app/``; all of them skip when Chromium is absent. ``make test``
provides both (it builds the UI and installs Debian's Chromium).
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from causality.auth.passwords import hash_password
from causality.auth.roles import Role
from causality.config import Settings
from causality.events.arrow import events_to_table
from causality.events.validation import EventValidator
from causality.gateway.app import build_gateway_app
from causality.store.api_keys import create_key
from causality.store.users import create_user
from causality.warehouse.filesystem import open_warehouse
from causality.warehouse.writer import PartitionedWriter
from tests.helpers import free_port, serve_in_thread
from tests.webhook_receiver import WebhookReceiver

try:  # the dev extra installs it; without it every browser test skips with the reason
    from playwright.async_api import Browser, BrowserContext, Page, async_playwright
except ImportError:  # pragma: no cover
    async_playwright = None

ROOT = Path(__file__).resolve().parents[2]
WEBUI_DIST = ROOT / "webui" / "dist"
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# headless, and none of the background traffic Chromium starts on its own (updates, sync,
# metrics): the tests must pass on a machine that reaches nothing outside
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-sync",
    "--metrics-recording-only",
]
PASSWORD = "an e2e password 123"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
DAY_MS = 86_400_000

# The seeded funnel: 10 devices view a product, 6 of them add it to the cart, 3 buy it.
FUNNEL_DEVICES = 10
FUNNEL_CARTS = 6
FUNNEL_BUYERS = 3


@dataclass(frozen=True)
class E2E:
    """What the tests need to know about the stack they drive."""

    url: str
    settings: Settings
    app_id: str
    api_key: str
    users: dict[str, str]  # role -> email
    receiver: WebhookReceiver


def seeded_events(now_ms: int) -> list[dict[str, Any]]:
    """The funnel's events, an hour ago, each device's steps a minute apart in order."""
    events: list[dict[str, Any]] = []
    for d in range(FUNNEL_DEVICES):
        base = now_ms - 3_600_000 + d * 1_000
        steps: list[tuple[str, dict[str, Any]]] = [
            ("product_view", {"product_id": f"p-{d % 3}"}),
        ]
        if d < FUNNEL_CARTS:
            steps.append(("add_to_cart", {"product_id": f"p-{d % 3}", "quantity": 1}))
        if d < FUNNEL_BUYERS:
            steps.append(
                (
                    "purchase_complete",
                    {"order_id": f"o-{d}", "total_cents": 1299, "currency": "EUR"},
                )
            )
        for k, (event_type, props) in enumerate(steps):
            events.append(
                {
                    "type": event_type,
                    "device_id": f"e2e-dev-{d}",
                    "session_id": f"e2e-s-{d}",
                    "timestamp_ms": base + k * 60_000,
                    "device_context": {"platform": "web"},
                    "properties": props,
                }
            )
    return events


def seed_warehouse(settings: Settings, app_id: str) -> None:
    """Write the seeded events as the sink would (same validator, writer and layout)."""
    now_ms = int(time.time() * 1000)
    validator = EventValidator.from_settings(settings)
    fs, root = open_warehouse(settings)
    writer = PartitionedWriter(fs=fs, root=root, partitioning="daily", stream="e2e")
    body = json.dumps({"events": seeded_events(now_ms)}).encode()
    result = validator.validate_batch(body, app_id=app_id, now_ms=now_ms)
    assert not result.rejected, result.rejected
    groups = writer.plan(
        [e.app_id for e in result.accepted], [e.timestamp_ms for e in result.accepted]
    )
    writer.write(
        events_to_table(result.accepted), seqs=list(range(len(result.accepted))), groups=groups
    )


@pytest.fixture(scope="session")
def e2e_settings(tmp_path_factory: pytest.TempPathFactory, nats_url: str, pg_dsn: str) -> Settings:
    """Settings of the e2e gateway: its own warehouse, loopback webhooks allowed (the test
    receiver), a login limit no test reaches."""
    data = tmp_path_factory.mktemp("e2e")
    return Settings(
        data_dir=str(data),
        warehouse_uri=str(Path(data) / "warehouse"),
        nats_url=nats_url,
        postgres_dsn=pg_dsn,
        http_port=free_port(),
        api_key_cache_ttl_s=0.5,
        publish_timeout_s=2.0,
        rate_limit_events_per_s=100_000,
        rate_limit_burst=200_000,
        login_max_failures_per_ip=100_000,
        webhook_allowed_networks=("127.0.0.0/8",),
    )


@pytest.fixture(scope="session")
def receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP webhook receiver on loopback."""
    hook = WebhookReceiver()
    hook.start()
    yield hook
    hook.stop()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def e2e(
    e2e_settings: Settings, pg_pool: asyncpg.Pool, receiver: WebhookReceiver
) -> AsyncIterator[E2E]:
    """The running gateway with an app (seeded warehouse, an ingestion key) and one user per
    role, all sharing ``PASSWORD``."""
    app_id = f"e2e-{secrets.token_hex(3)}"
    await pg_pool.execute(
        "INSERT INTO apps (id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING", app_id, "E2E Shop"
    )
    _, api_key = await create_key(pg_pool, app_id=app_id, name="e2e key")
    password_hash = hash_password(PASSWORD)
    users = {}
    for role in Role:
        email = f"e2e-{role.value}-{secrets.token_hex(4)}@test.local"
        await create_user(pg_pool, email=email, password_hash=password_hash, role=role)
        users[role.value] = email
    seed_warehouse(e2e_settings, app_id)
    with serve_in_thread(build_gateway_app(e2e_settings)) as url:
        yield E2E(
            url=url,
            settings=e2e_settings,
            app_id=app_id,
            api_key=api_key,
            users=users,
            receiver=receiver,
        )


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, once per session."""
    if async_playwright is None:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (make chromium, or set CHROMIUM_PATH)")
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def webui(e2e: E2E) -> E2E:
    """The stack, once the web UI is built and served at /app/ (skips with the reason)."""
    if not (WEBUI_DIST / "index.html").is_file():
        pytest.skip(f"the web UI is not built ({WEBUI_DIST} missing: cd webui && npm run build)")
    async with httpx.AsyncClient(base_url=e2e.url) as client:
        r = await client.get("/app/insights/funnels")
    if r.status_code != 200 or "<div" not in r.text:
        pytest.skip(
            f"the gateway does not serve the web UI at /app/ (GET answered {r.status_code})"
        )
    return e2e


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser, e2e: E2E) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile per test (its own cookies), 1280 px wide, downloads on."""
    ctx = await browser.new_context(
        base_url=e2e.url, viewport=DESKTOP, accept_downloads=True, color_scheme="light"
    )
    ctx.set_default_timeout(15_000)
    yield ctx
    await ctx.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def screenshot(page: Page, name: str) -> Path:
    """Save the page under build/screenshots/<name>.png (the folder is gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=False)
    return path
