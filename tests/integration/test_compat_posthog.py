"""PostHog's capture API on the gateway: the official ``posthog`` client, unchanged, pointed
at a real gateway (legacy ``/batch/`` and capture v1), and raw HTTP for what posthog-js and
older clients send (gzip-js, base64, form ``data=``).

The mapping asserted here is the table in docs/compat.md.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from posthog import Posthog
from posthog.capture_v1 import CaptureV1Error

from causality.config import Settings
from causality.stack import ServeStack
from tests.integration.compat_support import by_key, compat_gateway, ms, stored_rows

pytestmark = [pytest.mark.integration]

V1 = "/i/v1/analytics/events"


@pytest.fixture(scope="module")
def gateway(base_settings: Settings) -> Iterator[str]:
    with compat_gateway(base_settings) as url:
        yield url


@pytest.fixture
async def client(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as c:
        yield c


def event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event": "clicked",
        "distinct_id": "d-1",
        "uuid": str(uuid.uuid4()),
        "properties": {"n": 1},
    }
    body.update(overrides)
    return body


def ids(*names: str) -> dict[str, str]:
    return {name: str(uuid.uuid4()) for name in names}


# -- the official client ---------------------------------------------------------------------


def send_with_posthog(url: str, key: str, at: datetime, u: dict[str, str]) -> list[Exception]:
    """What a PostHog server app sends, legacy ``/batch/`` with gzip; returns client errors."""
    errors: list[Exception] = []

    def on_error(exc: Exception, batch: Any) -> None:
        errors.append(exc)

    posthog = Posthog(key, host=url, gzip=True, on_error=on_error, flush_interval=0.05)

    def when(seconds: int) -> datetime:
        return at + timedelta(seconds=seconds)

    posthog.capture(
        "Order Completed",
        distinct_id="user-1",
        properties={"revenue": 19.99, "products": [{"sku": "a"}], "shipping": {"method": "dhl"}},
        timestamp=when(1),
        uuid=u["custom"],
    )
    posthog.capture(
        "$pageview",
        distinct_id="user-1",
        properties={
            "$current_url": "https://shop.example/blog/post?utm_source=newsletter",
            "$referrer": "https://search.example/",
            "title": "A post",
            "$device_id": "browser-1",
            "$session_id": "sess-1",
        },
        timestamp=when(2),
        uuid=u["pageview"],
    )
    posthog.capture(
        "$identify",
        distinct_id="user-1",
        properties={"$anon_distinct_id": "anon-1", "$set": {"email": "ana@example.com"}},
        timestamp=when(3),
        uuid=u["identify"],
    )
    posthog.set(distinct_id="user-1", properties={"plan": "pro"}, timestamp=when(4), uuid=u["set"])
    posthog.capture(
        "add_to_cart",
        distinct_id="user-1",
        properties={"product_id": "p-1", "quantity": 2, "price_cents": 1299, "currency": "EUR"},
        timestamp=when(5),
        uuid=u["catalogued"],
    )
    posthog.alias(previous_id="anon-1", distinct_id="user-1", timestamp=when(6), uuid=u["alias"])
    posthog.group_identify("company", "acme", {"name": "Acme"}, timestamp=when(7), uuid=u["group"])
    posthog.capture("anonymous ping", timestamp=when(8), uuid=u["personless"])
    assert posthog.get_feature_flag("beta", "user-1") is None  # /flags answers: no flags
    posthog.flush()
    posthog.shutdown()
    return errors


def send_with_posthog_v1(url: str, key: str, at: datetime, u: dict[str, str]) -> list[Exception]:
    """Capture v1 (Bearer auth, deflate bodies, per-event results); one event the server
    must drop (too far in the future). Returns the client's errors."""
    errors: list[Exception] = []

    def on_error(exc: Exception, batch: Any) -> None:
        errors.append(exc)

    posthog = Posthog(
        key,
        host=url,
        capture_mode="v1",
        capture_compression="deflate",
        on_error=on_error,
        flush_interval=0.05,
        max_retries=0,
    )
    posthog.capture(
        "v1 event",
        distinct_id="user-2",
        properties={"$session_id": "sess-2", "plan": "pro"},
        timestamp=at + timedelta(seconds=9),
        uuid=u["v1"],
    )
    posthog.capture(
        "from the future",
        distinct_id="user-2",
        timestamp=datetime.now(UTC) + timedelta(days=3),
        uuid=u["v1_dropped"],
    )
    posthog.flush()
    posthog.shutdown()
    return errors


