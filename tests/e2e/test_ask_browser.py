"""The Ask page in Chromium against a gateway whose model is the scripted OpenAI-protocol
server: the not-configured message, then a turn whose first SQL is refused and corrected,
streamed step by step, re-run after an edit, replayed from storage, renamed and deleted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from playwright.async_api import BrowserContext, Page, expect

from causality.gateway.app import build_gateway_app
from causality.llm.types import ChartSpec
from tests.e2e.conftest import E2E, PASSWORD, screenshot
from tests.helpers import serve_in_thread
from tests.llm_server import Reply, ScriptedModel, sql_reply


async def login(page: Page, email: str) -> None:
    await page.goto("/app/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", level=1)).not_to_have_text("Log in")


async def set_sql(page: Page, sql: str, editor: str) -> None:
    content = page.locator(editor).first
    await content.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(sql)


async def test_ask_without_model(webui: E2E, page: Page) -> None:
    await login(page, webui.users["viewer"])
    await page.goto("/app/ask")
    await expect(page.get_by_role("heading", level=1, name="Ask")).to_be_visible()
    await page.get_by_label("Question").fill("How many purchases?")
    await page.get_by_role("button", name="Ask", exact=True).click()
    await expect(page.get_by_role("alert").first).to_contain_text("Ask is not set up yet")
    await screenshot(page, "ask-none")


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedModel]:
    with ScriptedModel() as model:
        yield model


async def test_ask_with_model(webui: E2E, scripted: ScriptedModel, context: BrowserContext) -> None:
    settings = webui.settings.replace(
        llm_provider="openai",
        llm_base_url=scripted.base_url,
        llm_model="scripted",
        llm_timeout_s=20.0,
        llm_requests_per_minute=100_000.0,
    )
    sql = "SELECT event_type, count(*) AS n FROM events GROUP BY 1 ORDER BY 2 DESC"
    scripted.push(
        sql_reply("SELECT nope FROM events", intent="bad"),
        sql_reply(
            sql, intent="events per type", chart=ChartSpec(type="bar", x="event_type", y=("n",))
        ),
        Reply("Product views lead with 10 events."),
    )
    with serve_in_thread(build_gateway_app(settings)) as url:
        page = await context.new_page()
        await login(page, webui.users["viewer"])
        await page.goto(url + "/app/ask")
        await page.get_by_label("Question").fill("Events per type?")
        await page.get_by_label("Question").press("Enter")
        turn = page.get_by_role("article").first
        await expect(turn).to_contain_text("Answered", timeout=20_000)
        await expect(turn).to_contain_text("SQL, attempt 1")
        await expect(turn).to_contain_text("SQL, attempt 2")
        await expect(turn).to_contain_text("refused")
        await expect(turn).to_contain_text("Product views lead with 10 events.")
        await expect(turn.locator(".chart canvas")).to_be_visible()
        await expect(
            page.get_by_role("list", name="Conversations").get_by_role(
                "button", name="Open conversation Events per type?"
            )
        ).to_be_visible()
        await screenshot(page, "ask-1280")
        # edit and re-run the SQL
        await set_sql(
            page, "SELECT count(*) AS total FROM events", editor=".ask-sql-panel .cm-content"
        )
        await turn.locator(".ask-sql-panel").get_by_role("button", name="Run").click()
        await expect(turn.locator(".ask-rerun")).to_contain_text("total")
        # reload: the thread comes back from the stored steps
        await page.reload()
        await (
            page.get_by_role("list", name="Conversations")
            .get_by_role("button", name="Open conversation Events per type?")
            .click()
        )
        await expect(page.get_by_role("article").first).to_contain_text(
            "Product views lead with 10 events."
        )
        # rename and delete
        await page.get_by_role("button", name="Rename Events per type?").click()
        await page.get_by_label("New title").fill("Per type")
        await page.get_by_role("button", name="Save").click()
        await expect(
            page.get_by_role("list", name="Conversations").get_by_role(
                "button", name="Open conversation Per type"
            )
        ).to_be_visible()
        page.once("dialog", lambda d: asyncio.ensure_future(d.accept()))
        await page.get_by_role("button", name="Delete Per type").click()
        await expect(
            page.get_by_role("list", name="Conversations").get_by_role(
                "button", name="Open conversation Per type"
            )
        ).to_have_count(0)
        await page.set_viewport_size({"width": 390, "height": 844})
        await screenshot(page, "ask-390")
