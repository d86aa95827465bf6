"""The Go SDK (sdk/go) against the real gateway, never a mock of it.

Each test starts the gateway app under uvicorn in a thread (with the session's NATS and
PostgreSQL), makes an app and key, and runs one Go integration test as a subprocess with
CAUSALITY_TEST_GATEWAY_URL / CAUSALITY_TEST_API_KEY / CAUSALITY_TEST_OUT. The Go side asserts
what its client saw (statuses, retries, logged reasons) and writes the idempotency keys it
delivered; this side checks the gateway's JetStream stream, so a client that claimed success
without the events arriving (or arriving twice, or with wrong fields) fails here.
Outages and 5xx are produced by a proxy inside the Go test in front of this real gateway.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from causality.bus.connection import open_connection
from causality.config import Settings
from causality.gateway.app import build_gateway_app
from tests.helpers import serve_in_thread, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("go") is None, reason="the Go toolchain is not installed"),
]

SDK_DIR = Path(__file__).resolve().parents[2] / "sdk" / "go"


@pytest.fixture
def gateway_url(base_settings: Settings) -> Iterator[str]:
    with serve_in_thread(build_gateway_app(base_settings)) as url:
        yield url


def run_go_test(name: str, url: str, key: str, out: Path) -> dict[str, Any]:
    """Run one Go integration test; fail with its output unless it passed (not skipped)."""
    env = os.environ | {
        "CAUSALITY_TEST_GATEWAY_URL": url,
        "CAUSALITY_TEST_API_KEY": key,
        "CAUSALITY_TEST_OUT": str(out),
    }
    proc = subprocess.run(
        ["go", "test", "-count=1", "-v", "-run", f"^{name}$", "."],
        cwd=SDK_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and f"--- PASS: {name}" in output, output[-5000:]
    report: dict[str, Any] = json.loads((out / f"{name}.json").read_text())
    return report


async def stream_events(settings: Settings, app_id: str) -> list[dict[str, Any]]:
    """Every event JetStream holds for the app, oldest first, as the gateway published it."""
    assert settings.nats_url is not None
    async with open_connection(settings.nats_url, name="test-sdk-go") as nc:
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


async def published(settings: Settings, app_id: str, keys: list[str]) -> list[dict[str, Any]]:
    """The app's events once every key is in the stream, after a moment for late copies."""

    async def check() -> list[dict[str, Any]] | None:
        events = await stream_events(settings, app_id)
        return events if set(keys) <= {e["idempotency_key"] for e in events} else None

    await wait_for(check, timeout=30, interval=0.2)
    await asyncio.sleep(0.5)
    return await stream_events(settings, app_id)


def assert_once(events: list[dict[str, Any]], keys: list[str]) -> None:
    counts = Counter(e["idempotency_key"] for e in events)
    assert counts == Counter({k: 1 for k in keys}), "every event exactly once, nothing else"


async def test_events_arrive_with_their_fields(
    gateway_url: str, base_settings: Settings, app_with_key: tuple[str, str], tmp_path: Path
) -> None:
    app_id, key = app_with_key
    report = await asyncio.to_thread(
        run_go_test, "TestIntegrationEventsArriveWithTheirFields", gateway_url, key, tmp_path
    )
    keys: dict[str, str] = report["keys"]
    events = await published(base_settings, app_id, list(keys.values()))
    assert len(events) == report["total"] == 26
    by_key = {e["idempotency_key"]: e for e in events}
    for event in events:
        assert event["app_id"] == app_id and event["device_id"] == "go-device-1"
        assert event["device_context"] == {
            "platform": "server",
            "os_version": event["device_context"]["os_version"],
            "app_version": "9.9.9",
            "sdk_version": "causality-go/0.1.0",
        }
        assert event["device_context"]["os_version"].startswith(("linux/", "darwin/"))
        props = event["properties"]
        assert props["server_go_version"].startswith("go") and props["server_hostname"]

    view = by_key[keys["screen_view"]]
    assert (view["event_category"], view["event_type"]) == ("screen", "screen_view")
    assert (view["user_id"], view["session_id"]) == ("user-7", "session-7")
    assert view["properties"]["screen_name"] == "checkout"
    assert view["properties"]["params"] == {"path": "/co"}
    tap = by_key[keys["button_tap"]]["properties"]
    assert tap["button_id"] == "pay" and tap["coordinates"] == {"x": 10, "y": 20.5}
    cart = by_key[keys["add_to_cart"]]
    assert cart["event_category"] == "commerce"
    assert {k: cart["properties"][k] for k in ("product_id", "quantity", "price_cents")} == {
        "product_id": "p-1",
        "quantity": 2,
        "price_cents": 1299,
    }
    purchase = by_key[keys["purchase_complete"]]["properties"]
    assert purchase["order_id"] == "o-1" and purchase["total_cents"] == 2598
    assert purchase["items"] == [{"product_id": "p-1", "quantity": 2, "price_cents": 1299}]
    crash = by_key[keys["app_crash"]]
    assert crash["event_category"] == "system"
    assert crash["properties"]["crash_message"] == "boom"
    custom = by_key[keys["custom"]]
    assert (custom["event_type"], custom["event_name"]) == ("custom", "report_exported")
    assert custom["properties"]["rows"] == 42 and custom["properties"]["tags"] == ["a", "b"]
    now_ms = max(e["received_at_ms"] for e in events)
    assert all(now_ms - 60_000 < e["timestamp_ms"] <= now_ms for e in events)


@pytest.mark.parametrize(
    "name",
    [
        "TestIntegrationGatewayDownThenUpReceivesEverythingOnce",
        "TestIntegrationServerErrorsAreRetried",
        "TestIntegrationLostAnswersAreRetriedAndStoredOnce",
        "TestIntegrationValidationErrorsAreDroppedWithTheirReason",
    ],
)
async def test_delivery_rules(
    name: str,
    gateway_url: str,
    base_settings: Settings,
    app_with_key: tuple[str, str],
    tmp_path: Path,
) -> None:
    """Each scenario's delivered keys are in the stream exactly once, and nothing else is:
    no event the gateway rejected, no second copy from a retry."""
    app_id, key = app_with_key
    report = await asyncio.to_thread(run_go_test, name, gateway_url, key, tmp_path)
    keys: list[str] = report["keys"]
    assert keys
    assert_once(await published(base_settings, app_id, keys), keys)
