"""The gateway's answers to bad input: every problem a 4xx with a JSON error naming it, never a 500.

Most tests run against the Starlette app under plain uvicorn (fast, started once per module);
a representative subset is parametrized over the real Ray Serve application too, so the Serve
proxy path (body streaming, early answers, error rendering) is proven as well.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from causality.bus.connection import open_connection
from causality.config import Settings
from causality.gateway.app import build_gateway_app
from causality.store.api_keys import list_keys, revoke_key
from tests.conftest import AppWithKeyFactory
from tests.helpers import envelope, serve_in_thread, wait_for

pytestmark = [pytest.mark.integration]

INGEST = "/api/v1/events/ingest"
BATCH = "/api/v1/events/batch"
MAX_BODY = 5 * 1024 * 1024
DAY_MS = 86_400_000
_MISSING: Any = object()


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uvicorn_gateway(base_settings: Settings) -> Iterator[str]:
    """The gateway app under plain uvicorn in a thread, with the session's settings."""
    assert base_settings.max_body_bytes == MAX_BODY
    assert base_settings.max_batch_events == 1000
    with serve_in_thread(build_gateway_app(base_settings)) as url:
        yield url


@pytest.fixture(
    params=[pytest.param("uvicorn"), pytest.param("serve", marks=pytest.mark.ray)],
)
def any_gateway(request: pytest.FixtureRequest) -> str:
    """Base URL of the uvicorn gateway or of the Serve application's gateway."""
    if request.param == "serve":
        return str(request.getfixturevalue("gateway_url"))
    return str(request.getfixturevalue("uvicorn_gateway"))


@pytest.fixture(scope="module")
def rate_limited_gateway(base_settings: Settings) -> Iterator[str]:
    """A separate gateway allowing 5 events/s with bursts of 10 per key."""
    settings = base_settings.replace(rate_limit_events_per_s=5, rate_limit_burst=10)
    with serve_in_thread(build_gateway_app(settings)) as url:
        yield url


@pytest.fixture
async def client(uvicorn_gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=uvicorn_gateway, timeout=30) as c:
        yield c


@pytest.fixture
async def any_client(any_gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=any_gateway, timeout=60) as c:
        yield c


# -- helpers ------------------------------------------------------------------------------------


def assert_error(
    r: httpx.Response, status: int, code: str, field: str | None = _MISSING
) -> dict[str, Any]:
    """The response is ``status`` with a JSON error of ``code`` (and ``field``, when given)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    error = body["error"]
    assert error["code"] == code, body
    assert isinstance(error["message"], str) and error["message"], body
    if field is not _MISSING:
        assert error.get("field") == field, body
    return body


def now_ms() -> int:
    return int(time.time() * 1000)


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def key_headers(key: str, **extra: str) -> dict[str, str]:
    return {"X-API-Key": key, "Content-Type": "application/json", **extra}


async def count_published(settings: Settings, app_id: str) -> int:
    """How many messages the events stream holds for one app."""
    assert settings.nats_url is not None
    async with open_connection(settings.nats_url, name="test-gateway-input") as nc:
        info = await nc.jetstream().stream_info(
            settings.stream_name, subjects_filter=f"events.{app_id}.>"
        )
    return sum((info.state.subjects or {}).values())


async def raw_http(base_url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes over a fresh connection; parse the (non-chunked) response."""
    parts = urlsplit(base_url)
    assert parts.hostname is not None and parts.port is not None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        body = await asyncio.wait_for(
            reader.readexactly(int(headers.get("content-length", "0"))), timeout=30
        )
    finally:
        writer.close()
    return status, headers, body


# -- one bad event per case: (id, builder(now_ms, app_id) -> envelope, field, reason fragment) --

EventCase = tuple[str, Callable[[int, str], dict[str, Any]], str, str]


def _without(name: str) -> Callable[[int, str], dict[str, Any]]:
    def build(now: int, app_id: str) -> dict[str, Any]:
        event = envelope(timestamp_ms=now)
        del event[name]
        return event

    return build


