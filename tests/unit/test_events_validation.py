"""The event contract's validation rules, driven through EventValidator with raw bodies."""

from __future__ import annotations

import json
import uuid
from typing import Any

import msgspec
import pytest

from causality.config import Settings
from causality.events import (
    CATEGORY_OF,
    BatchTooLarge,
    EventValidator,
    MalformedBody,
)
from causality.events.validation import BatchValidation

NOW = 1_750_000_000_000
DAY = 86_400_000
APP = "app_main"

VALIDATOR = EventValidator(backfill_horizon_ms=30 * DAY, max_future_ms=DAY, max_batch_events=1000)

DEVICE_CONTEXT = {
    "platform": "ios",
    "os_version": "17.4.1",
    "app_version": "3.2.0",
    "build_number": "3201",
    "device_model": "iPhone15,2",
    "manufacturer": "Apple",
    "screen_width": 393,
    "screen_height": 852,
    "locale": "en-US",
    "timezone": "America/New_York",
    "network_type": "cellular_5g",
    "carrier": "Verizon",
    "is_jailbroken": False,
    "is_emulator": False,
    "sdk_version": "causality-ios/1.0.0",
}

POINT = {"x": 120.5, "y": 640}

# One realistic payload per catalogued type (and custom); the coverage test below keeps this
# in step with the catalogue.
SAMPLES: dict[str, dict[str, Any]] = {
    "login": {"user_id": "u_42", "method": "email", "is_new_user": False},
    "logout": {"user_id": "u_42", "reason": "user_initiated"},
    "signup": {"user_id": "u_42", "method": "google", "referral_source": "friend_invite"},
    "profile_update": {"user_id": "u_42", "fields_updated": ["avatar", "display_name"]},
    "screen_view": {
        "screen_name": "Pricing",
        "screen_class": "PricingPage",
        "previous_screen": "Home",
        "params": {
            "url": "https://shop.example.com/pricing?utm_source=news",
            "path": "/pricing",
            "title": "Pricing - Shop",
            "referrer": "https://news.example.org/",
            "utm_source": "news",
            "utm_medium": "email",
            "utm_campaign": "spring",
            "utm_term": "plans",
            "utm_content": "hero",
        },
    },
    "screen_exit": {"screen_name": "Pricing", "duration_ms": 15320, "next_screen": "Checkout"},
    "button_tap": {
        "button_id": "buy_now",
        "button_text": "Buy now",
        "screen_name": "Product",
        "coordinates": POINT,
    },
    "swipe": {
        "direction": "left",
        "screen_name": "Gallery",
        "start": {"x": 300, "y": 400},
        "end": {"x": 20, "y": 410},
        "duration_ms": 180,
    },
    "scroll": {
        "screen_name": "Feed",
        "container_id": "main_list",
        "scroll_depth_percent": 72.5,
        "direction": "down",
    },
    "text_input": {
        "field_id": "search",
        "field_type": "search",
        "screen_name": "Home",
        "text_length": 11,
        "input_duration_ms": 4200,
    },
    "long_press": {
        "element_id": "photo_3",
        "screen_name": "Gallery",
        "coordinates": POINT,
        "duration_ms": 900,
    },
    "double_tap": {"element_id": "photo_3", "screen_name": "Gallery", "coordinates": POINT},
    "product_view": {
        "product_id": "sku_123",
        "product_name": "Trail Shoe",
        "category": "shoes",
        "price_cents": 12999,
        "currency": "USD",
        "source": "search",
    },
    "add_to_cart": {
        "product_id": "sku_123",
        "product_name": "Trail Shoe",
        "quantity": 2,
        "price_cents": 12999,
        "currency": "USD",
        "cart_id": "cart_9",
    },
    "remove_from_cart": {
        "product_id": "sku_123",
        "quantity": 1,
        "cart_id": "cart_9",
        "reason": "changed_mind",
    },
    "checkout_start": {
        "cart_id": "cart_9",
        "item_count": 2,
        "total_cents": 25998,
        "currency": "EUR",
    },
    "checkout_step": {
        "cart_id": "cart_9",
        "step_number": 2,
        "step_name": "shipping",
        "step_duration_ms": 30500,
    },
    "purchase_complete": {
        "order_id": "ord_77",
        "cart_id": "cart_9",
        "item_count": 2,
        "total_cents": 25998,
        "currency": "EUR",
        "payment_method": "card",
        "items": [
            {
                "product_id": "sku_123",
                "product_name": "Trail Shoe",
                "quantity": 1,
                "price_cents": 12999,
            },
            {"product_id": "sku_456", "product_name": "Sock", "quantity": 1, "price_cents": 12999},
        ],
    },
    "purchase_failed": {
        "cart_id": "cart_9",
        "error_code": "card_declined",
        "error_message": "Your card was declined.",
        "payment_method": "card",
        "checkout_step": "payment",
    },
    "app_start": {
        "is_cold_start": True,
        "launch_duration_ms": 840,
        "launch_source": "deeplink",
        "deeplink_url": "shop://product/sku_123",
    },
    "app_background": {"foreground_duration_ms": 120000, "current_screen": "Feed"},
    "app_foreground": {"background_duration_ms": 3600000, "resume_screen": "Feed"},
    "app_crash": {
        "crash_type": "NSInvalidArgumentException",
        "crash_message": "unrecognized selector",
        "stack_trace": "0 CoreFoundation 0x1\n1 libobjc 0x2",
        "current_screen": "Checkout",
    },
    "network_change": {"previous_type": "wifi", "current_type": "cellular_4g"},
    "permission_request": {"permission_type": "notifications", "trigger_screen": "Onboarding"},
    "permission_result": {"permission_type": "notifications", "status": "denied_permanently"},
    "memory_warning": {
        "available_memory_bytes": 52_428_800,
        "used_memory_bytes": 1_610_612_736,
        "level": "critical",
    },
    "battery_change": {"battery_level": 15, "state": "discharging"},
    "custom": {
        "event_name": "Video Played",
        "video_id": "v_1",
        "seconds": 12.5,
        "autoplay": True,
        "chapter": None,
        "tags": ["intro", 2, False, None],
    },
}


