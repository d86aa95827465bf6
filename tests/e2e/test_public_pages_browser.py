"""The public pages (/ and /docs) in real Chromium: they render, the htmx filter of the API
reference swaps in the server's fragment, Copy copies, and both pages work at phone width."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, Page, expect

from tests.e2e.conftest import E2E, PHONE, screenshot

pytestmark = [pytest.mark.integration, pytest.mark.browser]


async def test_home_page(page: Page, e2e: E2E) -> None:
    await page.goto("/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Causality")
    await expect(page.get_by_role("heading", name="Quick start")).to_be_visible()
    await expect(page.get_by_role("img", name="Causality's architecture")).to_be_visible()
    await expect(page.get_by_text("make up", exact=False).first).to_be_visible()
    await screenshot(page, "public-home")
    await page.get_by_role("link", name="Read the docs").click()
    await expect(page).to_have_url(f"{e2e.url}/docs")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Docs")


async def test_docs_filter_uses_htmx_fragment(page: Page) -> None:
    await page.goto("/docs")
    rules = page.locator("#op-post_admin_rules")
    funnels = page.locator("#op-post_analytics_funnels")
    await expect(rules).to_have_count(1)
    async with page.expect_request(lambda r: "/docs/api?" in r.url) as seen:
        await page.get_by_label("Filter endpoints").fill("funnels")
    request = await seen.value
    assert request.headers.get("hx-request") == "true"  # htmx made it, not a page load
    await expect(rules).to_have_count(0)
    await expect(funnels).to_have_count(1)
    assert page.url.endswith("/docs")  # swapped in place, no page load
    await funnels.locator("summary").click()
    await expect(funnels.get_by_text("Request body: FunnelQuery")).to_be_visible()
    await screenshot(page, "public-docs")


async def test_copy_button_copies_the_quick_start(context: BrowserContext, page: Page) -> None:
    await context.grant_permissions(["clipboard-read", "clipboard-write"])
    await page.goto("/")
    await page.get_by_role("button", name="Copy the quick start commands").click()
    await expect(page.get_by_role("status").filter(has_text="Copied")).to_be_visible()
    copied = await page.evaluate("navigator.clipboard.readText()")
    assert "make up" in copied


async def test_public_pages_at_phone_width(page: Page) -> None:
    await page.set_viewport_size(PHONE)
    for path, h1 in (("/", "Causality"), ("/docs", "Docs")):
        await page.goto(path)
        await expect(page.get_by_role("heading", level=1)).to_have_text(h1)
        # nothing wider than the screen: no sideways scrolling of the whole page
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 390px"
    await page.goto("/")
    await screenshot(page, "public-home-390")