BAD_EVENTS: list[EventCase] = [
    ("missing_device_id", _without("device_id"), "device_id", "required field is missing"),
    ("missing_type", _without("type"), "type", "required field is missing"),
    ("device_id_number", lambda n, a: envelope(device_id=12345), "device_id", "got `int`"),
    ("device_id_empty", lambda n, a: envelope(device_id=""), "device_id", "length"),
    ("device_id_129_chars", lambda n, a: envelope(device_id="d" * 129), "device_id", "length"),
    ("unknown_type", lambda n, a: envelope(type="teleport"), "type", "unknown event type"),
    ("type_number", lambda n, a: envelope(type=7), "type", "got `int`"),
    (
        "timestamp_string",
        lambda n, a: envelope(timestamp_ms=str(n)),
        "timestamp_ms",
        "got `str`",
    ),
    ("timestamp_bool", lambda n, a: envelope(timestamp_ms=True), "timestamp_ms", "got `bool`"),
    (
        "timestamp_float",
        lambda n, a: envelope(timestamp_ms=n + 0.5),
        "timestamp_ms",
        "got `float`",
    ),
    (
        "timestamp_25h_future",
        lambda n, a: envelope(timestamp_ms=n + 25 * 3_600_000),
        "timestamp_ms",
        "in the future",
    ),
    (
        "timestamp_year_33000",
        lambda n, a: envelope(timestamp_ms=10**15),
        "timestamp_ms",
        "in the future",
    ),
    (
        "timestamp_beyond_int64",
        lambda n, a: envelope(timestamp_ms=2**70),
        "timestamp_ms",
        "",
    ),
    (
        "timestamp_beyond_backfill",
        lambda n, a: envelope(timestamp_ms=n - 366 * DAY_MS),
        "timestamp_ms",
        "backfill horizon",
    ),
    ("timestamp_zero", lambda n, a: envelope(timestamp_ms=0), "timestamp_ms", "backfill horizon"),
    (
        "timestamp_negative",
        lambda n, a: envelope(timestamp_ms=-(2**62)),
        "timestamp_ms",
        "backfill horizon",
    ),
    (
        "price_cents_string",
        lambda n, a: envelope(
            type="product_view", properties={"product_id": "p-1", "price_cents": "12"}
        ),
        "properties.price_cents",
        "got `str`",
    ),
    (
        "price_cents_negative",
        lambda n, a: envelope(
            type="product_view", properties={"product_id": "p-1", "price_cents": -1}
        ),
        "properties.price_cents",
        ">= 0",
    ),
    (
        "product_id_missing",
        lambda n, a: envelope(type="product_view", properties={"price_cents": 1}),
        "properties.product_id",
        "required field is missing",
    ),
    ("properties_string", lambda n, a: envelope(properties="home"), "properties", "object"),
    ("properties_array", lambda n, a: envelope(properties=[1, 2]), "properties", "object"),
    ("properties_number", lambda n, a: envelope(properties=3), "properties", "object"),
    (
        "custom_properties_string",
        lambda n, a: envelope(type="custom", properties="x"),
        "properties",
        "object",
    ),
    (
        "custom_without_event_name",
        lambda n, a: envelope(type="custom", properties={"seconds": 1}),
        "properties.event_name",
        "required",
    ),
    (
        "custom_nested_object",
        lambda n, a: envelope(type="custom", properties={"event_name": "e", "deep": {"a": 1}}),
        "properties.deep",
        "flat lists",
    ),
    (
        "permission_status_not_in_enum",
        lambda n, a: envelope(
            type="permission_result", properties={"permission_type": "camera", "status": "maybe"}
        ),
        "properties.status",
        "maybe",
    ),
    (
        "platform_not_in_enum",
        lambda n, a: envelope(device_context={"platform": "symbian"}),
        "device_context.platform",
        "symbian",
    ),
    ("device_context_string", lambda n, a: envelope(device_context="ios"), "device_context", ""),
    ("id_not_uuid", lambda n, a: envelope(id="not-a-uuid"), "id", "UUID"),
    (
        "app_id_of_another_app",
        lambda n, a: envelope(app_id=a + "-other"),
        "app_id",
        "API key",
    ),
    ("unknown_envelope_field", lambda n, a: envelope(colour="red"), "colour", "unknown field"),
]


# -- smoke subset over both the uvicorn and the Serve gateway -----------------------------------


