"""Segment's Tracking API on the gateway: the official ``segment-analytics-python`` client,
unchanged, pointed at a real gateway, and raw HTTP for what the client never sends.

The mapping asserted here is the table in docs/compat.md.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from segment.analytics import Client

from causality.config import Settings
from causality.stack import ServeStack
from tests.conftest import AppWithKeyFactory
from tests.integration.compat_support import by_key, compat_gateway, ms, stored_rows

pytestmark = [pytest.mark.integration]

CONTEXT = {
    "os": {"name": "iOS", "version": "17.4"},
    "app": {"name": "Shop", "version": "3.1.0", "build": "310"},
    "device": {"model": "iPhone15,2", "manufacturer": "Apple"},
    "screen": {"width": 390, "height": 844},
    "network": {"wifi": True, "carrier": "T-Mobile"},
    "locale": "en-US",
    "timezone": "Europe/Berlin",
}


@pytest.fixture(scope="module")
def gateway(base_settings: Settings) -> Iterator[str]:
    with compat_gateway(base_settings) as url:
        yield url


@pytest.fixture
async def client(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as c:
        yield c


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def track(**overrides: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": "Clicked",
        "anonymousId": "anon-1",
        "messageId": str(uuid.uuid4()),
        "properties": {"n": 1},
    }
    message.update(overrides)
    return message


# -- the official client ---------------------------------------------------------------------


def send_with_segment(url: str, key: str, at: datetime) -> list[Exception]:
    """Everything a Segment app sends, through the client's batching thread (gzip on), plus
    one call in sync mode without gzip; returns the client's errors."""
    errors: list[Exception] = []

    def on_error(exc: Exception, batch: Any) -> None:
        errors.append(exc)

    analytics = Client(key, host=url, gzip=True, on_error=on_error, upload_interval=0.05)
    common: dict[str, Any] = {"anonymous_id": "anon-1", "context": dict(CONTEXT)}

    def at_(seconds: int) -> datetime:
        return at + timedelta(seconds=seconds)

    analytics.track(
        user_id="user-1",
        event="Order Completed",
        properties={"revenue": 19.99, "products": [{"sku": "a"}], "shipping": {"method": "dhl"}},
        timestamp=at_(1),
        message_id="seg-track",
        **common,
    )
    analytics.track(
        event="add_to_cart",
        properties={"product_id": "p-1", "quantity": 2, "price_cents": 1299, "currency": "EUR"},
        timestamp=at_(2),
        message_id="seg-catalogued",
        **common,
    )
    analytics.track(
        event="add_to_cart",
        properties={"product_id": "p-1", "quantity": "two"},
        timestamp=at_(3),
        message_id="seg-fallback",
        **common,
    )
    analytics.identify(
        user_id="user-1",
        traits={"email": "ana@example.com", "plan": "pro"},
        timestamp=at_(4),
        message_id="seg-identify",
        **common,
    )
    analytics.page(
        category="Docs",
        name="Pricing",
        properties={
            "url": "https://shop.example/pricing?utm_source=newsletter&utm_medium=email",
            "title": "Pricing",
            "referrer": "https://search.example/",
        },
        timestamp=at_(5),
        message_id="seg-page",
        anonymous_id="anon-1",
        context={"campaign": {"name": "spring"}},
    )
    analytics.screen(
        name="Cart", properties={"items": 2}, timestamp=at_(6), message_id="seg-screen", **common
    )
    analytics.alias(
        previous_id="anon-1", user_id="user-1", timestamp=at_(7), message_id="seg-alias"
    )
    analytics.group(
        user_id="user-1",
        group_id="acme",
        traits={"name": "Acme", "employees": 12},
        timestamp=at_(8),
        message_id="seg-group",
    )
    analytics.flush()
    analytics.join()

    sync = Client(key, host=url, sync_mode=True, on_error=on_error)
    sync.track(
        user_id="user-2", event="Signed Out", timestamp=at_(9), message_id="seg-sync", **common
    )
    return errors


