"""Field paths: parsing errors, static types, and reading values (MISSING rules) from events."""

from __future__ import annotations

import pickle
from typing import Any

import msgspec
import pytest

from causality.events.model import DeviceContext, Event
from causality.reactions.paths import MISSING, EventView, InvalidCondition, parse_path


def make_event(props: Any = None, **fields: Any) -> Event:
    base: dict[str, Any] = {
        "id": "e1",
        "idempotency_key": "k1",
        "app_id": "shop",
        "device_id": "d1",
        "event_category": "commerce",
        "event_type": "purchase",
        "timestamp_ms": 1_000,
        "received_at_ms": 1_005,
    }
    base.update(fields)
    raw = msgspec.Raw(msgspec.json.encode({} if props is None else props))
    return Event(**base, properties=raw)


@pytest.mark.parametrize(
    ("text", "root", "type_"),
    [
        ("user_id", "envelope", "string"),
        ("event_name", "envelope", "string"),
        ("timestamp_ms", "envelope", "int"),
        ("received_at_ms", "envelope", "int"),
        ("device_context.platform", "device_context", "string"),
        ("device_context.screen_height", "device_context", "int"),
        ("device_context.is_jailbroken", "device_context", "bool"),
        ("properties.amount", "properties", "any"),
        ("properties.a b.ünï cödé.0", "properties", "any"),
    ],
)
def test_parse_path_types(text: str, root: str, type_: str) -> None:
    path = parse_path(text)
    assert (path.text, path.root, path.type) == (text, root, type_)


def test_enum_fields_carry_their_choices() -> None:
    assert parse_path("device_context.platform").choices == {"ios", "android", "web", "server"}
    assert "wifi" in (parse_path("device_context.network_type").choices or ())
    assert parse_path("device_context.locale").choices is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "must not be empty"),
        (5, "must be a string path"),
        ("usr_id", "unknown field 'usr_id'"),
        ("device_context.os", "unknown device_context field 'os'"),
        ("device_context", "name a device_context field"),
        ("device_context.", "empty segment"),
        ("device_context.platform.name", "too deep"),
        ("user_id.first", "too deep"),
        ("properties", "name a key inside properties"),
        ("properties.", "empty segment"),
        ("properties.a..b", "empty segment"),
        ("properties.a.", "empty segment"),
        (".user_id", "empty segment"),
        ("properties.1.2.3.4.5.6.7.8.9", "too deep"),
        ("properties." + "k" * 129, "longer than 128 chars"),
    ],
)
def test_parse_path_rejects(text: Any, fragment: str) -> None:
    with pytest.raises(InvalidCondition) as caught:
        parse_path(text, where="condition.all[2].field")
    assert caught.value.field == "condition.all[2].field"
    assert fragment in caught.value.reason
    assert str(caught.value) == f"condition.all[2].field: {caught.value.reason}"


def test_path_limits_are_inclusive() -> None:
    assert len(parse_path("properties.1.2.3.4.5.6.7.8").segments) == 8
    assert parse_path("properties." + "k" * 128).segments == ("k" * 128,)


def test_invalid_condition_pickles_and_is_a_value_error() -> None:
    error = pickle.loads(pickle.dumps(InvalidCondition("condition.op", "unknown operator")))
    assert isinstance(error, ValueError)
    assert (error.field, error.reason) == ("condition.op", "unknown operator")


def test_envelope_and_device_values() -> None:
    event = make_event(
        user_id="u1",
        device_context=DeviceContext(platform="ios", screen_width=0, is_emulator=False),
    )
    view = EventView(event)
    assert view.get(parse_path("user_id")) == "u1"
    assert view.get(parse_path("timestamp_ms")) == 1_000
    assert view.get(parse_path("device_context.platform")) == "ios"
    assert view.get(parse_path("device_context.screen_width")) == 0
    assert view.get(parse_path("device_context.is_emulator")) is False
    # None values and absent device facts read as MISSING
    assert view.get(parse_path("session_id")) is MISSING
    assert view.get(parse_path("device_context.locale")) is MISSING


def test_no_device_context_makes_device_fields_missing() -> None:
    view = EventView(make_event())
    assert view.get(parse_path("device_context.platform")) is MISSING


def test_properties_navigation() -> None:
    props = {
        "cart": {"items": [{"sku": "A"}, {"sku": "B"}], "0": "zero-key"},
        "tags": ["x", None],
        "nothing": None,
        "flag": False,
        "zero": 0,
        "empty": "",
        "ünï": {"ß": "ok"},
    }
    view = EventView(make_event(props))

    def get(text: str) -> Any:
        return view.get(parse_path(text))

    assert get("properties.cart.items.1.sku") == "B"
    assert get("properties.cart.items.2.sku") is MISSING  # index out of range
    assert get("properties.cart.0") == "zero-key"  # digits are a key on an object
    assert get("properties.tags.0") == "x"
    assert get("properties.tags.1") is MISSING  # JSON null
    assert get("properties.nothing") is MISSING
    assert get("properties.flag") is False
    assert get("properties.zero") == 0
    assert get("properties.empty") == ""
    assert get("properties.ünï.ß") == "ok"
    assert get("properties.tags") == ["x", None]
    assert get("properties.cart.items.x") is MISSING  # a word does not index a list
    assert get("properties.zero.a") is MISSING  # cannot step into a scalar
    assert get("properties.absent.deeper") is MISSING


def test_properties_decoded_once_and_lazily() -> None:
    view = EventView(make_event({"a": {"b": 1}}))
    first = view.properties()
    assert first == {"a": {"b": 1}}
    assert view.properties() is first


def test_properties_that_are_not_json_read_as_missing() -> None:
    event = msgspec.structs.replace(make_event(), properties=msgspec.Raw(b"{not json"))
    view = EventView(event)
    assert view.get(parse_path("properties.a")) is MISSING


def test_properties_that_are_a_list_are_indexed() -> None:
    event = msgspec.structs.replace(make_event(), properties=msgspec.Raw(b'["a", "b"]'))
    view = EventView(event)
    assert view.get(parse_path("properties.1")) == "b"
    assert view.get(parse_path("properties.2")) is MISSING


def test_missing_is_a_falsy_singleton() -> None:
    assert not MISSING
    assert repr(MISSING) == "MISSING"
    assert pickle.loads(pickle.dumps(MISSING)) is MISSING
