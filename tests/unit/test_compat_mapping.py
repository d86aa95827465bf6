"""The Segment and PostHog mappings as pure functions (docs/compat.md is the spec), and the
payload decoding of the compatibility endpoints."""

from __future__ import annotations

import base64
import gzip
import zlib
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from causality.events.validation import EventValidator
from causality.gateway.compat.body import decompress, parse_json
from causality.gateway.compat.envelope import TYPE_ERROR_PROPERTY, with_type_error
from causality.gateway.compat.posthog_mapping import map_event
from causality.gateway.compat.segment_mapping import map_message
from causality.gateway.compat.values import MappingError, flatten, idempotency_key, timestamp_ms
from causality.gateway.errors import ApiError

NOW_MS = 1_760_000_000_000
VALIDATOR = EventValidator(
    backfill_horizon_ms=10**13, max_future_ms=86_400_000, max_batch_events=1000
)


def validates(envelope: dict[str, Any]) -> bool:
    body = msgspec.json.encode({"events": [envelope]})
    result = VALIDATOR.validate_batch(body, app_id="app", now_ms=NOW_MS)
    assert not result.rejected, result.rejected
    return True


# -- values ------------------------------------------------------------------------------------


def test_flatten_makes_custom_properties_flat() -> None:
    nested = {
        "a": {"b": {"c": {"d": 1}}},
        "tags": ["x", 1, True, None],
        "items": [{"id": 1}],
        "big": 2**70,
        "empty": {},
    }
    assert flatten(nested) == {
        "a.b.c": '{"d":1}',
        "tags": ["x", 1, True, None],
        "items": '[{"id":1}]',
        "big": str(2**70),
    }


def test_timestamps() -> None:
    assert timestamp_ms("2024-05-01T10:00:00.123Z", field="t") == 1_714_557_600_123
    assert timestamp_ms("2024-05-01T12:00:00.123+02:00", field="t") == 1_714_557_600_123
    assert timestamp_ms("2024-05-01T10:00:00.123", field="t") == 1_714_557_600_123
    assert timestamp_ms(1_714_557_600_123, field="t") == 1_714_557_600_123
    assert timestamp_ms(None, field="t") is None
    with pytest.raises(MappingError) as caught:
        timestamp_ms("yesterday", field="timestamp")
    assert caught.value.field == "timestamp"


def test_long_idempotency_keys_are_hashed() -> None:
    assert idempotency_key("m-1") == "m-1"
    assert idempotency_key(42) == "42"
    long = idempotency_key("x" * 500)
    assert long is not None and long.startswith("sha256:") and len(long) <= 128


# -- Segment -----------------------------------------------------------------------------------

SEGMENT_CONTEXT = {
    "library": {"name": "analytics-python", "version": "2.4.0"},
    "os": {"name": "iOS", "version": "17.4"},
    "app": {"version": "3.1.0", "build": 310},
    "device": {"model": "iPhone15,2", "manufacturer": "Apple", "id": "hw-1"},
    "screen": {"width": 390, "height": 844.0},
    "network": {"wifi": True, "carrier": "T-Mobile"},
    "locale": "en-US",
    "timezone": "Europe/Berlin",
    "ip": "203.0.113.9",
}


def test_segment_track_is_a_custom_event_with_every_envelope_field() -> None:
    mapped = map_message(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": 42,
            "anonymousId": "anon-1",
            "messageId": "msg-1",
            "timestamp": "2025-10-09T08:00:00.000Z",
            "context": {**SEGMENT_CONTEXT, "sessionId": 1234},
            "properties": {"revenue": 9.5, "coupon": {"code": "X"}},
        }
    )
    assert mapped.fallback is None
    assert mapped.envelope == {
        "type": "custom",
        "device_id": "anon-1",
        "user_id": "42",
        "session_id": "1234",
        "idempotency_key": "msg-1",
        "timestamp_ms": 1_759_996_800_000,
        "device_context": {
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
            "sdk_version": "analytics-python/2.4.0",
        },
        "properties": {"event_name": "Order Completed", "revenue": 9.5, "coupon.code": "X"},
    }
    assert validates(mapped.envelope)