@pytest.mark.ray
async def test_segment_client_events_are_stored_with_the_mapping(
    serve_stack: ServeStack, gateway: str, base_settings: Settings, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    errors = await asyncio.to_thread(send_with_segment, gateway, key, at)
    assert errors == []
    keys = ["seg-track", "seg-catalogued", "seg-fallback", "seg-identify", "seg-page"]
    keys += ["seg-screen", "seg-alias", "seg-group", "seg-sync"]
    rows = by_key(await stored_rows(base_settings, app_id, keys=keys))
    assert set(rows) == set(keys)
    start = int(at.timestamp() * 1000)
    for offset, name in enumerate(keys, start=1):
        assert ms(rows[name]["timestamp"]) == start + offset * 1000, name

    tracked = rows["seg-track"]
    assert (tracked["event_type"], tracked["event_category"]) == ("custom", "custom")
    assert tracked["event_name"] == "Order Completed"
    assert (tracked["device_id"], tracked["user_id"]) == ("anon-1", "user-1")
    assert tracked["properties"] == {
        "event_name": "Order Completed",
        "revenue": 19.99,
        "products": '[{"sku":"a"}]',
        "shipping.method": "dhl",
    }
    device = {
        "platform": "ios",
        "os_version": "17.4",
        "app_version": "3.1.0",
        "build_number": "310",
        "device_model": "iPhone15,2",
        "manufacturer": "Apple",
        "screen_width": 390,
        "screen_height": 844,
        "locale": "en-US",
        "timezone": "Europe/Berlin",
        "network_type": "wifi",
        "carrier": "T-Mobile",
    }
    for column, value in device.items():
        assert tracked[column] == value, column
    assert tracked["sdk_version"].startswith("analytics-python/")

    catalogued = rows["seg-catalogued"]
    assert (catalogued["event_type"], catalogued["event_category"]) == ("add_to_cart", "commerce")
    assert catalogued["event_name"] is None
    assert catalogued["properties"]["price_cents"] == 1299

    fallback = rows["seg-fallback"]
    assert (fallback["event_type"], fallback["event_name"]) == ("custom", "add_to_cart")
    assert fallback["properties"]["quantity"] == "two"
    assert fallback["properties"]["$causality_type_error"].startswith("properties.quantity")

    identify = rows["seg-identify"]
    assert (identify["event_type"], identify["event_category"]) == ("profile_update", "user")
    assert identify["user_id"] == "user-1"
    assert identify["properties"] == {"user_id": "user-1", "fields_updated": ["email", "plan"]}

    page = rows["seg-page"]
    assert (page["event_type"], page["platform"]) == ("screen_view", "web")
    assert page["properties"] == {
        "screen_name": "Pricing",
        "screen_class": "Docs",
        "params": {
            "url": "https://shop.example/pricing?utm_source=newsletter&utm_medium=email",
            "path": "/pricing",
            "title": "Pricing",
            "referrer": "https://search.example/",
            "utm_source": "newsletter",
            "utm_medium": "email",
            "utm_campaign": "spring",
        },
    }

    screen = rows["seg-screen"]
    assert (screen["event_type"], screen["platform"]) == ("screen_view", "ios")
    assert screen["properties"] == {"screen_name": "Cart", "params": {"items": 2}}

    alias = rows["seg-alias"]
    assert (alias["event_name"], alias["device_id"], alias["user_id"]) == (
        "alias",
        "anon-1",
        "user-1",
    )
    assert alias["properties"] == {
        "event_name": "alias",
        "previous_id": "anon-1",
        "user_id": "user-1",
    }
    group = rows["seg-group"]
    assert (group["event_name"], group["device_id"]) == ("group", "user-1")
    assert group["properties"] == {
        "event_name": "group",
        "group_id": "acme",
        "traits.name": "Acme",
        "traits.employees": 12,
    }
    assert rows["seg-sync"]["event_name"] == "Signed Out"


# -- raw HTTP ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/track", {"event": "Clicked", "anonymousId": "a"}),
        ("/v1/identify", {"userId": "u", "traits": {"email": "e"}}),
        ("/v1/page", {"anonymousId": "a", "name": "Home", "properties": {"url": "https://x/"}}),
        ("/v1/screen", {"anonymousId": "a", "name": "Home"}),
        ("/v1/alias", {"previousId": "a", "userId": "u"}),
        ("/v1/group", {"userId": "u", "groupId": "g"}),
        ("/v1/track/", {"event": "Clicked", "userId": "u"}),
    ],
)
async def test_single_call_endpoints(
    client: httpx.AsyncClient, app_with_key: tuple[str, str], path: str, message: dict[str, Any]
) -> None:
    _, key = app_with_key
    r = await client.post(path, json={**message, "writeKey": key})
    assert (r.status_code, r.json()) == (200, {"success": True}), r.text