@pytest.mark.ray
async def test_posthog_client_events_are_stored_with_the_mapping(
    serve_stack: ServeStack, gateway: str, base_settings: Settings, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    u = ids("custom", "pageview", "identify", "set", "catalogued", "alias", "group", "personless")
    u |= ids("v1", "v1_dropped")
    assert await asyncio.to_thread(send_with_posthog, gateway, key, at, u) == []
    v1_errors = await asyncio.to_thread(send_with_posthog_v1, gateway, key, at, u)
    assert len(v1_errors) == 1 and isinstance(v1_errors[0], CaptureV1Error)
    assert [drop for drop, _ in v1_errors[0].drops] == [u["v1_dropped"]]
    assert "timestamp_ms" in (v1_errors[0].drops[0][1] or "")

    stored = [u[name] for name in u if name != "v1_dropped"]
    found = await stored_rows(
        base_settings, app_id, keys=stored, event_names=["$feature_flag_called"]
    )
    rows = by_key(found)
    assert u["v1_dropped"] not in rows
    named = {name: rows[u[name]] for name in u if name != "v1_dropped"}
    start = int(at.timestamp() * 1000)
    for offset, name in enumerate(list(named), start=1):
        assert ms(named[name]["timestamp"]) == start + offset * 1000, name

    custom = named["custom"]
    assert (custom["event_type"], custom["event_name"]) == ("custom", "Order Completed")
    assert (custom["device_id"], custom["user_id"]) == ("user-1", "user-1")  # server SDK
    assert (custom["platform"], custom["sdk_version"][:15]) == ("server", "posthog-python/")
    props = custom["properties"]
    assert (props["revenue"], props["products"], props["shipping.method"]) == (
        19.99,
        '[{"sku":"a"}]',
        "dhl",
    )
    assert props["$is_server"] is True and "$lib" not in props and "$os" not in props

    page = named["pageview"]
    assert (page["event_type"], page["platform"]) == ("screen_view", "web")
    assert (page["device_id"], page["user_id"], page["session_id"]) == (
        "browser-1",
        "user-1",
        "sess-1",
    )
    assert page["properties"]["screen_name"] == "/blog/post"
    params = page["properties"]["params"]
    assert {k: params[k] for k in ("url", "path", "title", "referrer", "utm_source")} == {
        "url": "https://shop.example/blog/post?utm_source=newsletter",
        "path": "/blog/post",
        "title": "A post",
        "referrer": "https://search.example/",
        "utm_source": "newsletter",
    }

    identify = named["identify"]
    assert identify["event_type"] == "profile_update"
    assert (identify["device_id"], identify["user_id"]) == ("anon-1", "user-1")
    assert identify["properties"]["fields_updated"] == ["email"]
    assert "ana@example.com" not in json.dumps(identify["properties"])
    assert named["set"]["event_type"] == "profile_update"
    assert named["set"]["properties"]["fields_updated"] == ["plan"]

    catalogued = named["catalogued"]
    assert (catalogued["event_type"], catalogued["event_category"]) == ("add_to_cart", "commerce")
    assert catalogued["properties"]["price_cents"] == 1299

    alias = named["alias"]
    assert (alias["event_name"], alias["device_id"], alias["user_id"]) == (
        "alias",
        "anon-1",
        "user-1",
    )
    assert alias["properties"]["previous_id"] == "anon-1"
    group = named["group"]
    assert group["event_name"] == "group"
    assert (group["properties"]["group_type"], group["properties"]["group_id"]) == (
        "company",
        "acme",
    )
    assert group["properties"]["traits.name"] == "Acme"

    personless = named["personless"]
    assert personless["user_id"] is None  # no distinct id given: posthog sends personless

    v1 = named["v1"]
    assert (v1["event_name"], v1["user_id"], v1["session_id"]) == ("v1 event", "user-2", "sess-2")
    assert v1["properties"]["plan"] == "pro"

    # the client's own $feature_flag_called is an internal event: custom, under its name
    flag_rows = [r for r in found if r["event_name"] == "$feature_flag_called"]
    assert flag_rows and flag_rows[0]["properties"]["$feature_flag"] == "beta"


# -- raw HTTP: legacy capture ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/batch/", "/batch", "/capture/", "/e/", "/i/v0/e/", "/track/"])
async def test_legacy_paths_take_every_shape(
    client: httpx.AsyncClient, app_with_key: tuple[str, str], path: str
) -> None:
    _, key = app_with_key
    for body in (
        {"api_key": key, "batch": [event(), event()]},  # posthog-python
        {**event(), "api_key": key},  # one event
        [event(properties={"token": key, "$lib": "web"})],  # posthog-js: token in properties
        {"token": key, "batch": [event()]},
    ):
        r = await client.post(path, json=body)
        assert (r.status_code, r.json()) == (200, {"status": 1}), (body, r.text)


async def test_posthog_js_gzip_base64_and_form_variants(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    payload = json.dumps([event(properties={"token": key})]).encode()
    encoded = base64.b64encode(payload).decode()
    sends: list[dict[str, Any]] = [
        # posthog-js compression=gzip-js: a gzip body and no Content-Encoding
        {
            "url": "/e/?compression=gzip-js&ver=1.200.0",
            "content": gzip.compress(payload),
            "headers": {"Content-Type": "text/plain"},
        },
        {"url": "/e/", "content": gzip.compress(payload), "headers": {"Content-Encoding": "gzip"}},
        {"url": "/e/", "data": {"data": encoded}},  # form data= base64
        {"url": "/e/", "data": {"data": payload.decode()}},  # form data= JSON
        {"url": "/i/v0/e/?compression=base64", "content": encoded.encode()},
        {
            "url": "/e/",
            "data": {"data": gzip.compress(payload).decode("latin-1"), "compression": "gzip-js"},
        },
    ]
    for send in sends:
        url = send.pop("url")
        r = await client.post(url, **send)
        assert (r.status_code, r.json()) == (200, {"status": 1}), (url, send, r.text)
    r = await client.get("/e/", params={"data": encoded, "ver": "1"})
    assert (r.status_code, r.json()) == (200, {"status": 1})


@pytest.mark.parametrize(
    ("body", "headers", "detail"),
    [
        ({"batch": [event()]}, {}, "not provided"),
        ({"api_key": "ck_unknown", "batch": [event()]}, {}, "invalid"),
        ({"api_key": "phc_posthog_key", "batch": [event()]}, {}, "invalid"),
        ({"batch": [event()]}, {"Authorization": "Bearer ck_nope"}, "invalid"),
    ],
)
async def test_bad_keys_get_401_in_posthog_shape(
    client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str], detail: str
) -> None:
    r = await client.post("/batch/", json=body, headers=headers)
    assert r.status_code == 401
    assert r.json()["type"] == "authentication_error"
    assert r.json()["code"] == "invalid_api_key"
    assert detail in r.json()["detail"]


async def test_bearer_key_for_legacy_capture(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    r = await client.post(
        "/batch/", json={"batch": [event()]}, headers={"Authorization": f"Bearer {key}"}
    )
    assert (r.status_code, r.json()) == (200, {"status": 1})


@pytest.mark.parametrize(
    ("content", "params", "status", "code"),
    [
        (b"{not json", {}, 400, "malformed_body"),
        (b"%%% not base64 %%%", {}, 400, "malformed_body"),
        (b"", {}, 400, "empty_body"),
        (b'{"batch": 5}', {}, 400, "malformed_body"),
        (b"\x1f\x8b nope", {"compression": "gzip-js"}, 400, "malformed_body"),
        (b"N4Igxg9", {"compression": "lz64"}, 400, "unsupported_compression"),
    ],
)
async def test_malformed_payloads_get_400_in_posthog_shape(
    client: httpx.AsyncClient,
    app_with_key: tuple[str, str],
    content: bytes,
    params: dict[str, str],
    status: int,
    code: str,
) -> None:
    _, key = app_with_key
    r = await client.post(
        "/batch/", content=content, params=params, headers={"Authorization": f"Bearer {key}"}
    )
    assert r.status_code == status, r.text
    assert r.json()["type"] == "validation_error" and r.json()["code"] == code
    assert r.json()["detail"]


async def test_invalid_events(client: httpx.AsyncClient, app_with_key: tuple[str, str]) -> None:
    _, key = app_with_key
    r = await client.post("/batch/", json={"api_key": key, "batch": [event(distinct_id=None)]})
    assert r.status_code == 400
    assert r.json()["type"] == "validation_error" and r.json()["attr"] == "distinct_id"
    # one bad event among good ones: the good ones are kept
    r = await client.post(
        "/batch/", json={"api_key": key, "batch": [event(distinct_id=None), event()]}
    )
    assert (r.status_code, r.json()) == (200, {"status": 1})
    # an event naming another project's key is refused, not stored under this one
    r = await client.post(
        "/batch/", json={"api_key": key, "batch": [event(api_key="ck_someone_else")]}
    )
    assert r.status_code == 400 and r.json()["attr"] == "api_key"


async def test_oversized_payloads_get_413(
    client: httpx.AsyncClient, app_with_key: tuple[str, str], base_settings: Settings
) -> None:
    _, key = app_with_key
    limit = base_settings.max_body_bytes
    r = await client.post("/batch/", content=b" " * (limit + 1))
    assert r.status_code == 413 and r.json()["type"] == "validation_error"
    bomb = gzip.compress(b" " * (limit + 10))
    r = await client.post("/e/?compression=gzip-js", content=bomb)
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    many = {"api_key": key, "batch": [event() for _ in range(base_settings.max_batch_events + 1)]}
    r = await client.post("/batch/", json=many)
    assert r.status_code == 413 and r.json()["code"] == "batch_too_large"


async def test_odd_payloads_never_get_a_500(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    odd: list[Any] = [
        [None, 1, "x", [], {}],
        [],
        {"batch": [event(properties=[1]), event(event=5), event(distinct_id={"a": 1})]},
        {"batch": [event(timestamp="tomorrow"), event(offset=-5), event(uuid=7)]},
        {"batch": [event(event="$pageview", properties={"$current_url": 5, "$pathname": []})]},
        {"batch": [event(event="$identify", properties={"$set": [1], "$anon_distinct_id": {}})]},
        {"batch": [event(event="purchase_complete", properties={"order_id": 5})]},
        {"batch": [event(properties={"$screen_width": "wide", "$lib_version": {"a": 1}})]},
    ]
    for body in odd:
        payload = {"api_key": key, **body} if isinstance(body, dict) else body
        r = await client.post("/batch/", json=payload, headers={"Authorization": f"Bearer {key}"})
        assert r.status_code < 500, (body, r.text)


# -- raw HTTP: capture v1 and flags ------------------------------------------------------------


async def test_v1_answers_per_event(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    good, bad = event(), event(distinct_id=None)
    body = {"created_at": datetime.now(UTC).isoformat(), "batch": [good, bad, good]}
    headers = {"Authorization": f"Bearer {key}", "PostHog-Attempt": "1"}
    r = await client.post(V1, json=body, headers=headers)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results[bad["uuid"]] == {
        "result": "drop",
        "details": "distinct_id: required: the distinct id of the person or device",
    }
    # the same uuid twice in one request: the second is a duplicate (a terminal success)
    assert results[good["uuid"]]["result"] == "warning"
    r = await client.post(V1, json={"batch": [good]}, headers=headers)
    assert r.json()["results"][good["uuid"]]["result"] == "warning"
    fresh = event()
    r = await client.post(V1, json={"batch": [fresh]}, headers=headers)
    assert r.json() == {"results": {fresh["uuid"]: {"result": "ok"}}}


async def test_v1_needs_a_bearer_key(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    r = await client.post(V1, json={"api_key": key, "batch": [event()]})
    assert r.status_code == 401 and r.json()["type"] == "authentication_error"
    r = await client.post(V1, json={"batch": [event()]}, headers={"Authorization": "Bearer ck_x"})
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"
    r = await client.post(V1, json=[event()], headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 400 and r.json()["attr"] == "batch"


@pytest.mark.parametrize("path", ["/flags/?v=4", "/flags", "/decide/?v=3"])
async def test_flags_answer_with_no_flags(client: httpx.AsyncClient, path: str) -> None:
    r = await client.post(path, json={"api_key": "anything", "distinct_id": "d"})
    assert r.status_code == 200
    body = r.json()
    assert (body["flags"], body["featureFlags"], body["featureFlagPayloads"]) == ({}, {}, {})
    assert body["errorsWhileComputingFlags"] is False
