"""The analyst web UI in real Chromium against a real gateway (NATS, PostgreSQL, DuckDB over a
seeded warehouse): log in; events posted through the ingestion API appear in Live events;
a funnel over seeded data shows the exact conversion and is saved to a dashboard; SQL runs and
exports CSV; a webhook gets a real test delivery and a rule is created; a viewer sees no admin
action. Every main page is screenshotted under build/screenshots/.

Selectors are the shared contract's roles, labels and <h1> texts, never CSS classes.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Locator, Page, expect

from tests.e2e.conftest import (
    E2E,
    FUNNEL_BUYERS,
    FUNNEL_CARTS,
    FUNNEL_DEVICES,
    PASSWORD,
    PHONE,
    screenshot,
)
from tests.helpers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]

MAIN_PAGES = [
    ("/app/", "Dashboards", "dashboards"),
    ("/app/insights/trends", "Trends", "trends"),
    ("/app/insights/funnels", "Funnels", "funnels"),
    ("/app/insights/retention", "Retention", "retention"),
    ("/app/insights/paths", "Paths", "paths"),
    ("/app/sql", "SQL", "sql"),
    ("/app/ask", "Ask", "ask"),
    ("/app/live", "Live events", "live"),
    ("/app/reactions", "Reactions", "reactions"),
    ("/app/settings", "Settings", "settings"),
]


def h1(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


async def log_in(page: Page, e2e: E2E, role: str) -> None:
    """Log in through the login page as the stack's user of ``role``."""
    await page.goto("/app/login")
    await expect(h1(page)).to_have_text("Log in")
    await page.get_by_label("Email").fill(e2e.users[role])
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).not_to_have_url(re.compile(r"/app/login"))


async def test_log_in_and_out(page: Page, webui: E2E) -> None:
    await page.goto("/app/sql")
    await expect(page).to_have_url(re.compile(r"/app/login"))  # sent to log in first
    await expect(h1(page)).to_have_text("Log in")
    await screenshot(page, "login")
    await page.get_by_label("Email").fill(webui.users["admin"])
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    # back to the page that asked
    await expect(h1(page)).to_have_text("SQL")
    await expect(page).to_have_url(re.compile(r"/app/sql"))
    await page.get_by_role("button", name="Log out").click()
    await expect(h1(page)).to_have_text("Log in")
    await page.goto("/app/sql")
    await expect(page).to_have_url(re.compile(r"/app/login"))


async def test_posted_events_appear_in_live_events(page: Page, webui: E2E) -> None:
    await log_in(page, webui, "admin")
    await page.goto("/app/live")
    await expect(h1(page)).to_have_text("Live events")
    await expect(page.get_by_role("status").filter(has_text="Listening")).to_be_visible()
    marker = f"live-{secrets.token_hex(4)}"

    async def post(device: str) -> None:
        event = {
            "type": "screen_view",
            "device_id": device,
            "idempotency_key": str(uuid.uuid4()),
            "timestamp_ms": int(time.time() * 1000),
            "properties": {"screen_name": "checkout"},
        }
        async with httpx.AsyncClient(base_url=webui.url, timeout=10) as client:
            r = await client.post(
                "/api/v1/events/ingest", json=event, headers={"X-API-Key": webui.api_key}
            )
        assert r.status_code == 202, r.text

    tail = page.get_by_role("list", name="Live events, newest first")
    await post(f"{marker}-1")
    await expect(tail.get_by_text(f"{marker}-1")).to_be_visible()
    # detail of one event
    await tail.get_by_role("button").filter(has_text=f"{marker}-1").click()
    await expect(page.get_by_label("Event as JSON")).to_contain_text(f"{marker}-1")
    await screenshot(page, "live-events")
    # paused: new events wait, and show on Resume
    await page.get_by_role("button", name="Pause").click()
    await post(f"{marker}-2")
    await expect(page.get_by_role("status").filter(has_text="waiting")).to_be_visible()
    await expect(tail.get_by_text(f"{marker}-2")).to_have_count(0)
    await page.get_by_role("button", name="Resume").click()
    await expect(tail.get_by_text(f"{marker}-2")).to_be_visible()