async def test_write_key_as_basic_auth_or_in_the_body(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    r = await client.post("/v1/batch", json={"batch": [track()]}, headers=basic(key))
    assert (r.status_code, r.json()) == (200, {"success": True})
    r = await client.post("/v1/batch", json={"batch": [track()], "writeKey": key})
    assert (r.status_code, r.json()) == (200, {"success": True})
    r = await client.post("/v1/import", json={"batch": [track(writeKey=key)]})
    assert r.status_code == 200
    # a wrong Basic key is refused even when the body names a good one
    r = await client.post(
        "/v1/batch", json={"batch": [track()], "writeKey": key}, headers=basic("ck_nope")
    )
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        ({}, {"batch": [track()]}, "missing_write_key"),
        ({}, {"batch": [track()], "writeKey": "ck_unknown"}, "invalid_write_key"),
        ({}, {"batch": [track()], "writeKey": 12}, "missing_write_key"),
        ({"Authorization": "Basic %%%"}, {"batch": [track()]}, "missing_write_key"),
        ({"Authorization": "Bearer ck_x"}, {"batch": [track()]}, "missing_write_key"),
    ],
)
async def test_bad_write_keys_get_401_in_segment_shape(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], code: str
) -> None:
    r = await client.post("/v1/batch", json=body, headers=headers)
    assert r.status_code == 401
    assert r.json()["success"] is False and r.json()["code"] == code
    assert r.json()["message"]


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b"{not json", {}, 400, "malformed_body"),
        (b"[1, 2]", {}, 400, "malformed_body"),
        (b'{"batch": {"a": 1}}', {}, 400, "malformed_body"),
        (b"", {}, 400, "empty_body"),
        (b"\x1f\x8b garbage", {"Content-Encoding": "gzip"}, 400, "malformed_body"),
        (b'{"batch": []}', {"Content-Encoding": "br"}, 415, "unsupported_encoding"),
    ],
)
async def test_malformed_bodies_get_400_in_segment_shape(
    client: httpx.AsyncClient,
    app_with_key: tuple[str, str],
    content: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    _, key = app_with_key
    r = await client.post("/v1/batch", content=content, headers={**basic(key), **headers})
    assert r.status_code == status, r.text
    assert r.json() == {"success": False, "code": code, "message": r.json()["message"]}


async def test_invalid_events_are_reported_and_valid_ones_kept(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    bad = track(anonymousId=None)
    r = await client.post("/v1/batch", json={"batch": [bad, track()]}, headers=basic(key))
    assert r.status_code == 200
    assert r.json() == {
        "success": True,
        "errors": [
            {
                "index": 0,
                "field": "anonymousId",
                "reason": "either userId or anonymousId is required",
            }
        ],
    }
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    r = await client.post(
        "/v1/batch", json={"batch": [bad, track(timestamp=future)]}, headers=basic(key)
    )
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_request"
    assert [e["field"] for e in r.json()["errors"]] == ["anonymousId", "timestamp_ms"]


async def test_gzip_and_deflate_bodies(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    body = httpx.Request("POST", "/", json={"batch": [track()], "writeKey": key}).content
    for encoding, packed in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
        r = await client.post(
            "/v1/batch",
            content=packed,
            headers={"Content-Encoding": encoding, "Content-Type": "application/json"},
        )
        assert (r.status_code, r.json()) == (200, {"success": True}), encoding


async def test_oversized_bodies_get_413(
    client: httpx.AsyncClient, app_with_key: tuple[str, str], base_settings: Settings
) -> None:
    _, key = app_with_key
    limit = base_settings.max_body_bytes
    r = await client.post("/v1/batch", content=b" " * (limit + 1), headers=basic(key))
    assert r.status_code == 413 and r.json()["code"] == "body_too_large"
    bomb = gzip.compress(b'{"batch": [' + b" " * (limit + 10) + b"]}")
    r = await client.post(
        "/v1/batch", content=bomb, headers={**basic(key), "Content-Encoding": "gzip"}
    )
    assert r.status_code == 413 and r.json()["success"] is False
    many = {"batch": [track() for _ in range(base_settings.max_batch_events + 1)]}
    r = await client.post("/v1/batch", json=many, headers=basic(key))
    assert r.status_code == 413 and r.json()["code"] == "batch_too_large"


async def test_rate_limited_keys_get_429_with_retry_after(
    base_settings: Settings, make_app_with_key: AppWithKeyFactory
) -> None:
    _, key = await make_app_with_key()
    settings = base_settings.replace(rate_limit_events_per_s=1, rate_limit_burst=2)
    with compat_gateway(settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as c:
            statuses = []
            for _ in range(3):
                r = await c.post(
                    "/v1/batch", json={"batch": [track(), track()]}, headers=basic(key)
                )
                statuses.append(r.status_code)
    assert statuses[0] == 200 and statuses[-1] == 429
    assert r.json()["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1


async def test_odd_bodies_never_get_a_500(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    odd: list[Any] = [
        {"batch": [None, 1, "x", [], {}]},
        {"batch": [track(properties="x"), track(context=[1]), track(context={"os": 1})]},
        {"batch": [track(timestamp=True), track(event=""), track(userId={"a": 1})]},
        {"batch": [track(messageId="m" * 1000, anonymousId="a" * 500)]},
        {"batch": [{"type": "page", "anonymousId": "a", "properties": {"url": 5, "path": []}}]},
        {"batch": [track(properties={"deep": {"a": {"b": {"c": {"d": [{"x": 1}]}}}}})]},
        {"batch": [track(properties={"big": 10**40, "neg": -(10**30)})]},
        {"batch": [track(context={"screen": {"width": 1e300, "height": -5}})]},
    ]
    for body in odd:
        r = await client.post("/v1/batch", json=body, headers=basic(key))
        assert r.status_code < 500, (body, r.text)
        assert "success" in r.json()


@pytest.mark.ray
async def test_compat_routes_through_the_serve_gateway(
    gateway_url: str, app_with_key: tuple[str, str]
) -> None:
    """The Serve application mounts the same routes (Segment and PostHog alike)."""
    _, key = app_with_key
    posthog_event = {"event": "x", "distinct_id": "d", "uuid": str(uuid.uuid4())}
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as c:
        r = await c.post("/v1/batch", json={"batch": [track()]}, headers=basic(key))
        assert (r.status_code, r.json()) == (200, {"success": True})
        r = await c.post("/v1/batch", content=b"{", headers=basic(key))
        assert r.status_code == 400 and r.json()["success"] is False
        r = await c.post("/batch/", json={"api_key": key, "batch": [posthog_event]})
        assert (r.status_code, r.json()) == (200, {"status": 1})
        r = await c.post("/i/v1/analytics/events", json={"batch": [posthog_event]})
        assert r.status_code == 401 and r.json()["type"] == "authentication_error"
        r = await c.post("/flags/?v=4", json={})
        assert r.status_code == 200 and r.json()["flags"] == {}
