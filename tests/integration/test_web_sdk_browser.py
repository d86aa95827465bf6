"""The web SDK (sdk/web) in real headless Chromium against the real gateway.

Each test starts ``node sdk/web/tests/browser.mjs <scenario>``, which serves test pages from
its own origin, drives Debian's Chromium with playwright-core and prints what the pages sent
and what the gateway answered. The test then checks that report and what JetStream holds for
the app: the events the browser delivered, each exactly once, valid per EVENTS.md.

Needs ``node``, ``sdk/web/node_modules``, the built ``sdk/web/dist`` and ``/usr/bin/chromium``:
``make test`` provides all four (``make web-sdk chromium``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from causality.bus.connection import open_connection
from causality.config import Settings
from causality.gateway.app import build_gateway_app
from causality.gateway.sdk_routes import DEFAULT_DIST_DIR
from tests.conftest import AppWithKeyFactory
from tests.helpers import serve_in_thread, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.browser]

WEB_DIR = DEFAULT_DIST_DIR.parent
RUNNER = WEB_DIR / "tests" / "browser.mjs"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
DEVICE_CONTEXT_KEYS = {
    "platform",
    "sdk_version",
    "os_version",
    "app_version",
    "screen_width",
    "screen_height",
    "locale",
    "timezone",
}


@dataclass
class SeenRequest:
    """How one request reached the batch endpoint (what the browser's own tools cannot show
    for a beacon sent by a page that is going away)."""

    method: str
    api_key: str | None
    key_in_query: bool
    content_type: str | None
    body: bytearray = field(default_factory=bytearray)

    def idempotency_keys(self) -> set[str]:
        return {e["idempotency_key"] for e in json.loads(self.body)["events"]}


class BatchRecorder:
    """ASGI wrapper around the gateway noting every request to the batch endpoint."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[SeenRequest] = []

    def for_key(self, key: str) -> list[SeenRequest]:
        return [r for r in self.seen if r.api_key == key]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/api/v1/events/batch":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope["query_string"].decode())
        seen = SeenRequest(
            method=scope["method"],
            api_key=headers.get("x-api-key") or (query.get("api_key") or [None])[0],
            key_in_query="api_key" in query,
            content_type=headers.get("content-type"),
        )
        self.seen.append(seen)

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen.body.extend(message.get("body", b""))
            return message

        await self.app(scope, recording_receive, send)


@dataclass
class WebGateway:
    url: str
    recorder: BatchRecorder