async def test_malformed_json_is_400(
    any_client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    for path in (INGEST, BATCH):
        r = await any_client.post(path, content=b'{"events": [', headers=key_headers(key))
        body = assert_error(r, 400, "malformed_json", "body")
        assert "not valid JSON" in body["error"]["message"]


async def test_missing_api_key_is_401(any_client: httpx.AsyncClient) -> None:
    r = await any_client.post(BATCH, json={"events": [envelope()]})
    assert_error(r, 401, "missing_api_key", "X-API-Key")


async def test_batch_with_a_rejection_is_202_with_its_index(
    any_client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    events = [envelope(), envelope(type="teleport"), envelope()]
    r = await any_client.post(BATCH, json={"events": events}, headers={"X-API-Key": key})
    assert r.status_code == 202, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0 and body["rejected"] == 1, body
    [error] = body["errors"]
    assert error["index"] == 1 and error["field"] == "type", body
    assert "teleport" in error["reason"]


async def test_body_over_5_mb_is_413(
    any_client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    r = await any_client.post(BATCH, content=b" " * (MAX_BODY + 1), headers=key_headers(key))
    assert_error(r, 413, "body_too_large", "body")


async def test_health_and_ready(any_client: httpx.AsyncClient) -> None:
    r = await any_client.get("/health")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"status": "ok"}
    r = await any_client.get("/ready")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == {"status": "ready", "checks": {"nats": True, "postgres": True}}


# -- malformed bodies ---------------------------------------------------------------------------


MALFORMED_BODIES = [
    ("batch_not_json", BATCH, b"not json", "malformed_json", "body"),
    ("batch_unclosed", BATCH, b'{"events": [}', "malformed_json", "body"),
    ("batch_trailing_bytes", BATCH, b'{"events": []} trailing', "malformed_json", "body"),
    ("batch_not_utf8", BATCH, b'\xff{"events": []}', "malformed_json", "body"),
    ("batch_whitespace_only", BATCH, b"   ", "malformed_json", "body"),
    ("batch_is_array", BATCH, b"[1, 2]", "malformed_body", "body"),
    ("batch_is_string", BATCH, b'"events"', "malformed_body", "body"),
    ("batch_without_events", BATCH, b"{}", "malformed_body", "events"),
    ("batch_no_events", BATCH, b'{"events": []}', "malformed_body", "events"),
    ("batch_events_object", BATCH, b'{"events": {"type": "login"}}', "malformed_body", "events"),
    ("batch_extra_key", BATCH, b'{"events": [], "extra": 1}', "malformed_body", "extra"),
    ("batch_nested_too_deep", BATCH, b"[" * 100_000, "malformed_json", "body"),
    ("single_not_json", INGEST, b"not json", "malformed_json", "body"),
    ("single_truncated", INGEST, b'{"type": "login",', "malformed_json", "body"),
    ("single_not_utf8", INGEST, b"\xc3\x28", "malformed_json", "body"),
    ("single_is_array", INGEST, b"[]", "malformed_body", "body"),
    ("single_is_number", INGEST, b"42", "malformed_body", "body"),
    ("single_is_null", INGEST, b"null", "malformed_body", "body"),
    ("single_nested_too_deep", INGEST, b"[" * 100_000, "malformed_json", "body"),
]


@pytest.mark.parametrize(
    ("path", "content", "code", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in MALFORMED_BODIES],
)
async def test_malformed_bodies(
    client: httpx.AsyncClient,
    app_with_key: tuple[str, str],
    path: str,
    content: bytes,
    code: str,
    field: str,
) -> None:
    _, key = app_with_key
    r = await client.post(path, content=content, headers=key_headers(key))
    assert_error(r, 400, code, field)


async def test_deeply_nested_json_is_400_not_500(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    deep = b"[" * 50_000 + b"]" * 50_000
    custom = b'{"type": "custom", "device_id": "d", "properties": {"event_name": "e", "n": %s}}'
    typed = b'{"type": "screen_view", "device_id": "d", "properties": {"n": %s}}'
    for path, content in [
        (BATCH, b'{"events": [' + custom % deep + b"]}"),
        (BATCH, b'{"events": [' + typed % deep + b"]}"),
        (INGEST, custom % deep),
        (INGEST, typed % deep),
    ]:
        r = await client.post(path, content=content, headers=key_headers(key))
        body = assert_error(r, 400, "malformed_json", "body")
        assert "nested too deeply" in body["error"]["message"]


async def test_empty_body_is_400(client: httpx.AsyncClient, app_with_key: tuple[str, str]) -> None:
    _, key = app_with_key
    for path in (INGEST, BATCH):
        r = await client.post(path, content=b"", headers=key_headers(key))
        assert_error(r, 400, "empty_body", "body")


# -- one bad event, on the single and the batch route ------------------------------------------


@pytest.mark.parametrize(
    ("build", "field", "reason"),
    [case[1:] for case in BAD_EVENTS],
    ids=[case[0] for case in BAD_EVENTS],
)
async def test_invalid_single_event_is_400_naming_its_field(
    client: httpx.AsyncClient,
    app_with_key: tuple[str, str],
    build: Callable[[int, str], dict[str, Any]],
    field: str,
    reason: str,
) -> None:
    app_id, key = app_with_key
    r = await client.post(INGEST, content=dumps(build(now_ms(), app_id)), headers=key_headers(key))
    body = assert_error(r, 400, "invalid_event", field)
    assert reason in body["error"]["message"], body


async def test_mixed_batch_reports_every_rejection_by_index(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    now = now_ms()
    events: list[dict[str, Any]] = []
    expected: list[tuple[int, str, str]] = []
    for case_id, build, field, reason in BAD_EVENTS:
        events.append(envelope(timestamp_ms=now - 1000, properties={"screen_name": case_id}))
        expected.append((len(events), field, reason))
        events.append(build(now, app_id))
    events.append(envelope(type="custom", properties={"event_name": "ok", "tags": ["a", 1]}))
    r = await client.post(BATCH, json={"events": events}, headers={"X-API-Key": key})
    assert r.status_code == 202, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["accepted"] == len(BAD_EVENTS) + 1, body
    assert body["duplicates"] == 0
    assert body["rejected"] == len(BAD_EVENTS)
    got = [(e["index"], e["field"]) for e in body["errors"]]
    assert got == [(index, field) for index, field, _ in expected]
    for error, (_, _, reason) in zip(body["errors"], expected, strict=True):
        assert reason in error["reason"], error


async def test_all_invalid_batch_is_400_with_per_event_errors(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    events = [
        envelope(type="teleport"),
        {k: v for k, v in envelope().items() if k != "device_id"},
        envelope(app_id=app_id + "-other"),
    ]
    r = await client.post(BATCH, json={"events": events}, headers={"X-API-Key": key})
    body = assert_error(r, 400, "all_events_rejected", "events")
    assert body["accepted"] == 0 and body["duplicates"] == 0 and body["rejected"] == 3, body
    assert [(e["index"], e["field"]) for e in body["errors"]] == [
        (0, "type"),
        (1, "device_id"),
        (2, "app_id"),
    ]
    assert all(e["reason"] for e in body["errors"])


async def test_batch_of_1001_events_is_413_naming_events(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    r = await client.post(
        BATCH, json={"events": [envelope() for _ in range(1001)]}, headers={"X-API-Key": key}
    )
    body = assert_error(r, 413, "batch_too_large", "events")
    assert "1001" in body["error"]["message"] and "1000" in body["error"]["message"]


async def test_batch_of_1000_events_is_accepted(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    r = await client.post(
        BATCH, json={"events": [envelope() for _ in range(1000)]}, headers={"X-API-Key": key}
    )
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 1000, "duplicates": 0, "rejected": 0, "errors": []}


async def test_single_event_answers_its_id(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    r = await client.post(INGEST, json=envelope(), headers={"X-API-Key": key})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 1 and body["rejected"] == 0 and body["errors"] == []
    assert uuid.UUID(body["id"]).version == 7


# -- body size, encodings and media types -------------------------------------------------------


async def test_declared_content_length_over_limit_is_413_before_reading(
    uvicorn_gateway: str, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    host = urlsplit(uvicorn_gateway).netloc
    status, headers, body = await raw_http(
        uvicorn_gateway,
        (
            f"POST {BATCH} HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n"
        ).encode(),
    )
    assert status == 413, body
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["code"] == "body_too_large" and error["field"] == "body"


async def test_streamed_body_without_content_length_is_cut_at_the_limit(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        chunk = b'{"events": [' + b" " * (64 * 1024 - 12)
        while sent < 2 * MAX_BODY:
            sent += len(chunk)
            yield chunk
            chunk = b" " * (64 * 1024)

    r = await client.post(BATCH, content=chunks(), headers=key_headers(key))
    assert "content-length" not in r.request.headers
    assert r.request.headers["transfer-encoding"] == "chunked"
    assert_error(r, 413, "body_too_large", "body")


async def test_streamed_small_body_is_accepted(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    payload = dumps({"events": [envelope(), envelope()]})

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 7):
            yield payload[i : i + 7]

    r = await client.post(BATCH, content=chunks(), headers=key_headers(key))
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 2


async def test_gzip_body_is_accepted(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    _, key = app_with_key
    payload = gzip.compress(dumps({"events": [envelope(), envelope(), envelope()]}))
    r = await client.post(
        BATCH, content=payload, headers=key_headers(key, **{"Content-Encoding": "gzip"})
    )
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 3, "duplicates": 0, "rejected": 0, "errors": []}


async def test_gzip_bomb_is_413(client: httpx.AsyncClient, app_with_key: tuple[str, str]) -> None:
    _, key = app_with_key
    inner = dumps({"events": [envelope()]})[:-2] + b" " * (2 * MAX_BODY) + b"]}"
    bomb = gzip.compress(inner, compresslevel=9)
    assert len(bomb) < 64 * 1024  # small on the wire, 10 MB once inflated
    r = await client.post(
        BATCH, content=bomb, headers=key_headers(key, **{"Content-Encoding": "gzip"})
    )
    body = assert_error(r, 413, "body_too_large", "body")
    assert "decompression" in body["error"]["message"]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"this is not gzip at all", id="not_gzip"),
        pytest.param(os.urandom(2048), id="random_bytes"),
        pytest.param(gzip.compress(b'{"events": []}' * 100)[:40], id="truncated"),
        pytest.param(
            (lambda z: z[:20] + bytes([z[20] ^ 0xFF]) + z[21:])(gzip.compress(b"x" * 1000)),
            id="flipped_byte",
        ),
    ],
)
async def test_corrupt_gzip_is_400(
    client: httpx.AsyncClient, app_with_key: tuple[str, str], content: bytes
) -> None:
    _, key = app_with_key
    r = await client.post(
        BATCH, content=content, headers=key_headers(key, **{"Content-Encoding": "gzip"})
    )
    assert_error(r, 400, "malformed_gzip", "body")


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "compress"])
async def test_unsupported_content_encoding_is_415(
    client: httpx.AsyncClient, app_with_key: tuple[str, str], encoding: str
) -> None:
    _, key = app_with_key
    r = await client.post(
        BATCH,
        content=dumps({"events": [envelope()]}),
        headers=key_headers(key, **{"Content-Encoding": encoding}),
    )
    assert_error(r, 415, "unsupported_encoding", "Content-Encoding")


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data; boundary=xyz",
        "application/x-www-form-urlencoded",
        "application/xml",
        "application/octet-stream",
    ],
)
async def test_unsupported_content_type_is_415(
    client: httpx.AsyncClient, app_with_key: tuple[str, str], content_type: str
) -> None:
    _, key = app_with_key
    r = await client.post(
        BATCH,
        content=dumps({"events": [envelope()]}),
        headers={"X-API-Key": key, "Content-Type": content_type},
    )
    assert_error(r, 415, "unsupported_media_type", "Content-Type")


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "text/plain", None]
)
async def test_json_and_text_plain_content_types_are_accepted(
    client: httpx.AsyncClient, app_with_key: tuple[str, str], content_type: str | None
) -> None:
    _, key = app_with_key
    headers = {"X-API-Key": key}
    if content_type is not None:
        headers["Content-Type"] = content_type
    r = await client.post(BATCH, content=dumps({"events": [envelope()]}), headers=headers)
    assert r.status_code == 202, r.text