def envelope(event_type: str = "button_tap", **fields: Any) -> dict[str, Any]:
    """A valid envelope of ``event_type`` with ``fields`` replacing or adding keys."""
    base: dict[str, Any] = {
        "type": event_type,
        "device_id": "dev_8f3a",
        "idempotency_key": str(uuid.uuid4()),
        "timestamp_ms": NOW - 5_000,
        "session_id": "sess_1",
        "device_context": dict(DEVICE_CONTEXT),
        "properties": SAMPLES[event_type],
    }
    base.update(fields)
    return base


def batch(*envelopes: Any) -> bytes:
    """A batch body holding the given envelopes (dicts or any JSON value)."""
    return json.dumps({"events": list(envelopes)}).encode()


def validate(*envelopes: Any) -> BatchValidation:
    return VALIDATOR.validate_batch(batch(*envelopes), app_id=APP, now_ms=NOW)


def only_rejection(result: BatchValidation) -> tuple[str, str]:
    assert result.accepted == []
    assert len(result.rejected) == 1, result.rejected
    rejection = result.rejected[0]
    assert rejection.index == 0
    return rejection.field, rejection.reason


# -- acceptance ------------------------------------------------------------------------------


def test_samples_cover_the_whole_catalogue() -> None:
    assert set(SAMPLES) == set(CATEGORY_OF)


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_every_catalogued_type_is_accepted(event_type: str) -> None:
    result = validate(envelope(event_type))
    assert result.rejected == []
    (event,) = result.accepted
    assert event.event_type == event_type
    assert event.event_category == CATEGORY_OF[event_type]
    assert event.app_id == APP
    assert json.loads(bytes(event.properties)) == SAMPLES[event_type]
    assert event.device_context is not None
    assert msgspec.structs.asdict(event.device_context) == DEVICE_CONTEXT


def test_categories_follow_the_catalogue() -> None:
    assert CATEGORY_OF["purchase_complete"] == "commerce"
    assert CATEGORY_OF["screen_view"] == "screen"
    assert CATEGORY_OF["battery_change"] == "system"
    assert CATEGORY_OF["custom"] == "custom"
    assert len(CATEGORY_OF) == 29


def test_custom_event_takes_its_name_from_properties() -> None:
    (event,) = validate(envelope("custom")).accepted
    assert event.event_category == "custom"
    assert event.event_name == "Video Played"


def test_catalogued_event_has_no_event_name() -> None:
    (event,) = validate(envelope("login")).accepted
    assert event.event_name is None