def check_prerequisites() -> None:
    """Fail early, saying what to run, when the browser tests cannot run."""
    missing = [
        what
        for what, ok in [
            ("node", shutil.which("node") is not None),
            (str(WEB_DIR / "node_modules"), (WEB_DIR / "node_modules").is_dir()),
            (str(DEFAULT_DIST_DIR / "causality.js"), (DEFAULT_DIST_DIR / "causality.js").is_file()),
            (str(CHROMIUM), CHROMIUM.exists()),
        ]
        if not ok
    ]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make web-sdk chromium` first")


@contextmanager
def recorded_gateway(settings: Settings) -> Iterator[WebGateway]:
    check_prerequisites()
    recorder = BatchRecorder(build_gateway_app(settings))
    with serve_in_thread(recorder) as url:
        yield WebGateway(url, recorder)


@pytest.fixture(scope="module")
def web_gateway(base_settings: Settings) -> Iterator[WebGateway]:
    """The gateway under uvicorn; it serves /sdk/causality.js and takes the events."""
    with recorded_gateway(base_settings) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def limited_gateway(base_settings: Settings) -> Iterator[WebGateway]:
    """A gateway allowing 5 events/s with bursts of 10 per key."""
    settings = base_settings.replace(rate_limit_events_per_s=5, rate_limit_burst=10)
    with recorded_gateway(settings) as gateway:
        yield gateway


async def run_browser(scenario: str, gateway: str, api_key: str) -> dict[str, Any]:
    """One scenario of browser.mjs; its JSON report."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(RUNNER),
        scenario,
        gateway,
        api_key,
        cwd=WEB_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, f"browser.mjs {scenario} failed:\n{err.decode()}"
    report: dict[str, Any] = json.loads(out)
    return report


async def stream_events(settings: Settings, app_id: str) -> list[dict[str, Any]]:
    """Every event JetStream holds for the app, oldest first, as published by the gateway."""
    assert settings.nats_url is not None
    async with open_connection(settings.nats_url, name="test-web-sdk") as nc:
        sub = await nc.jetstream().subscribe(f"events.{app_id}.>", ordered_consumer=True)
        events = []
        try:
            while True:
                msg = await sub.next_msg(timeout=1.0)
                events.append(json.loads(msg.data))
        except TimeoutError:
            pass
        finally:
            await sub.unsubscribe()
    return events


async def stored(settings: Settings, app_id: str, count: int) -> list[dict[str, Any]]:
    """The app's stored events once there are at least ``count`` of them."""

    async def check() -> list[dict[str, Any]] | None:
        events = await stream_events(settings, app_id)
        return events if len(events) >= count else None

    result: list[dict[str, Any]] = await wait_for(check, timeout=30, interval=0.2)
    return result


def name_of(event: dict[str, Any]) -> str:
    return str(event.get("event_name") or event["event_type"])


def assert_web_event(event: dict[str, Any], *, device_id: str) -> None:
    """What every event of the SDK carries."""
    assert event["device_id"] == device_id
    assert len(event["idempotency_key"]) == 36
    assert event["session_id"]
    ctx = event["device_context"]
    assert ctx["platform"] == "web"
    assert ctx["sdk_version"] == "0.1.0"
    assert set(ctx) <= DEVICE_CONTEXT_KEYS
    assert {"locale", "timezone", "screen_width", "screen_height", "os_version"} <= set(ctx)


def delivered_batches(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in report["batches"] if b["status"] == 202]


async def test_script_tag_page_sends_a_page_view(
    web_gateway: WebGateway, base_settings: Settings, make_app_with_key: AppWithKeyFactory
) -> None:
    app_id, key = await make_app_with_key()
    report = await run_browser("script-tag", web_gateway.url, key)
    result = report["result"]

    # the gateway served the script-tag build, compressed, to another origin's page
    assert result["script"]["status"] == 200
    assert result["script"]["headers"]["content-encoding"] == "gzip"
    assert result["script"]["headers"]["content-type"].startswith("text/javascript")
    assert {"flush", "identify", "init", "page", "reset", "track"} <= set(result["global_api"])
    assert report["console_errors"] == []

    # delivered by fetch with the key header (CORS preflight passed), answered 202
    [batch] = delivered_batches(report)
    assert not batch["key_in_query"]
    assert batch["content_type"] == "application/json"
    assert batch["response"] == {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}
    # the gateway saw the CORS preflight for the key header, then the POST
    preflights = [r for r in web_gateway.recorder.seen if r.method == "OPTIONS"]
    assert preflights, "no CORS preflight reached the gateway"
    [post] = web_gateway.recorder.for_key(key)
    assert (post.method, post.key_in_query) == ("POST", False)

    [event] = await stored(base_settings, app_id, 1)
    assert_web_event(event, device_id=result["device_id"])
    assert event["event_type"] == "screen_view"
    assert event["device_context"]["app_version"] == "9.9.9"
    props = event["properties"]
    assert props["screen_name"] == "/script.html"
    assert props["params"] == {
        "url": f"{report['site']}/script.html?utm_source=news&utm_medium=email"
        "&utm_campaign=spring&utm_term=shoes&utm_content=hero",
        "path": "/script.html",
        "title": "Script tag",
        "referrer": "https://referrer.example/article",
        "utm_source": "news",
        "utm_medium": "email",
        "utm_campaign": "spring",
        "utm_term": "shoes",
        "utm_content": "hero",
    }


async def test_single_page_app_navigation_sends_page_views(
    web_gateway: WebGateway, base_settings: Settings, make_app_with_key: AppWithKeyFactory
) -> None:
    app_id, key = await make_app_with_key()
    report = await run_browser("spa", web_gateway.url, key)
    assert report["console_errors"] == []

    events = await stored(base_settings, app_id, 5)
    await asyncio.sleep(1)  # and nothing more: the in-page anchor is no page view
    events = await stream_events(base_settings, app_id)
    assert [name_of(e) for e in events] == ["screen_view"] * 4 + ["signup_clicked"]
    device_id = events[0]["device_id"]
    for event in events:
        assert_web_event(event, device_id=device_id)
    assert len({e["session_id"] for e in events}) == 1

    views = [e["properties"] for e in events[:4]]
    site = report["site"]
    assert [v["screen_name"] for v in views] == ["/spa.html", "/spa/a", "/spa/b", "/spa/a"]
    assert [v.get("previous_screen") for v in views] == [None, "/spa.html", "/spa/a", "/spa/b"]
    assert [v["params"]["title"] for v in views] == ["Home", "A", "B", "A"]
    # after a route change the referrer is the previous URL; the first view had none
    assert "referrer" not in views[0]["params"]
    assert [v["params"]["referrer"] for v in views[1:]] == [
        f"{site}/spa.html",
        f"{site}/spa/a",
        f"{site}/spa/b",
    ]

    custom = events[4]
    assert custom["event_type"] == "custom"
    assert custom["user_id"] == "user-42"
    assert custom["properties"] == {"plan": "pro", "seats": 3, "event_name": "signup_clicked"}
    assert all("user_id" not in e for e in events[:4])


async def test_events_queued_offline_survive_a_reload_and_arrive_after_reconnecting(
    web_gateway: WebGateway, base_settings: Settings, make_app_with_key: AppWithKeyFactory
) -> None:
    app_id, key = await make_app_with_key()
    report = await run_browser("offline-reload", web_gateway.url, key)
    result = report["result"]

    # browser offline: nothing was even tried, the events waited in IndexedDB
    assert result["requests_while_offline"] == 0
    assert sorted(result["stored_while_offline"]) == ["offline_event"] * 3
    # back online, gateway unreachable: attempts failed before and after the reload, and the
    # reloaded page found the events in IndexedDB (with its own page view)
    assert result["refused_attempts"] >= 2
    assert sorted(result["stored_after_reload"]) == ["offline_event"] * 3 + ["screen_view"]
    assert result["device_id_after"] == result["device_id_before"]
    assert result["stored_after_delivery"] == []

    # reachable again: one batch with the offline events and the reloaded page's own view
    assert [len(b["events"]) for b in delivered_batches(report)] == [1, 4]
    # nothing went by beacon: a beacon to an unreachable gateway would be lost unnoticed
    assert not any(r.key_in_query for r in web_gateway.recorder.for_key(key))
    events = await stored(base_settings, app_id, 5)
    await asyncio.sleep(1)
    events = await stream_events(base_settings, app_id)
    assert sorted(name_of(e) for e in events) == ["offline_event"] * 3 + ["screen_view"] * 2
    offline = [e for e in events if name_of(e) == "offline_event"]
    # each exactly once, in order, from the same device and session as before going offline
    assert [e["properties"]["n"] for e in offline] == [1, 2, 3]
    for event in events:
        assert_web_event(event, device_id=result["device_id_before"])
    assert len({e["session_id"] for e in events}) == 1
    # tracked before the gateway was reachable again, received after (one clock)
    reconnected = result["reconnected_at_ms"]
    times = [(e["timestamp_ms"], e["received_at_ms"]) for e in offline]
    assert all(t < reconnected <= received for t, received in times), (reconnected, times)


async def test_rate_limited_batches_wait_for_retry_after(
    limited_gateway: WebGateway, base_settings: Settings, make_app_with_key: AppWithKeyFactory
) -> None:
    app_id, key = await make_app_with_key()
    report = await run_browser("rate-limited", limited_gateway.url, key)

    batches = [b for b in report["batches"] if b["status"] is not None]
    assert [(b["status"], len(b["events"])) for b in batches] == [
        (202, 1),
        (202, 9),
        (429, 9),
        (202, 9),
    ]
    limited, retry = batches[2], batches[3]
    assert limited["response"]["error"]["code"] == "rate_limited"
    wait_s = int(limited["retry_after"])
    assert wait_s >= 2  # 9 events wanted, about 1 token left, 5 tokens/s
    # the SDK read Retry-After through CORS: its own first backoff would be at most 1 s
    # (both times are taken in node, each a little after the browser's own moment)
    assert retry["at"] - limited["answered_at"] >= wait_s * 1000 - 250
    keys = [e["idempotency_key"] for e in limited["events"]]
    assert [e["idempotency_key"] for e in retry["events"]] == keys

    events = await stored(base_settings, app_id, 19)
    await asyncio.sleep(1)
    events = await stream_events(base_settings, app_id)
    assert sorted(name_of(e) for e in events) == sorted(
        ["screen_view"] + ["first_chunk"] * 9 + ["second_chunk"] * 9
    )


async def test_pagehide_delivers_the_queue_by_beacon(
    web_gateway: WebGateway, base_settings: Settings, make_app_with_key: AppWithKeyFactory
) -> None:
    app_id, key = await make_app_with_key()
    report = await run_browser("beacon", web_gateway.url, key)
    assert report["result"]["sent_before_leaving"] == 0  # nothing went by fetch meanwhile

    events = await stored(base_settings, app_id, 2)
    assert sorted(name_of(e) for e in events) == ["beacon_event", "screen_view"]
    # one request, and its shape is sendBeacon's: the key in the query, a text/plain body
    [beacon] = web_gateway.recorder.for_key(key)
    assert beacon.method == "POST"
    assert beacon.key_in_query
    assert beacon.content_type is not None and beacon.content_type.startswith("text/plain")
    assert beacon.idempotency_keys() == {e["idempotency_key"] for e in events}
    await asyncio.sleep(1)
    assert len(await stream_events(base_settings, app_id)) == 2