# -- API keys -----------------------------------------------------------------------------------


async def test_missing_api_key_on_single_route_is_401(client: httpx.AsyncClient) -> None:
    r = await client.post(INGEST, json=envelope())
    assert_error(r, 401, "missing_api_key", "X-API-Key")
    r = await client.post(INGEST, json=envelope(), headers={"X-API-Key": ""})
    assert_error(r, 401, "missing_api_key", "X-API-Key")


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("ck_" + "A" * 43, id="well_formed_unknown"),
        pytest.param("not-a-causality-key", id="wrong_prefix"),
        pytest.param("ck_" + "x" * 300, id="too_long"),
    ],
)
async def test_unknown_api_key_is_401(client: httpx.AsyncClient, key: str) -> None:
    r = await client.post(BATCH, json={"events": [envelope()]}, headers={"X-API-Key": key})
    assert_error(r, 401, "invalid_api_key", "X-API-Key")


async def test_revoked_key_is_401_after_the_cache_ttl(
    client: httpx.AsyncClient,
    base_settings: Settings,
    pg_pool: asyncpg.Pool,
    app_with_key: tuple[str, str],
) -> None:
    assert base_settings.api_key_cache_ttl_s == 0.5
    app_id, key = app_with_key
    r = await client.post(INGEST, json=envelope(), headers={"X-API-Key": key})
    assert r.status_code == 202, r.text  # the key is now cached as valid
    [stored] = await list_keys(pg_pool, app_id=app_id)
    assert await revoke_key(pg_pool, key_id=stored.id)
    revoked_at = time.monotonic()

    async def refused() -> httpx.Response | None:
        r = await client.post(INGEST, json=envelope(), headers={"X-API-Key": key})
        return r if r.status_code == 401 else None

    r = await wait_for(refused, timeout=10, interval=0.1)
    assert time.monotonic() - revoked_at < 5
    assert_error(r, 401, "invalid_api_key", "X-API-Key")
    # and it stays refused on the query-parameter path too
    r = await client.post(BATCH, params={"api_key": key}, json={"events": [envelope()]})
    assert_error(r, 401, "invalid_api_key", "X-API-Key")


