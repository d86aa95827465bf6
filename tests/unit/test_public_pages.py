"""The public pages rendered by the gateway: /, /docs (guides, event catalogue, the API
reference generated from the OpenAPI document), the htmx fragment and the static files."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from causality.config import Settings
from causality.events.catalogue import CATEGORY_OF, PAYLOAD_TYPES
from causality.gateway.app import build_gateway_app
from causality.gateway.openapi import OPERATIONS
from causality.gateway.public_routes import STATIC_DIR, api_reference


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    # no `with`: the lifespan (NATS, PostgreSQL) is not needed to render public pages
    yield TestClient(build_gateway_app(Settings()))


def _h1s(text: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h1[^>]*>(.*?)</h1>", text)]


def test_home_says_what_causality_is_and_how_to_start(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert _h1s(r.text) == ["Causality"]
    assert "self-hosted behavioral analytics" in r.text.lower()
    assert "make up" in r.text
    assert 'href="/app/"' in r.text and 'href="/docs"' in r.text
    # the picture: a screenshot when the browser tests left one, the diagram always
    assert 'role="img"' in r.text and '<title id="arch-title">' in r.text
    if (STATIC_DIR / "screenshot.png").is_file():
        assert 'src="/static/screenshot.png"' in r.text
    # nothing from a CDN: every script and stylesheet is served by the gateway
    for src in re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', r.text):
        assert src.startswith("/static/"), src
    assert 'data-copy="qs-up"' in r.text and ">Copy</button>" in r.text


def test_docs_has_every_section(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert _h1s(r.text) == ["Docs"]
    for anchor in ("quick-start", "sdk-python", "sdk-web", "sdk-http", "events", "api"):
        assert f'id="{anchor}"' in r.text, anchor
    assert "from causality_sdk import Client" in html.unescape(r.text)
    assert "/sdk/causality.js" in r.text
    # the examples point at the gateway the reader is looking at
    assert "http://testserver/api/v1/events/batch" in r.text


def test_docs_lists_the_whole_event_catalogue(client: TestClient) -> None:
    text = client.get("/docs").text
    for event_type in CATEGORY_OF:
        assert f'id="event-{event_type}"' in text, event_type
    # payload fields, with required ones marked: purchase_complete needs its order_id
    purchase = text.split('id="event-purchase_complete"', 1)[1].split("</dd>", 1)[0]
    assert "<code>order_id</code><abbr" in purchase
    assert "<code>currency</code>" in purchase
    doc = PAYLOAD_TYPES["purchase_complete"].__doc__
    assert doc
    assert html.escape(doc.strip(), quote=True) in purchase


def test_docs_reference_has_every_operation_with_its_body_fields(client: TestClient) -> None:
    text = client.get("/docs").text
    for op in OPERATIONS:
        block = text.split(f'id="op-{op.operation_id}"', 1)
        assert len(block) == 2, (op.method, op.path)
        body = block[1].split("</details>", 1)[0]
        assert f">{op.method}</span>" in body
        assert f">{op.path}</code>" in body
        assert op.summary in html.unescape(body)
    funnels = text.split('id="op-post_analytics_funnels"', 1)[1].split("</details>", 1)[0]
    assert "Request body: FunnelQuery" in funnels
    assert "<code>steps</code>" in funnels and "array of EventSelector" in funnels
    rules = text.split('id="op-post_admin_rules"', 1)[1].split("</details>", 1)[0]
    assert "Needs the editor role or higher." in rules
    assert "<code>condition</code>" in rules


def test_reference_filter_without_and_with_htmx(client: TestClient) -> None:
    # without JavaScript: a GET form on /docs
    page = client.get("/docs", params={"q": "webhooks"}).text
    assert 'id="op-post_admin_webhooks"' in page
    assert 'id="op-post_analytics_funnels"' not in page
    # with htmx: the fragment alone, swapped into #api-ops
    frag = client.get("/docs/api", params={"q": "FUNNELS"})
    assert frag.status_code == 200
    assert "<html" not in frag.text and "<h1" not in frag.text
    assert 'id="op-post_analytics_funnels"' in frag.text
    assert 'id="op-get_admin_rules"' not in frag.text
    empty = client.get("/docs/api", params={"q": "no such endpoint"}).text
    assert "No endpoint matches" in empty
    assert "&lt;script&gt;" in client.get("/docs/api", params={"q": "<script>"}).text
    page = client.get("/docs").text
    assert 'hx-get="/docs/api"' in page and 'hx-target="#api-ops"' in page


def test_api_reference_groups_by_tag_in_order() -> None:
    groups = api_reference()
    tags = [g["tag"] for g in groups]
    assert tags[:3] == ["Ingestion", "Auth", "Admin"]
    assert sum(len(g["operations"]) for g in groups) == len(OPERATIONS)
    method_filter = api_reference("delete")
    assert all(
        "delete" in f"{o['method']} {o['path']} {o['summary']}".lower()
        for g in method_filter
        for o in g["operations"]
    )


def test_static_files_are_vendored(client: TestClient) -> None:
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text[:200] and len(htmx.content) > 20_000
    assert client.get("/static/public.css").status_code == 200
    assert client.get("/static/public.js").status_code == 200
    assert client.get("/static/nope.js").status_code == 404


def test_unknown_public_path_is_a_json_404(client: TestClient) -> None:
    r = client.get("/no-such-page")
    assert r.status_code == 404
