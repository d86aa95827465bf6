"""The gomobile core (sdk/mobile) against the real gateway, never a mock of it.

The gateway is ``build_gateway_app`` under uvicorn in a thread on a fixed port, so a test can
start it after a client queued events at its address. Go code runs as subprocesses: the
package's own integration tests (``go test`` with CAUSALITY_TEST_GATEWAY_URL and
CAUSALITY_TEST_API_KEY) and ``cmd/mobiledriver``, a process the test kills with SIGKILL the
way an OS kills an app. What arrived is read back from the gateway's JetStream stream, as the
gateway published it, so field mapping and exactly-once delivery are checked end to end.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from causality.bus.connection import open_connection
from causality.config import Settings
from causality.gateway.app import build_gateway_app
from tests.helpers import free_port, serve_in_thread, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("go") is None, reason="the Go toolchain is not installed"),
]

MOBILE = Path(__file__).resolve().parents[2] / "sdk" / "mobile"


class Gateway:
    """The real gateway app under uvicorn in a thread; start() may come after clients queued
    events at its address, which is the point of a fixed port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._running: AbstractContextManager[str] | None = None

    def start(self) -> None:
        self._running = serve_in_thread(build_gateway_app(self.settings), port=self.port)
        self._running.__enter__()

    def stop(self) -> None:
        if self._running is not None:
            running, self._running = self._running, None
            running.__exit__(None, None, None)

    def metric(self, name: str, **labels: str) -> float:
        """Sum of this start's samples of ``name`` whose labels include ``labels``."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        want = set(labels.items())
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == name and want <= set(s.labels.items())
        )


@pytest.fixture
def gateway(base_settings: Settings) -> Iterator[Gateway]:
    g = Gateway(base_settings)
    g.start()
    yield g
    g.stop()


async def stream_events(settings: Settings, app_id: str) -> list[dict[str, Any]]:
    """Every event JetStream holds for the app, oldest first, as published by the gateway."""
    assert settings.nats_url is not None
    async with open_connection(settings.nats_url, name="test-mobile-sdk") as nc:
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
    """The app's events once there are at least ``count``, then a second look so a late
    duplicate would be seen too."""

    async def check() -> list[dict[str, Any]] | None:
        events = await stream_events(settings, app_id)
        return events if len(events) >= count else None

    await wait_for(check, timeout=30, interval=0.2)
    return await stream_events(settings, app_id)


def name_of(event: dict[str, Any]) -> str:
    return str(event.get("event_name") or event["event_type"])


def go(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["go", *args],
        cwd=MOBILE,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def queue_then_kill(driver: Path, url: str, key: str, db: str, n: int) -> tuple[Any, str]:
    """Queue ``n`` events in a driver process while ``url`` is down, wait for its first
    failed send, then SIGKILL it; its report and its stderr."""
    proc = subprocess.Popen(
        [str(driver), "queue", url, key, db, str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        report = json.loads(proc.stdout.readline())
        seen = []
        while line := proc.stderr.readline():  # the driver never exits on its own
            seen.append(line)
            if "will retry" in line:
                break
    finally:
        proc.send_signal(signal.SIGKILL)  # no chance to flush or close anything
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return report, "".join(seen)


def run_driver(driver: Path, *args: str) -> Any:
    """Run the driver to completion; its last stdout line, parsed."""
    done = subprocess.run(
        [str(driver), *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cmd/mobiledriver, built once for the module."""
    path = tmp_path_factory.mktemp("mobile") / "mobiledriver"
    built = go("build", "-o", str(path), "./cmd/mobiledriver")
    assert built.returncode == 0, built.stderr
    return path


async def test_go_integration_events_arrive_with_the_right_fields(
    gateway: Gateway, base_settings: Settings, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    run = await asyncio.to_thread(
        go,
        "test",
        "-count=1",
        "-v",
        "-run",
        "TestGateway",
        ".",
        env={"CAUSALITY_TEST_GATEWAY_URL": gateway.url, "CAUSALITY_TEST_API_KEY": key},
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "--- PASS: TestGatewayReceivesEventsAndRefusesInvalidOnes" in run.stdout, run.stdout
    line = next(ln for ln in run.stdout.splitlines() if ln.startswith("MOBILE_REPORT "))
    device_id = json.loads(line.removeprefix("MOBILE_REPORT "))["device_id"]

    events = await stored(base_settings, app_id, 4)
    names = [name_of(e) for e in events]
    # add_to_cart with currency "eur" was refused by the gateway (and logged by the SDK)
    assert names == ["session_start", "screen_view", "button_tap", "level_up"], names
    assert len({e["idempotency_key"] for e in events}) == 4
    assert {e["device_id"] for e in events} == {device_id}
    assert len({e["session_id"] for e in events}) == 1
    assert all(e["timestamp_ms"] > 0 for e in events)
    for e in events:
        ctx = e["device_context"]
        assert ctx["platform"] == "ios" and ctx["os_version"] == "17.4", ctx
        assert ctx["device_model"] == "iPhone15,2" and ctx["sdk_version"], ctx
    # SetUser came after Init's session_start: every later event names the user
    assert [e.get("user_id") for e in events] == [None, "user-42", "user-42", "user-42"]
    screen = events[1]["properties"]
    assert screen["screen_name"] == "home" and screen["params"] == {"tab": "feed"}
    assert events[2]["event_category"] == "interaction"
    assert events[3]["event_type"] == "custom" and events[3]["properties"]["level"] == 3


async def test_a_killed_process_sends_its_queue_after_restart(
    base_settings: Settings, app_with_key: tuple[str, str], driver: Path, tmp_path: Path
) -> None:
    app_id, key = app_with_key
    gateway = Gateway(base_settings)  # not started: nothing listens at its address yet
    db = str(tmp_path / "queue.db")

    queued, err = await asyncio.to_thread(queue_then_kill, driver, gateway.url, key, db, 25)
    assert queued["pending"] == 26, (queued, err)  # session_start + 25
    assert "will retry" in err, "it did try the unreachable gateway"

    await asyncio.to_thread(gateway.start)
    try:
        drained = await asyncio.to_thread(run_driver, driver, "drain", gateway.url, key, db)
        assert drained["flushed"] and drained["pending"] == 0, drained
        assert drained["device_id"] == queued["device_id"], "the device id is persisted"
        ingested = await asyncio.to_thread(
            gateway.metric, "causality_events_ingested_total", app_id=app_id
        )
        assert ingested == 26
        dups = await asyncio.to_thread(
            gateway.metric, "causality_events_duplicate_total", app_id=app_id
        )
        assert dups == 0
    finally:
        await asyncio.to_thread(gateway.stop)

    events = await stored(base_settings, app_id, 26)
    offline = [e for e in events if name_of(e) == "queued offline"]
    assert [e["properties"]["i"] for e in offline] == list(range(25)), "FIFO, each once"
    assert Counter(name_of(e) for e in events) == Counter(
        {"queued offline": 25, "session_start": 1}
    )
    assert {e["device_id"] for e in events} == {queued["device_id"]}
    assert len({e["idempotency_key"] for e in events}) == 26
    assert all(e["device_context"]["platform"] == "android" for e in events)