def test_segment_track_of_a_catalogued_name_keeps_a_custom_fallback() -> None:
    mapped = map_message(
        {"event": "add_to_cart", "anonymousId": "a", "properties": {"product_id": "p-1"}},
        call="track",
    )
    assert mapped.envelope["type"] == "add_to_cart"
    assert mapped.envelope["properties"] == {"product_id": "p-1"}
    assert mapped.fallback is not None and mapped.fallback["type"] == "custom"
    fallback = with_type_error(mapped.fallback, "properties.quantity", "Expected `int`")
    assert fallback["properties"][TYPE_ERROR_PROPERTY] == "properties.quantity: Expected `int`"
    assert validates(fallback)


def test_segment_identify_stores_trait_names_only() -> None:
    mapped = map_message(
        {"type": "identify", "userId": "u-1", "traits": {"email": "a@b.c", "plan": "pro"}}
    )
    assert mapped.envelope["type"] == "profile_update"
    assert mapped.envelope["device_id"] == "u-1"  # no anonymous id: the user id is all there is
    assert mapped.envelope["properties"] == {"user_id": "u-1", "fields_updated": ["email", "plan"]}
    assert validates(mapped.envelope)


def test_segment_page_is_a_web_screen_view() -> None:
    mapped = map_message(
        {
            "type": "page",
            "anonymousId": "a",
            "name": "Pricing",
            "category": "Docs",
            "properties": {"url": "https://x.io/pricing?utm_source=news", "plan": {"id": 3}},
            "context": {
                "page": {"title": "Pricing", "referrer": "https://google.com/", "path": "/pricing"},
                "campaign": {"name": "spring", "medium": "email"},
                "library": {"name": "analytics.js", "version": "2"},
            },
        }
    )
    envelope = mapped.envelope
    assert envelope["type"] == "screen_view"
    assert envelope["device_context"] == {"platform": "web", "sdk_version": "analytics.js/2"}
    assert envelope["properties"] == {
        "screen_name": "Pricing",
        "screen_class": "Docs",
        "params": {
            "url": "https://x.io/pricing?utm_source=news",
            "path": "/pricing",
            "title": "Pricing",
            "referrer": "https://google.com/",
            "utm_source": "news",
            "utm_medium": "email",
            "utm_campaign": "spring",
            "plan.id": 3,
        },
    }
    assert validates(envelope)


def test_segment_screen_alias_and_group() -> None:
    screen = map_message(
        {
            "type": "screen",
            "anonymousId": "a",
            "name": "Cart",
            "properties": {"items": 2},
            "context": {"os": {"name": "Android"}},
        }
    ).envelope
    assert screen["properties"] == {"screen_name": "Cart", "params": {"items": 2}}
    assert screen["device_context"] == {"platform": "android"}
    alias = map_message({"type": "alias", "previousId": "anon-9", "userId": "u-9"}).envelope
    assert alias["device_id"] == "anon-9" and alias["user_id"] == "u-9"
    assert alias["properties"] == {"event_name": "alias", "previous_id": "anon-9", "user_id": "u-9"}
    group = map_message(
        {"type": "group", "userId": "u", "groupId": 7, "traits": {"name": "Acme"}}
    ).envelope
    assert group["properties"] == {"event_name": "group", "group_id": "7", "traits.name": "Acme"}
    for envelope in (screen, alias, group):
        assert validates(envelope)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ("nope", "message"),
        ({"type": "explode", "anonymousId": "a"}, "type"),
        ({"type": "track", "event": "x"}, "anonymousId"),
        ({"type": "track", "anonymousId": "a"}, "event"),
        ({"type": "track", "anonymousId": "a", "event": "x", "properties": [1]}, "properties"),
        ({"type": "track", "anonymousId": "a", "event": "x", "timestamp": "soon"}, "timestamp"),
        ({"type": "alias", "userId": "u"}, "previousId"),
        ({"type": "group", "userId": "u"}, "groupId"),
    ],
)
def test_segment_mistakes_name_the_field(message: Any, field: str) -> None:
    with pytest.raises(MappingError) as caught:
        map_message(message)
    assert caught.value.field == field


# -- PostHog -----------------------------------------------------------------------------------