async def test_funnel_shows_the_seeded_conversion_and_saves(page: Page, webui: E2E) -> None:
    await log_in(page, webui, "editor")
    await page.goto("/app/insights/funnels")
    await expect(h1(page)).to_have_text("Funnels")
    await page.get_by_label("Step 1 event").select_option("product_view")
    await page.get_by_label("Step 2 event").select_option("add_to_cart")
    await page.get_by_role("button", name="Add step").click()
    await page.get_by_label("Step 3 event").select_option("purchase_complete")
    await page.get_by_role("button", name="Run", exact=True).click()
    result = page.get_by_role("region", name="Funnels result")
    # 10 viewed, 6 added to the cart (60 %), 3 bought (30 % of the first step)
    cart = round(100 * FUNNEL_CARTS / FUNNEL_DEVICES)
    bought = round(100 * FUNNEL_BUYERS / FUNNEL_DEVICES)
    await expect(result.get_by_text(re.compile(rf"\b{cart}(\.0)?\s?%")).first).to_be_visible()
    await expect(result.get_by_text(re.compile(rf"\b{bought}(\.0)?\s?%")).first).to_be_visible()
    table = result.get_by_role("table")
    await expect(table.first).to_contain_text(str(FUNNEL_DEVICES))
    await result.scroll_into_view_if_needed()
    await page.wait_for_timeout(1500)  # the lazy chart draws after its module loads
    await screenshot(page, "funnels-result")

    name = f"E2E funnel {secrets.token_hex(3)}"
    await page.get_by_role("button", name="Save to dashboard").click()
    form = page.get_by_role("form", name="Save to dashboard")
    if await form.get_by_label("Dashboard", exact=True).count():
        await form.get_by_label("Dashboard", exact=True).select_option(label="New dashboard…")
    await form.get_by_label("New dashboard name").fill(name)
    await form.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status").filter(has_text="Saved to")).to_be_visible()

    r = await page.request.get("/api/v1/analytics/dashboards?limit=200")
    assert r.ok, await r.text()
    saved = [d for d in (await r.json())["items"] if d["name"] == name]
    assert len(saved) == 1
    full = await (await page.request.get(f"/api/v1/analytics/dashboards/{saved[0]['id']}")).json()
    kinds = [t["kind"] for t in full["tiles"]]
    assert kinds == ["funnels"]
    steps = [s["event_type"] for s in full["tiles"][0]["query"]["steps"]]
    assert steps == ["product_view", "add_to_cart", "purchase_complete"]


async def test_sql_runs_and_exports_csv(page: Page, webui: E2E, tmp_path: Path) -> None:
    await log_in(page, webui, "viewer")
    await page.goto("/app/sql")
    await expect(h1(page)).to_have_text("SQL")
    sql = (
        "SELECT event_type, count(*) AS n FROM events "
        f"WHERE app_id = '{webui.app_id}' GROUP BY 1 ORDER BY 1"
    )
    editor = page.get_by_role("textbox", name="SQL query")
    await editor.click()
    await page.keyboard.press("ControlOrMeta+a")
    await page.keyboard.press("Delete")
    await editor.press_sequentially(sql)
    await page.keyboard.press("Control+Enter")
    await expect(page.get_by_text("purchase_complete").first).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_count(0)
    await screenshot(page, "sql-result")

    try:
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Export CSV").click()
        download = await info.value
    except Exception:
        await screenshot(page, "sql-export-failed")
        print(await page.get_by_role("main").aria_snapshot())
        raise
    target = tmp_path / "export.csv"
    await download.save_as(str(target))
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[0] == ["event_type", "n"]
    assert rows[1:] == [
        ["add_to_cart", str(FUNNEL_CARTS)],
        ["product_view", str(FUNNEL_DEVICES)],
        ["purchase_complete", str(FUNNEL_BUYERS)],
    ]

    # an unsafe statement is refused in words, near the editor
    await editor.click()
    await page.keyboard.press("ControlOrMeta+a")
    await page.keyboard.press("Delete")
    await editor.press_sequentially("DROP TABLE events")
    await page.get_by_role("button", name="Run", exact=True).click()
    await expect(page.get_by_role("alert").first).to_be_visible()