def test_server_fills_id_idempotency_key_and_times() -> None:
    raw = {"type": "app_start", "device_id": "d1", "received_at_ms": 5}
    (event,) = validate(raw).accepted
    generated = uuid.UUID(event.id)
    assert generated.version == 7
    assert event.idempotency_key == event.id
    assert event.timestamp_ms == NOW
    assert event.received_at_ms == NOW
    assert bytes(event.properties) == b"{}"
    assert event.device_context is None
    assert event.user_id is None


def test_generated_ids_are_unique() -> None:
    result = validate(*[{"type": "app_start", "device_id": "d1"}] * 50)
    assert len({e.id for e in result.accepted}) == 50


def test_client_id_is_kept_in_canonical_form() -> None:
    client_id = "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"
    (event,) = validate(envelope(id=client_id, idempotency_key="k-1")).accepted
    assert event.id == client_id.lower()
    assert event.idempotency_key == "k-1"


def test_identity_fields_are_carried() -> None:
    raw = envelope(user_id="u_42", session_id="s_9", correlation_id="trace-1", app_id=APP)
    (event,) = validate(raw).accepted
    assert (event.user_id, event.session_id, event.correlation_id) == ("u_42", "s_9", "trace-1")


def test_null_optional_fields_count_as_absent() -> None:
    raw = envelope(user_id=None, device_context=None, properties=None, idempotency_key=None)
    (event,) = validate(raw).accepted
    assert event.user_id is None
    assert event.device_context is None
    assert bytes(event.properties) == b"{}"
    assert event.idempotency_key == event.id


def test_unknown_payload_fields_are_kept_verbatim() -> None:
    body = (
        b'{"events":[{"type":"product_view","device_id":"d1","properties":'
        b'{"product_id":"sku_1","price_cents":100,"color":"red","dims":{"w":[1,2]}}}]}'
    )
    (event,) = VALIDATOR.validate_batch(body, app_id=APP, now_ms=NOW).accepted
    assert bytes(event.properties) == (
        b'{"product_id":"sku_1","price_cents":100,"color":"red","dims":{"w":[1,2]}}'
    )


def test_timestamp_limits_are_inclusive() -> None:
    result = validate(envelope(timestamp_ms=NOW + DAY), envelope(timestamp_ms=NOW - 30 * DAY))
    assert result.rejected == []
    assert [e.timestamp_ms for e in result.accepted] == [NOW + DAY, NOW - 30 * DAY]


def test_one_bad_event_does_not_spoil_the_batch() -> None:
    result = validate(envelope(), envelope(type="nope"), envelope(), 42, envelope("custom"))
    assert result.total == 5
    assert result.accepted_indexes == [0, 2, 4]
    assert [r.index for r in result.rejected] == [1, 3]
    assert [r.field for r in result.rejected] == ["type", "event"]


# -- per-event rejections ---------------------------------------------------------------------

LONG = "x" * 129


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        # envelope
        ({"device_id": "d1"}, "type"),
        (envelope(type=7), "type"),
        (envelope(type="page_view"), "type"),
        ({"type": "login"}, "device_id"),
        (envelope(device_id=""), "device_id"),
        (envelope(device_id=LONG), "device_id"),
        (envelope(device_id=123), "device_id"),
        (envelope(app_id="someone_else"), "app_id"),
        (envelope(idempotency_key=""), "idempotency_key"),
        (envelope(idempotency_key=LONG), "idempotency_key"),
        (envelope(id="not-a-uuid"), "id"),
        (envelope(id=12), "id"),
        (envelope(timestamp_ms=True), "timestamp_ms"),
        (envelope(timestamp_ms="1750000000000"), "timestamp_ms"),
        (envelope(timestamp_ms=1.75e12), "timestamp_ms"),
        (envelope(timestamp_ms=NOW + DAY + 1), "timestamp_ms"),
        (envelope(timestamp_ms=NOW - 30 * DAY - 1), "timestamp_ms"),
        (envelope(timestamp_ms=10**30), "timestamp_ms"),
        (envelope(timestamp_ms=-(10**30)), "timestamp_ms"),
        (envelope(user_id="u" * 257), "user_id"),
        (envelope(session_id=5), "session_id"),
        (envelope(correlation_id=["a"]), "correlation_id"),
        (envelope(sent_at=NOW), "sent_at"),
        (envelope(Type="login"), "Type"),
        (envelope(properties=[1, 2]), "properties"),
        (envelope(properties="{}"), "properties"),
        # device context
        (envelope(device_context={"platform": "windows"}), "device_context.platform"),
        (envelope(device_context={"network_type": "5g"}), "device_context.network_type"),
        (envelope(device_context={"screen_width": -1}), "device_context.screen_width"),
        (envelope(device_context={"screen_width": "393"}), "device_context.screen_width"),
        (envelope(device_context={"screen_height": 2**31}), "device_context.screen_height"),
        (envelope(device_context={"is_emulator": "false"}), "device_context.is_emulator"),
        (envelope(device_context={"is_jailbroken": 0}), "device_context.is_jailbroken"),
        (envelope(device_context={"os": "iOS"}), "device_context.os"),
        (envelope(device_context={"locale": "x" * 257}), "device_context.locale"),
        (envelope(device_context=[]), "device_context"),
    ],
)
def test_envelope_rejections_name_the_field(raw: dict[str, Any], field: str) -> None:
    assert only_rejection(validate(raw))[0] == field