def test_posthog_pageview_from_posthog_js() -> None:
    mapped = map_event(
        {
            "event": "$pageview",
            "uuid": "0190-uuid",
            "timestamp": "2025-10-09T08:00:00Z",
            "properties": {
                "distinct_id": "user-7",
                "$device_id": "dev-7",
                "$session_id": "sess-7",
                "$current_url": "https://x.io/blog/post?utm_campaign=launch",
                "$pathname": "/blog/post",
                "$referrer": "$direct",
                "title": "A post",
                "$lib": "web",
                "$lib_version": "1.200.0",
                "$os": "Mac OS X",
                "$screen_width": 1440,
                "$browser": "Chrome",
                "token": "ck_x",
            },
        }
    )
    envelope = mapped.envelope
    assert envelope["device_id"] == "dev-7"
    assert envelope["user_id"] == "user-7"  # distinct id differs from the device: identified
    assert envelope["session_id"] == "sess-7"
    assert envelope["idempotency_key"] == "0190-uuid"
    assert envelope["device_context"] == {
        "platform": "web",
        "screen_width": 1440,
        "sdk_version": "web/1.200.0",
    }
    assert envelope["properties"] == {
        "screen_name": "/blog/post",
        "params": {
            "url": "https://x.io/blog/post?utm_campaign=launch",
            "path": "/blog/post",
            "title": "A post",
            "utm_campaign": "launch",
            "$browser": "Chrome",
        },
    }
    assert validates(envelope)


def test_posthog_identities() -> None:
    anonymous = map_event(
        {"event": "click", "distinct_id": "d-1", "properties": {"$device_id": "d-1"}}
    ).envelope
    assert anonymous["device_id"] == "d-1" and "user_id" not in anonymous
    personless = map_event(
        {
            "event": "click",
            "distinct_id": "x",
            "properties": {"$process_person_profile": False, "$is_server": True},
        }
    ).envelope
    assert "user_id" not in personless
    server = map_event(
        {"event": "click", "distinct_id": "u-1", "properties": {"$is_server": True}}
    ).envelope
    assert server["device_id"] == "u-1" and server["user_id"] == "u-1"
    identify = map_event(
        {
            "event": "$identify",
            "distinct_id": "u-2",
            "$set": {"email": "e"},
            "properties": {"$anon_distinct_id": "anon-2", "$set_once": {"first": 1}},
        }
    ).envelope
    assert identify["type"] == "profile_update"
    assert identify["device_id"] == "anon-2" and identify["user_id"] == "u-2"
    assert identify["properties"] == {"user_id": "u-2", "fields_updated": ["email", "first"]}
    assert validates(identify)


def test_posthog_internal_events_are_custom() -> None:
    mapped = map_event(
        {
            "event": "$feature_flag_called",
            "distinct_id": "u",
            "properties": {"$feature_flag": "beta", "$feature_flag_response": None},
        }
    )
    assert mapped.envelope["type"] == "custom"
    assert mapped.envelope["properties"] == {
        "event_name": "$feature_flag_called",
        "$feature_flag": "beta",
        "$feature_flag_response": None,
    }
    assert validates(mapped.envelope)


def test_posthog_alias_group_and_screen() -> None:
    alias = map_event(
        {"event": "$create_alias", "distinct_id": "anon", "properties": {"alias": "u-3"}}
    ).envelope
    assert alias["user_id"] == "u-3" and alias["device_id"] == "anon"
    assert alias["properties"] == {"event_name": "alias", "previous_id": "anon", "user_id": "u-3"}
    group = map_event(
        {
            "event": "$groupidentify",
            "distinct_id": "u",
            "properties": {"$group_type": "company", "$group_key": "acme", "$group_set": {"n": 1}},
        }
    ).envelope
    assert group["properties"] == {
        "event_name": "group",
        "group_type": "company",
        "group_id": "acme",
        "traits.n": 1,
    }
    screen = map_event(
        {
            "event": "$screen",
            "distinct_id": "u",
            "properties": {"$screen_name": "Home", "$lib": "posthog-ios", "$os_version": "17"},
        }
    ).envelope
    assert screen["properties"] == {"screen_name": "Home"}
    assert screen["device_context"] == {
        "platform": "ios",
        "os_version": "17",
        "sdk_version": "posthog-ios",
    }
    for envelope in (alias, group, screen):
        assert validates(envelope)