async def test_api_key_query_parameter_is_accepted(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    """navigator.sendBeacon sets no headers: key in the query, body as text/plain."""
    _, key = app_with_key
    r = await client.post(
        BATCH,
        params={"api_key": key},
        content=dumps({"events": [envelope(), envelope()]}),
        headers={"Content-Type": "text/plain;charset=UTF-8"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["accepted"] == 2
    r = await client.post(INGEST, params={"api_key": "ck_" + "B" * 43}, json=envelope())
    assert_error(r, 401, "invalid_api_key", "X-API-Key")


async def test_auth_is_checked_before_the_body(client: httpx.AsyncClient) -> None:
    r = await client.post(BATCH, content=b"not json", headers={"Content-Type": "application/json"})
    assert_error(r, 401, "missing_api_key", "X-API-Key")


# -- routing, CORS, probes, metrics -------------------------------------------------------------


async def test_unknown_path_is_404_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nothing-here")
    assert_error(r, 404, "not_found")
    r = await client.post("/api/v1/events/ingestt", json=envelope())
    assert_error(r, 404, "not_found")


@pytest.mark.parametrize("path", [INGEST, BATCH])
async def test_get_on_an_ingest_route_is_405_json(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["allow"]
    r = await client.put(path, json=envelope())
    assert_error(r, 405, "method_not_allowed")


async def test_post_on_health_is_405_json(client: httpx.AsyncClient) -> None:
    r = await client.post("/health")
    assert_error(r, 405, "method_not_allowed")


@pytest.mark.parametrize("path", [INGEST, BATCH])
async def test_cors_preflight_allows_the_sdk_headers(client: httpx.AsyncClient, path: str) -> None:
    r = await client.options(
        path,
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, content-encoding, x-api-key",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] in ("*", "https://shop.example")
    assert "POST" in r.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"content-type", "content-encoding", "x-api-key"} <= allowed
    assert r.headers["access-control-max-age"] == "86400"


async def test_cross_origin_errors_are_readable_by_the_browser(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(BATCH, json={"events": [envelope()]}, headers={"Origin": "https://a.b"})
    assert_error(r, 401, "missing_api_key", "X-API-Key")
    assert r.headers["access-control-allow-origin"] in ("*", "https://a.b")


async def test_metrics_count_an_accepted_event(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    app_id, key = app_with_key
    r = await client.post(INGEST, json=envelope(), headers={"X-API-Key": key})
    assert r.status_code == 202, r.text
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert f'causality_events_ingested_total{{app_id="{app_id}"}} 1.0' in r.text.splitlines()
    assert re.search(
        r'^causality_ingest_requests_total\{route="ingest",status="202"\} ', r.text, re.M
    )


async def test_rejection_metric_labels_are_bounded(
    client: httpx.AsyncClient, app_with_key: tuple[str, str]
) -> None:
    """A client must not be able to mint Prometheus label values (unbounded memory)."""
    _, key = app_with_key
    names = [f"field_{uuid.uuid4().hex}" for _ in range(3)]
    events = [envelope(**{name: 1}) for name in names]
    r = await client.post(BATCH, json={"events": events}, headers={"X-API-Key": key})
    body = assert_error(r, 400, "all_events_rejected", "events")
    assert [e["field"] for e in body["errors"]] == names
    metrics = (await client.get("/metrics")).text
    assert "causality_events_rejected_total" in metrics
    for name in names:
        assert name not in metrics, f"client-chosen field name {name} became a metric label"


# -- rate limit ---------------------------------------------------------------------------------


async def test_rate_limit_answers_429_and_publishes_nothing(
    rate_limited_gateway: str,
    base_settings: Settings,
    make_app_with_key: AppWithKeyFactory,
) -> None:
    app_id, key = await make_app_with_key()
    async with httpx.AsyncClient(base_url=rate_limited_gateway, timeout=30) as client:
        first = await client.post(
            BATCH, json={"events": [envelope() for _ in range(10)]}, headers={"X-API-Key": key}
        )
        refused = [envelope() for _ in range(10)]  # 2 s of refill away
        second = await client.post(BATCH, json={"events": refused}, headers={"X-API-Key": key})
    assert first.status_code == 202, first.text
    assert first.json()["accepted"] == 10
    assert_error(second, 429, "rate_limited", "X-API-Key")
    retry_after = second.headers["retry-after"]
    assert re.fullmatch(r"[1-9][0-9]*", retry_after), retry_after
    assert int(retry_after) <= 2
    assert await count_published(base_settings, app_id) == 10


async def test_rate_limit_is_per_key(
    rate_limited_gateway: str, make_app_with_key: AppWithKeyFactory
) -> None:
    _, greedy = await make_app_with_key()
    _, polite = await make_app_with_key()
    async with httpx.AsyncClient(base_url=rate_limited_gateway, timeout=30) as client:
        batch = {"events": [envelope() for _ in range(10)]}
        assert (
            await client.post(BATCH, json=batch, headers={"X-API-Key": greedy})
        ).status_code == 202
        r = await client.post(
            BATCH, json={"events": [envelope() for _ in range(10)]}, headers={"X-API-Key": greedy}
        )
        assert_error(r, 429, "rate_limited", "X-API-Key")
        r = await client.post(INGEST, json=envelope(), headers={"X-API-Key": polite})
        assert r.status_code == 202, r.text


async def test_rate_limited_answer_exposes_retry_after_to_browsers(
    rate_limited_gateway: str, make_app_with_key: AppWithKeyFactory
) -> None:
    """A browser SDK can only read Retry-After cross-origin if the gateway exposes it."""
    _, key = await make_app_with_key()
    headers = {"X-API-Key": key, "Origin": "https://shop.example"}
    async with httpx.AsyncClient(base_url=rate_limited_gateway, timeout=30) as client:
        r = await client.post(
            BATCH, json={"events": [envelope() for _ in range(10)]}, headers=headers
        )
        assert r.status_code == 202, r.text
        r = await client.post(
            BATCH, json={"events": [envelope() for _ in range(10)]}, headers=headers
        )
    assert_error(r, 429, "rate_limited", "X-API-Key")
    assert r.headers["access-control-allow-origin"] in ("*", "https://shop.example")
    exposed = {
        h.strip().lower() for h in r.headers.get("access-control-expose-headers", "").split(",")
    }
    assert "retry-after" in exposed, r.headers