async def test_webhook_test_delivery_and_rule(page: Page, webui: E2E) -> None:
    await log_in(page, webui, "editor")
    hook = f"e2e hook {secrets.token_hex(3)}"
    rule = f"e2e rule {secrets.token_hex(3)}"
    await page.goto("/app/reactions?tab=webhooks")
    await expect(h1(page)).to_have_text("Reactions")
    await page.get_by_role("button", name="Create webhook").click()
    await page.get_by_label("Name").fill(hook)
    await page.get_by_label("URL").fill(f"{webui.receiver.url}/hooks/{hook.replace(' ', '-')}")
    await page.get_by_label("Authentication").select_option(label="HMAC signature (recommended)")
    await page.get_by_label("Signing key").fill("an e2e signing key of 32 chars!")
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_role("button", name=f"Send test to {hook}")).to_be_visible()
    before = len(webui.receiver.records())
    await page.get_by_role("button", name=f"Send test to {hook}").click()
    await expect(page.get_by_role("status").filter(has_text=re.compile(r"200"))).to_be_visible()

    async def arrived() -> bool:
        return len(webui.receiver.records()) > before

    await wait_for(arrived, timeout=15)
    record = webui.receiver.records()[-1]
    assert record.path.endswith(hook.replace(" ", "-"))
    assert record.answered == 200
    await screenshot(page, "reactions-webhooks")

    await page.goto("/app/reactions")
    await page.get_by_role("button", name="Create rule").click()
    await page.get_by_label("Name", exact=True).fill(rule)
    await page.get_by_label(re.compile(re.escape(hook))).check()
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text(rule).first).to_be_visible()
    r = await page.request.get("/api/v1/admin/rules?limit=200")
    assert r.ok
    created = [x for x in (await r.json())["items"] if x["name"] == rule]
    assert len(created) == 1
    assert len(created[0]["webhook_ids"]) == 1
    await screenshot(page, "reactions")


async def test_viewer_sees_no_admin_actions(page: Page, webui: E2E) -> None:
    await log_in(page, webui, "viewer")
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link", name="SQL")).to_be_visible()
    await expect(nav.get_by_role("link", name="Settings")).to_have_count(0)
    await page.goto("/app/reactions")
    await expect(h1(page)).to_have_text("Reactions")
    await expect(page.get_by_role("tab", name="Rules")).to_be_visible()
    await expect(page.get_by_role("button", name="Create rule")).to_have_count(0)
    await page.goto("/app/reactions?tab=webhooks")
    await expect(page.get_by_role("button", name="Create webhook")).to_have_count(0)
    # and the API agrees, whatever the page shows
    r = await page.request.get("/api/v1/admin/users")
    assert r.status == 403
    assert (await r.json())["error"]["code"] == "forbidden"


async def test_every_main_page_has_its_h1_and_a_screenshot(page: Page, webui: E2E) -> None:
    await log_in(page, webui, "admin")
    for path, title, name in MAIN_PAGES:
        await page.goto(path)
        await expect(h1(page)).to_have_text(title)
        await expect(h1(page)).to_have_count(1)
        await page.wait_for_timeout(400)  # let queries settle (the live tail never idles)
        await screenshot(page, name)
    # phone width: the nav folds behind a Menu button and still works
    await page.set_viewport_size(PHONE)
    await page.goto("/app/")
    await expect(h1(page)).to_have_text("Dashboards")
    menu = page.get_by_role("button", name="Menu")
    await expect(menu).to_be_visible()
    await screenshot(page, "dashboards-390")
    await menu.click()
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="SQL").click()
    await expect(h1(page)).to_have_text("SQL")