def test_posthog_offset_and_time_timestamps() -> None:
    mapped = map_event({"event": "e", "distinct_id": "d", "offset": 1500}, now_ms=NOW_MS)
    assert mapped.envelope["timestamp_ms"] == NOW_MS - 1500
    mapped = map_event({"event": "e", "distinct_id": "d", "properties": {"$time": 1.5e9}})
    assert mapped.envelope["timestamp_ms"] == 1_500_000_000_000
    with pytest.raises(MappingError):
        map_event({"event": "e", "distinct_id": "d", "properties": {"$time": float("inf")}})


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ([], "event"),
        ({"distinct_id": "d"}, "event"),
        ({"event": "e"}, "distinct_id"),
        ({"event": "e", "distinct_id": "d", "properties": "x"}, "properties"),
        ({"event": "e", "distinct_id": "d", "timestamp": True}, "timestamp"),
    ],
)
def test_posthog_mistakes_name_the_field(event: Any, field: str) -> None:
    with pytest.raises(MappingError) as caught:
        map_event(event)
    assert caught.value.field == field


# -- robustness ----------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_names = st.sampled_from(
    [
        *(
            "track identify page screen alias group $pageview $identify $set $screen"
            " $create_alias $groupidentify add_to_cart custom"
        ).split(),
        "",
    ]
)
_special = st.sampled_from(
    (
        "$time $device_id $current_url $pathname $screen_width $lib $os $lib_version $set"
        " $anon_distinct_id $process_person_profile $group_key $group_set $screen_name"
        " $referrer url path title utm_source alias os app screen device network library"
        " page campaign sessionId name version width wifi"
    ).split()
)
_nested = st.dictionaries(_special, _json | st.dictionaries(_special, _json), max_size=6)
_message = st.fixed_dictionaries(
    {},
    optional={
        "type": _names,
        "event": _names,
        "userId": _json,
        "anonymousId": _json,
        "distinct_id": _json,
        "previousId": _json,
        "groupId": _json,
        "messageId": _json,
        "uuid": _json,
        "timestamp": _json,
        "offset": _json,
        "name": _json,
        "$set": _json,
        "properties": _nested | _json,
        "context": _nested | _json,
        "traits": _nested | _json,
    },
)


@settings(max_examples=400, deadline=None)
@given(_message)
def test_mappers_only_raise_mapping_errors(message: dict[str, Any]) -> None:
    """Whatever a client sends, the mappers answer with an envelope or a MappingError, and
    the validator with an event or a rejection."""
    for mapper in (map_message, map_event):
        try:
            mapped = mapper(message)
        except MappingError:
            continue
        for envelope in (mapped.envelope, mapped.fallback):
            if envelope is not None:
                body = msgspec.json.encode({"events": [envelope]})
                VALIDATOR.validate_batch(body, app_id="app", now_ms=NOW_MS)


# -- bodies --------------------------------------------------------------------------------


def test_decompress_and_base64() -> None:
    data = b'{"a": 1}'
    assert decompress(gzip.compress(data), "gzip", limit=100) == data
    assert decompress(zlib.compress(data), "deflate", limit=100) == data
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert (
        decompress(raw_deflate.compress(data) + raw_deflate.flush(), "deflate", limit=100) == data
    )
    with pytest.raises(ApiError) as caught:
        decompress(gzip.compress(b"x" * 1000), "gzip", limit=100)
    assert caught.value.status == 413
    with pytest.raises(ApiError) as caught:
        decompress(data, "br", limit=100)
    assert caught.value.status == 415
    assert parse_json(base64.b64encode(data)) == {"a": 1}
    assert parse_json(base64.urlsafe_b64encode(b'[{"e": "?>"}]').rstrip(b"=")) == [{"e": "?>"}]
    for bad in (b"not json", b"{", b"   "):
        with pytest.raises(ApiError) as caught:
            parse_json(bad)
        assert caught.value.status == 400
