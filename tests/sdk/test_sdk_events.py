"""The SDK's events against the server's contract: helpers generated from the catalogue, and
every envelope the SDK builds accepted by the gateway's own validator."""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import time
import uuid
from pathlib import Path
from types import MappingProxyType
from typing import Any

import msgspec
import pytest
from causality_sdk import Tracker
from causality_sdk.context import DEVICE_CONTEXT_FIELDS
from causality_sdk.events import EventHelpers
from causality_sdk.options import ClientOptions
from causality_sdk.tracker import new_key

from causality.events.catalogue import PAYLOAD_TYPES
from causality.events.model import DeviceContext
from causality.events.validation import EventValidator

GENERATOR = Path(__file__).parents[2] / "sdk" / "python" / "tools" / "generate_events.py"
ENVELOPE_OPTIONS = {"extra", "options"}


class Recorder(Tracker):
    """A tracker whose queue is a list: the seam for looking at what would be sent."""

    def __init__(self, **options: Any) -> None:
        super().__init__("ck_test", **options)
        self.bodies: list[bytes] = []

    def _enqueue(self, body: bytes) -> None:
        self.bodies.append(body)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(b) for b in self.bodies]


def _validate(bodies: list[bytes]) -> Any:
    validator = EventValidator(
        backfill_horizon_ms=10**12, max_future_ms=86_400_000, max_batch_events=1000
    )
    body = b'{"events":[' + b",".join(bodies) + b"]}"
    return validator.validate_batch(body, app_id="app", now_ms=time.time_ns() // 1_000_000)


def test_events_module_is_generated_from_the_current_catalogue() -> None:
    spec = importlib.util.spec_from_file_location("generate_events", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.TARGET.read_text() == module.render(), (
        "sdk/python/src/causality_sdk/events.py is stale: "
        "run .venv/bin/python sdk/python/tools/generate_events.py"
    )


@pytest.mark.parametrize("event_type", sorted(PAYLOAD_TYPES))
def test_each_helper_takes_exactly_the_payload_fields(event_type: str) -> None:
    helper = getattr(EventHelpers, event_type)
    params = inspect.signature(helper).parameters
    fields = msgspec.structs.fields(PAYLOAD_TYPES[event_type])
    assert set(params) - {"self"} - ENVELOPE_OPTIONS == {f.name for f in fields}
    for f in fields:
        required = params[f.name].default is inspect.Parameter.empty
        assert required == f.required, f.name


def test_device_context_keys_are_the_servers() -> None:
    assert {f.name for f in msgspec.structs.fields(DeviceContext)} == DEVICE_CONTEXT_FIELDS


def test_client_options_name_the_tracker_arguments() -> None:
    params = inspect.signature(Tracker.__init__).parameters
    keyword_only = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(ClientOptions.__annotations__) == keyword_only


def test_every_helper_builds_an_event_the_gateway_accepts() -> None:
    t = Recorder(app_version="1.2.3", device_context={"locale": "de_DE"})
    point = {"x": 1.5, "y": 2}
    t.login(user_id="u-1", method="password", is_new_user=True)
    t.logout(user_id="u-1", reason="user")
    t.signup(user_id="u-1", method="google", referral_source="ad")
    t.profile_update(user_id="u-1", fields_updated=["email"])
    t.screen_view(screen_name="home", params={"path": "/", "utm_source": "news"})
    t.screen_exit(screen_name="home", duration_ms=1200, next_screen="cart")
    t.button_tap(button_id="buy", screen_name="cart", coordinates=point)
    t.swipe(direction="left", start=point, end=point, duration_ms=80)
    t.scroll(screen_name="feed", scroll_depth_percent=55.5, direction="down")
    t.text_input(field_id="q", field_type="search", text_length=4, input_duration_ms=900)
    t.long_press(element_id="img", coordinates=point, duration_ms=700)
    t.double_tap(element_id="img", coordinates=point)
    t.product_view(product_id="p-1", price_cents=1299, currency="EUR", source="search")
    t.add_to_cart(product_id="p-1", quantity=2, price_cents=1299, currency="EUR", cart_id="c")
    t.remove_from_cart(product_id="p-1", quantity=1, cart_id="c", reason="changed mind")
    t.checkout_start(cart_id="c", item_count=1, total_cents=1299, currency="EUR")
    t.checkout_step(cart_id="c", step_number=2, step_name="address", step_duration_ms=5000)
    t.purchase_complete(
        order_id="o-1",
        cart_id="c",
        item_count=1,
        total_cents=1299,
        currency="EUR",
        payment_method="card",
        items=[{"product_id": "p-1", "product_name": "Mug", "quantity": 1, "price_cents": 1299}],
        extra={"coupon": "WINTER"},
    )
    t.purchase_failed(cart_id="c", error_code="declined", payment_method="card", checkout_step=3)
    t.app_start(is_cold_start=True, launch_duration_ms=300, launch_source="cron")
    t.app_background(foreground_duration_ms=10, current_screen="home")
    t.app_foreground(background_duration_ms=10, resume_screen="home")
    t.app_crash(crash_type="ValueError", crash_message="boom", stack_trace="Traceback ...")
    t.network_change(previous_type="wifi", current_type="ethernet")
    t.permission_request(permission_type="camera", trigger_screen="scan")
    t.permission_result(permission_type="camera", status="granted")
    t.memory_warning(available_memory_bytes=10, used_memory_bytes=20, level="low")
    t.battery_change(battery_level=80, state="charging")
    t.custom("report exported", {"rows": 1200, "tags": ["a", "b"]}, session_id="s-1")
    assert len(t.bodies) == len(PAYLOAD_TYPES) + 1
    result = _validate(t.bodies)
    assert result.rejected == []
    assert len(result.accepted) == len(t.bodies)

    events = t.events()
    assert {e["type"] for e in events} == {*PAYLOAD_TYPES, "custom"}
    login = events[0]
    assert login["user_id"] == "u-1" and login["properties"]["user_id"] == "u-1"
    purchase = next(e for e in events if e["type"] == "purchase_complete")
    assert purchase["properties"]["coupon"] == "WINTER"
    context = purchase["device_context"]
    assert context["platform"] == "server" and context["app_version"] == "1.2.3"
    assert context["locale"] == "de_DE" and context["sdk_version"].startswith("causality-python/")
    custom = events[-1]
    assert custom["properties"] == {
        "rows": 1200,
        "tags": ["a", "b"],
        "event_name": "report exported",
    }
    assert custom["session_id"] == "s-1"


def test_none_fields_are_left_out_and_typed_fields_win_over_extra() -> None:
    t = Recorder()
    t.screen_view(screen_name="home", extra={"screen_name": "ignored", "ab_test": "b"})
    assert t.events()[0]["properties"] == {"screen_name": "home", "ab_test": "b"}


def test_envelope_fields_keys_and_timestamps() -> None:
    t = Recorder(device_id="dev-1")
    before = time.time_ns() // 1_000_000
    key = t.track("screen_view", {"screen_name": "a"})
    after = time.time_ns() // 1_000_000
    t.track("screen_view", idempotency_key="k-1", timestamp_ms=123, correlation_id="c-1")
    first, second = t.events()
    assert first["idempotency_key"] == key and uuid.UUID(key).version == 4
    assert before <= first["timestamp_ms"] <= after
    assert first["device_id"] == "dev-1" and "user_id" not in first
    assert second["idempotency_key"] == "k-1" and second["timestamp_ms"] == 123
    assert second["correlation_id"] == "c-1" and "properties" not in second


def test_keys_are_canonical_random_uuids() -> None:
    keys = {new_key() for _ in range(10_000)}
    assert len(keys) == 10_000
    for key in list(keys)[:1000]:
        parsed = uuid.UUID(key)
        assert str(parsed) == key and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_identify_and_reset() -> None:
    t = Recorder()
    device = t.device_id
    assert t.identify("u-7") is None and t.bodies == []
    t.track("screen_view", {"screen_name": "a"})
    t.track("screen_view", {"screen_name": "b"}, user_id="someone-else")
    key = t.identify("u-8", {"email": "x@example.com", "name": "X"})
    t.reset()
    t.track("screen_view", {"screen_name": "c"})
    a, b, update, c = t.events()
    assert a["user_id"] == "u-7" and b["user_id"] == "someone-else"
    assert update["type"] == "profile_update" and update["idempotency_key"] == key
    # only the names of the traits: EVENTS.md says profile values are never sent
    assert update["properties"] == {"user_id": "u-8", "fields_updated": ["email", "name"]}
    assert "x@example.com" not in t.bodies[2].decode()
    assert "user_id" not in c and c["device_id"] != device and t.device_id == c["device_id"]
    assert a["device_id"] == device
    assert _validate(t.bodies).rejected == []


def test_what_can_never_be_sent_fails_at_the_call() -> None:
    t = Recorder(max_batch_bytes=2_000)
    with pytest.raises(ValueError):
        t.track("custom", {"event_name": "x", "v": math.nan})  # not JSON
    with pytest.raises(TypeError):
        t.track("custom", {"event_name": "x", "v": {1, 2}})
    with pytest.raises(TypeError):
        t.track("custom", ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        t.track("")
    with pytest.raises(ValueError):
        t.track("custom", {"event_name": "x", "blob": "a" * 5_000})
    assert t.bodies == []


def test_properties_are_snapshotted_at_track_time() -> None:
    t = Recorder()
    props: dict[str, Any] = {"event_name": "x", "n": 1}
    t.track("custom", props)
    props["n"] = 2
    t.track("custom", MappingProxyType(props))  # any Mapping will do
    assert [e["properties"]["n"] for e in t.events()] == [1, 2]


def test_device_context_rejects_keys_outside_the_contract() -> None:
    with pytest.raises(ValueError, match="hostname"):
        Recorder(device_context={"hostname": "web-1"})