def payload(event_type: str, **fields: Any) -> dict[str, Any]:
    return envelope(event_type, properties={**SAMPLES[event_type], **fields})


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (payload("product_view", price_cents="12"), "properties.price_cents"),
        (payload("product_view", price_cents=True), "properties.price_cents"),
        (payload("product_view", price_cents=12.5), "properties.price_cents"),
        (payload("product_view", price_cents=-1), "properties.price_cents"),
        (payload("product_view", price_cents=10**30), "properties.price_cents"),
        (payload("product_view", currency="usd"), "properties.currency"),
        (payload("product_view", currency="USDT"), "properties.currency"),
        (payload("product_view", currency=840), "properties.currency"),
        (payload("product_view", product_id=123), "properties.product_id"),
        (envelope("product_view", properties={"price_cents": 1}), "properties.product_id"),
        (envelope("purchase_complete", properties={}), "properties.order_id"),
        (envelope("add_to_cart", properties=None), "properties.product_id"),
        (payload("add_to_cart", quantity="2"), "properties.quantity"),
        (
            payload("purchase_complete", items=[{"price_cents": 1}, {"price_cents": "x"}]),
            "properties.items[1].price_cents",
        ),
        (payload("purchase_complete", items={"a": 1}), "properties.items"),
        (payload("login", is_new_user="false"), "properties.is_new_user"),
        (payload("profile_update", fields_updated=["a", 1]), "properties.fields_updated[1]"),
        (payload("screen_view", params={"url": 5}), "properties.params.url"),
        (payload("button_tap", coordinates={"x": "1", "y": 2}), "properties.coordinates.x"),
        (payload("button_tap", coordinates={"x": 1}), "properties.coordinates.y"),
        (payload("scroll", scroll_depth_percent=101), "properties.scroll_depth_percent"),
        (payload("scroll", scroll_depth_percent=-0.5), "properties.scroll_depth_percent"),
        (payload("screen_exit", duration_ms=-5), "properties.duration_ms"),
        (payload("text_input", text_length=True), "properties.text_length"),
        (payload("permission_result", status="maybe"), "properties.status"),
        (payload("memory_warning", level="medium"), "properties.level"),
        (payload("battery_change", state="dead"), "properties.state"),
        (payload("battery_change", battery_level=100.5), "properties.battery_level"),
        (payload("battery_change", battery_level=-1), "properties.battery_level"),
        (payload("network_change", current_type="lte"), "properties.current_type"),
        (payload("app_start", is_cold_start=1), "properties.is_cold_start"),
        (payload("purchase_failed", checkout_step=1.5), "properties.checkout_step"),
    ],
)
def test_payload_rejections_name_the_field(raw: dict[str, Any], field: str) -> None:
    assert only_rejection(validate(raw))[0] == field


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"event_name": "x", "meta": {"a": 1}}, "properties.meta"),
        ({"event_name": "x", "tags": [[1]]}, "properties.tags[0]"),
        ({"event_name": "x", "tags": [{"a": 1}]}, "properties.tags[0]"),
        ({"value": 1}, "properties.event_name"),
        ({"event_name": ""}, "properties.event_name"),
        ({"event_name": "n" * 201}, "properties.event_name"),
        ({"event_name": 5}, "properties.event_name"),
        ({"event_name": None}, "properties.event_name"),
        (None, "properties.event_name"),
        (["event_name"], "properties"),
    ],
)
def test_custom_rejections_name_the_property(properties: Any, field: str) -> None:
    raw = envelope("custom", properties=properties)
    assert only_rejection(validate(raw))[0] == field


