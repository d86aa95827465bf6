"""The NATS wire form of events: encode/decode round trips, properties kept byte for byte."""

from __future__ import annotations

import msgspec
import pytest

from causality.events import DeviceContext, Event, decode_event, decode_events, encode_event


def full_event(index: int = 0) -> Event:
    return Event(
        id=f"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a{index:02d}",
        idempotency_key=f"key-{index}",
        app_id="app_main",
        device_id="dev_1",
        event_category="custom",
        event_type="custom",
        timestamp_ms=1_750_000_000_000 + index,
        received_at_ms=1_750_000_000_500,
        event_name="Video Played",
        user_id="u_42",
        session_id="s_1",
        correlation_id="trace-1",
        device_context=DeviceContext(
            platform="android",
            os_version="14",
            screen_width=1080,
            screen_height=2400,
            network_type="wifi",
            is_emulator=True,
        ),
        properties=msgspec.Raw(b'{"event_name": "Video Played", "n": [1, 2.5, "\\u00e9"]}'),
    )


def test_round_trip_keeps_every_field() -> None:
    events = [full_event(i) for i in range(3)]
    decoded = decode_events([encode_event(e) for e in events])
    assert decoded == events
    assert [bytes(e.properties) for e in decoded] == [bytes(e.properties) for e in events]


def test_properties_are_embedded_verbatim_not_as_a_string() -> None:
    payload = encode_event(full_event())
    assert b'"properties":{"event_name": "Video Played", "n": [1, 2.5, "\\u00e9"]}' in payload


def test_defaults_are_omitted_and_restored() -> None:
    minimal = Event(
        id="i",
        idempotency_key="k",
        app_id="a",
        device_id="d",
        event_category="system",
        event_type="app_start",
        timestamp_ms=1,
        received_at_ms=2,
    )
    payload = encode_event(minimal)
    assert b"properties" not in payload
    assert b"user_id" not in payload
    decoded = decode_event(payload)
    assert decoded == minimal
    assert bytes(decoded.properties) == b"{}"


def test_device_context_omits_unset_fields() -> None:
    payload = encode_event(full_event())
    context = msgspec.json.decode(payload)["device_context"]
    assert context == {
        "platform": "android",
        "os_version": "14",
        "screen_width": 1080,
        "screen_height": 2400,
        "network_type": "wifi",
        "is_emulator": True,
    }


def test_decode_rejects_corrupt_messages() -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_events([encode_event(full_event()), b"{not json"])
    with pytest.raises(msgspec.ValidationError):
        decode_event(b'{"id": "x"}')


def test_device_context_rejects_unknown_keys_on_decode() -> None:
    with pytest.raises(msgspec.ValidationError, match="os"):
        msgspec.json.decode(b'{"os": "iOS"}', type=DeviceContext)