def test_custom_event_name_limits() -> None:
    name = "n" * 200
    (event,) = validate(envelope("custom", properties={"event_name": name})).accepted
    assert event.event_name == name


@pytest.mark.parametrize(
    ("event_type", "number", "field"),
    [
        ("custom", b"1e400", "properties.n"),
        ("custom", b"-1e999", "properties.n"),
        ("product_view", b"1e400", "properties.price_cents"),
        ("product_view", b"9" * 5000, "properties.price_cents"),
        ("battery_change", b"1e400", "properties.battery_level"),
    ],
)
def test_huge_numbers_in_properties_reject_not_raise(
    event_type: str, number: bytes, field: str
) -> None:
    key = b"n" if event_type == "custom" else field.split(".")[1].encode()
    body = (
        b'{"events":[{"type":"%s","device_id":"d","properties":'
        b'{"event_name":"e","product_id":"p","%s":%s}}]}' % (event_type.encode(), key, number)
    )
    result = VALIDATOR.validate_batch(body, app_id=APP, now_ms=NOW)
    assert only_rejection(result)[0] == field


def test_huge_integer_in_a_custom_property_is_kept() -> None:
    # Arbitrary-precision integers are valid JSON numbers; the raw text is stored untouched.
    body = b'{"events":[{"type":"custom","device_id":"d","properties":{"event_name":"e","n":%s}}]}'
    result = VALIDATOR.validate_batch(body % (b"9" * 50), app_id=APP, now_ms=NOW)
    assert bytes(result.accepted[0].properties).endswith(b"9" * 50 + b"}")


def test_reasons_are_human_readable() -> None:
    cases = {
        "properties.price_cents": payload("product_view", price_cents="12"),
        "sent_at": envelope(sent_at=1),
        "device_id": {"type": "login"},
        "timestamp_ms": envelope(timestamp_ms=NOW + 2 * DAY),
    }
    reasons = {}
    for expected_field, raw in cases.items():
        field, reason = only_rejection(validate(raw))
        assert field == expected_field
        reasons[field] = reason
    assert "`int" in reasons["properties.price_cents"]
    assert "got `str`" in reasons["properties.price_cents"]
    assert reasons["sent_at"] == "unknown field"
    assert reasons["device_id"] == "required field is missing"
    assert "future" in reasons["timestamp_ms"]


def test_moderately_nested_custom_property_is_rejected() -> None:
    deep: Any = 1
    for _ in range(100):
        deep = [deep]
    field, _ = only_rejection(
        validate(envelope("custom", properties={"event_name": "e", "d": deep}))
    )
    assert field == "properties.d[0]"


@pytest.mark.parametrize(
    "junk",
    [None, 0, "event", [], [{"type": "login"}], {"": None}, {"type": None}, {"type": "custom"}],
)
def test_junk_envelopes_are_rejected_without_raising(junk: Any) -> None:
    result = validate(junk, envelope())
    assert result.accepted_indexes == [1]
    assert [r.index for r in result.rejected] == [0]


# -- bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (b"", "body", "malformed_json"),
        (b"not json", "body", "malformed_json"),
        (b'{"events": [', "body", "malformed_json"),
        (b'{"events": []} trailing', "body", "malformed_json"),
        (b'\xff{"events": []}', "body", "malformed_json"),
        (
            '{"events": [{"type": "login", "device_id": "d\udcff"}]}'.encode(
                "utf-8", "surrogatepass"
            ),
            "body",
            "malformed_json",
        ),
        (b"[]", "body", "malformed_body"),
        (b'"events"', "body", "malformed_body"),
        (b"{}", "events", "malformed_body"),
        (b'{"events": {}}', "events", "malformed_body"),
        (b'{"events": null}', "events", "malformed_body"),
        (b'{"events": []}', "events", "malformed_body"),
        (b'{"events": [], "sent_at": 1}', "sent_at", "malformed_body"),
    ],
)
def test_malformed_bodies_raise(body: bytes, field: str, code: str) -> None:
    with pytest.raises(MalformedBody) as info:
        VALIDATOR.validate_batch(body, app_id=APP, now_ms=NOW)
    assert (info.value.field, info.value.code) == (field, code)
    assert info.value.reason


def test_invalid_utf8_hidden_in_an_unknown_payload_field_is_caught() -> None:
    # msgspec skips unknown fields without decoding them; the body check must catch this.
    body = b'{"events":[{"type":"login","device_id":"d","properties":{"extra":"\xc3\x28"}}]}'
    with pytest.raises(MalformedBody) as info:
        VALIDATOR.validate_batch(body, app_id=APP, now_ms=NOW)
    assert info.value.code == "malformed_json"


@pytest.mark.parametrize("depth", [100_000])
def test_deeply_nested_body_is_malformed_not_a_crash(depth: int) -> None:
    for body in (
        b"[" * depth,
        b"[" * depth + b"]" * depth,
        b'{"events":' + b"[" * depth + b"]" * depth + b"}",
        b'{"events":[{"type":"custom","device_id":"d","properties":{"event_name":"e","x":'
        + b"[" * depth
        + b"]" * depth
        + b"}}]}",
        b'{"other":' + b"{" * depth,
    ):
        try:
            result = VALIDATOR.validate_batch(body, app_id=APP, now_ms=NOW)
        except MalformedBody as exc:
            assert exc.field == "body"
        else:
            assert result.accepted == []


def test_batch_limit() -> None:
    event = envelope()
    assert len(validate(*[event] * 1000).accepted) == 1000
    with pytest.raises(BatchTooLarge) as info:
        validate(*[event] * 1001)
    assert (info.value.count, info.value.limit) == (1001, 1000)
    assert (info.value.code, info.value.field) == ("batch_too_large", "events")


def test_validate_single_accepts_one_envelope() -> None:
    body = json.dumps(envelope("custom")).encode()
    result = VALIDATOR.validate_single(body, app_id=APP, now_ms=NOW)
    assert result.total == 1
    assert result.accepted_indexes == [0]
    assert result.accepted[0].event_name == "Video Played"


def test_validate_single_reports_a_bad_event_as_a_rejection() -> None:
    body = json.dumps(envelope(device_id="")).encode()
    result = VALIDATOR.validate_single(body, app_id=APP, now_ms=NOW)
    assert (result.total, result.accepted) == (1, [])
    assert result.rejected[0].field == "device_id"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "malformed_json"),
        (b"\xfe", "malformed_json"),
        (b"[" * 100_000, "malformed_json"),
        (b" [ {} ] ", "malformed_body"),
        (b"null", "malformed_body"),
    ],
)
def test_validate_single_malformed(body: bytes, code: str) -> None:
    with pytest.raises(MalformedBody) as info:
        VALIDATOR.validate_single(body, app_id=APP, now_ms=NOW)
    assert (info.value.field, info.value.code) == ("body", code)


def test_batch_sent_to_the_single_endpoint_is_rejected() -> None:
    result = VALIDATOR.validate_single(batch(envelope()), app_id=APP, now_ms=NOW)
    assert result.accepted == []
    assert result.rejected[0].field == "events"


# -- the validator itself ----------------------------------------------------------------------


def test_validator_refuses_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        EventValidator(backfill_horizon_ms=0, max_future_ms=1, max_batch_events=1)
    with pytest.raises(ValueError):
        EventValidator(backfill_horizon_ms=1, max_future_ms=1, max_batch_events=0)


def test_validator_from_settings() -> None:
    settings = Settings(backfill_horizon_days=2, max_future_skew_s=60, max_batch_events=3)
    validator = EventValidator.from_settings(settings)
    assert validator.backfill_horizon_ms == 2 * DAY
    assert validator.max_future_ms == 60_000
    with pytest.raises(BatchTooLarge):
        validator.validate_batch(batch(*[envelope()] * 4), app_id=APP, now_ms=NOW)
    result = validator.validate_batch(
        batch(envelope(timestamp_ms=NOW + 61_000), envelope(timestamp_ms=NOW - 3 * DAY)),
        app_id=APP,
        now_ms=NOW,
    )
    assert [r.field for r in result.rejected] == ["timestamp_ms", "timestamp_ms"]
