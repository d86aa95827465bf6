"""The demo generator must produce traffic the gateway accepts and dashboards can trust.

The checker below is written from EVENTS.md on purpose (not imported from the gateway), so
a drift between the contract and either side shows up here.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest

from causality.demo import TrafficGenerator, infer_kind
from causality.demo.traffic import MAX_JITTER_MS

NOW_S = 1_750_000_000.0
NOW_MS = int(NOW_S * 1000)
APPS = ("shop-mobile", "shop-web", "shop-api")

# -- a strict checker written from EVENTS.md ---------------------------------------------------

STR, INT, BOOL = "str", "int", "bool"
PERCENT = ("range", 0, 100)
POINT = {"x": INT, "y": INT}
NETWORK = (
    "enum",
    {"wifi", "cellular_2g", "cellular_3g", "cellular_4g", "cellular_5g", "ethernet", "offline"},
)
CURRENCY = ("pattern", r"[A-Z]{3}")
PARAMS = ("flat_dict",)

CATALOGUE: dict[str, dict[str, Any]] = {
    "login": {"user_id": STR, "method": STR, "is_new_user": BOOL},
    "logout": {"user_id": STR, "reason": STR},
    "signup": {"user_id": STR, "method": STR, "referral_source": STR},
    "profile_update": {"user_id": STR, "fields_updated": ("list", STR)},
    "screen_view": {
        "screen_name": STR,
        "screen_class": STR,
        "previous_screen": STR,
        "params": PARAMS,
    },
    "screen_exit": {"screen_name": STR, "duration_ms": INT, "next_screen": STR},
    "button_tap": {"button_id": STR, "button_text": STR, "screen_name": STR, "coordinates": POINT},
    "swipe": {
        "direction": ("enum", {"left", "right", "up", "down"}),
        "screen_name": STR,
        "start": POINT,
        "end": POINT,
        "duration_ms": INT,
    },
    "scroll": {
        "screen_name": STR,
        "container_id": STR,
        "scroll_depth_percent": PERCENT,
        "direction": ("enum", {"up", "down"}),
    },
    "text_input": {
        "field_id": STR,
        "field_type": STR,
        "screen_name": STR,
        "text_length": INT,
        "input_duration_ms": INT,
    },
    "long_press": {"element_id": STR, "screen_name": STR, "coordinates": POINT, "duration_ms": INT},
    "double_tap": {"element_id": STR, "screen_name": STR, "coordinates": POINT},
    "product_view": {
        "product_id": STR,
        "product_name": STR,
        "category": STR,
        "price_cents": INT,
        "currency": CURRENCY,
        "source": STR,
    },
    "add_to_cart": {
        "product_id": STR,
        "product_name": STR,
        "quantity": INT,
        "price_cents": INT,
        "currency": CURRENCY,
        "cart_id": STR,
    },
    "remove_from_cart": {"product_id": STR, "quantity": INT, "cart_id": STR, "reason": STR},
    "checkout_start": {"cart_id": STR, "item_count": INT, "total_cents": INT, "currency": CURRENCY},
    "checkout_step": {
        "cart_id": STR,
        "step_number": INT,
        "step_name": STR,
        "step_duration_ms": INT,
    },
    "purchase_complete": {
        "order_id": STR,
        "cart_id": STR,
        "item_count": INT,
        "total_cents": INT,
        "currency": CURRENCY,
        "payment_method": STR,
        "items": (
            "list",
            {"product_id": STR, "product_name": STR, "quantity": INT, "price_cents": INT},
        ),
    },
    "purchase_failed": {
        "cart_id": STR,
        "error_code": STR,
        "error_message": STR,
        "payment_method": STR,
        "checkout_step": INT,
    },
    "app_start": {
        "is_cold_start": BOOL,
        "launch_duration_ms": INT,
        "launch_source": STR,
        "deeplink_url": STR,
    },
    "app_background": {"foreground_duration_ms": INT, "current_screen": STR},
    "app_foreground": {"background_duration_ms": INT, "resume_screen": STR},
    "app_crash": {
        "crash_type": STR,
        "crash_message": STR,
        "stack_trace": STR,
        "current_screen": STR,
    },
    "network_change": {"previous_type": NETWORK, "current_type": NETWORK},
    "permission_request": {"permission_type": STR, "trigger_screen": STR},
    "permission_result": {
        "permission_type": STR,
        "status": ("enum", {"granted", "denied", "denied_permanently"}),
    },
    "memory_warning": {
        "available_memory_bytes": INT,
        "used_memory_bytes": INT,
        "level": ("enum", {"low", "critical"}),
    },
    "battery_change": {
        "battery_level": PERCENT,
        "state": ("enum", {"charging", "discharging", "full"}),
    },
}
# Fields that are legitimately absent: no previous screen on entry, no next one on leaving,
# no deeplink on an icon launch.
OPTIONAL = {"previous_screen", "next_screen", "deeplink_url"}
WEB_PARAMS = {"url", "path", "title", "referrer"} | {
    f"utm_{k}" for k in ("source", "medium", "campaign", "term", "content")
}

DEVICE_CONTEXT: dict[str, Any] = {
    "platform": ("enum", {"ios", "android", "web", "server"}),
    "os_version": STR,
    "app_version": STR,
    "build_number": STR,
    "device_model": STR,
    "manufacturer": STR,
    "screen_width": INT,
    "screen_height": INT,
    "locale": STR,
    "timezone": STR,
    "network_type": NETWORK,
    "carrier": STR,
    "is_jailbroken": BOOL,
    "is_emulator": BOOL,
    "sdk_version": STR,
}
# What each platform cannot know: browsers see no carrier, servers have no screen either.
NOT_KNOWN = {
    "ios": set(),
    "android": set(),
    "web": {"carrier"},
    "server": {"carrier", "screen_width", "screen_height"},
}
ENVELOPE_KEYS = {
    "type",
    "idempotency_key",
    "device_id",
    "user_id",
    "session_id",
    "correlation_id",
    "timestamp_ms",
    "device_context",
    "properties",
}


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def check(value: Any, spec: Any, path: str) -> None:
    """Assert ``value`` matches ``spec`` exactly: no bools for ints, no unknown keys."""
    if spec == STR:
        assert type(value) is str and value, f"{path}: expected a non-empty string, got {value!r}"
    elif spec == INT:
        assert type(value) is int and value >= 0, f"{path}: expected int >= 0, got {value!r}"
    elif spec == BOOL:
        assert type(value) is bool, f"{path}: expected bool, got {value!r}"
    elif isinstance(spec, dict):
        assert type(value) is dict, f"{path}: expected object, got {value!r}"
        unknown = set(value) - set(spec)
        assert not unknown, f"{path}: unknown fields {unknown}"
        missing = set(spec) - set(value) - OPTIONAL
        assert not missing, f"{path}: missing fields {missing}"
        for key, item in value.items():
            check(item, spec[key], f"{path}.{key}")
    elif spec[0] == "enum":
        assert value in spec[1], f"{path}: {value!r} not in {sorted(spec[1])}"
    elif spec[0] == "range":
        assert type(value) is int and spec[1] <= value <= spec[2], f"{path}: {value!r}"
    elif spec[0] == "pattern":
        assert type(value) is str and re.fullmatch(spec[1], value), f"{path}: {value!r}"
    elif spec[0] == "list":
        assert type(value) is list and value, f"{path}: expected a non-empty list"
        for i, item in enumerate(value):
            check(item, spec[1], f"{path}[{i}]")
    elif spec[0] == "flat_dict":
        assert type(value) is dict, f"{path}: expected object"
        for key, item in value.items():
            assert type(item) is str and item, f"{path}.{key}: expected a string, got {item!r}"
    else:  # pragma: no cover - a typo in the spec above
        raise AssertionError(f"bad spec {spec!r}")


def check_envelope(event: dict[str, Any]) -> None:
    assert set(event) <= ENVELOPE_KEYS, set(event) - ENVELOPE_KEYS
    assert "app_id" not in event
    key = event["idempotency_key"]
    assert uuid.UUID(key).version == 4 and str(uuid.UUID(key)) == key
    check(event["device_id"], STR, "device_id")
    assert len(event["device_id"]) <= 128
    assert type(event["timestamp_ms"]) is int
    for optional in ("user_id", "session_id", "correlation_id"):
        if optional in event:
            check(event[optional], STR, optional)

    context = event["device_context"]
    platform = context["platform"]
    check(context, {k: v for k, v in DEVICE_CONTEXT.items() if k not in NOT_KNOWN[platform]}, "dc")
    assert set(context) == set(DEVICE_CONTEXT) - NOT_KNOWN[platform], "device_context not full"
    if platform == "server":
        # Backend events belong to requests, not sessions; only the host's boot has no request.
        assert "session_id" not in event
        assert ("correlation_id" in event) == (event["type"] != "app_start")
    else:
        assert "session_id" in event

    props = event["properties"]
    if event["type"] == "custom":
        check(props["event_name"], STR, "properties.event_name")
        for name, value in props.items():
            flat = _scalar(value) or (type(value) is list and all(_scalar(v) for v in value))
            assert flat, f"custom property {name} is not flat: {value!r}"
        return
    check(props, CATALOGUE[event["type"]], f"{event['type']}.properties")
    if event["type"] == "screen_view" and platform == "web":
        assert {"url", "path", "title"} <= set(props["params"]) <= WEB_PARAMS
        assert props["params"]["url"].startswith("https://")


# -- fixtures ----------------------------------------------------------------------------------


def _generate(*, seed: int, size: int) -> dict[str, list[dict[str, Any]]]:
    return TrafficGenerator(app_ids=APPS, seed=seed, clock=lambda: NOW_S).next_batch(size=size)


@pytest.fixture(scope="module")
def batch() -> dict[str, list[dict[str, Any]]]:
    return _generate(seed=0, size=20_000)


@pytest.fixture(scope="module")
def events(batch: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [event for app_events in batch.values() for event in app_events]


# -- tests -------------------------------------------------------------------------------------


def test_same_seed_same_traffic_and_other_seed_differs() -> None:
    first = _generate(seed=7, size=2_000)
    assert first == _generate(seed=7, size=2_000)
    assert first != _generate(seed=8, size=2_000)


def test_batch_size_is_total_over_apps_without_app_id(batch: dict[str, list[dict]]) -> None:
    assert set(batch) == set(APPS)
    assert sum(len(v) for v in batch.values()) == 20_000
    assert all(batch.values())
    generator = TrafficGenerator(app_ids=APPS, seed=1, clock=lambda: NOW_S)
    assert generator.next_batch(size=0) == {app: [] for app in APPS}
    with pytest.raises(ValueError):
        generator.next_batch(size=-1)


def test_every_catalogue_type_appears_within_ten_thousand_events() -> None:
    seen = {e["type"] for app_events in _generate(seed=0, size=10_000).values() for e in app_events}
    assert seen == set(CATALOGUE) | {"custom"}


def test_custom_events_include_the_demo_names(events: list[dict[str, Any]]) -> None:
    names = {e["properties"]["event_name"] for e in events if e["type"] == "custom"}
    assert {"share_clicked", "coupon_applied", "video_played"} <= names


def test_every_event_matches_the_contract_exactly(events: list[dict[str, Any]]) -> None:
    for event in events:
        check_envelope(event)


def test_device_context_is_stable_per_device(events: list[dict[str, Any]]) -> None:
    """Only the network moves, and only by way of a network_change the device reported."""
    contexts: dict[str, dict[str, Any]] = {}
    network: dict[str, str] = {}
    for event in events:
        context = dict(event["device_context"])
        current = context.pop("network_type")
        device = event["device_id"]
        assert contexts.setdefault(device, context) == context, device
        if event["type"] == "network_change":
            assert event["properties"]["previous_type"] == network[device]
            assert event["properties"]["current_type"] == current
        elif device in network:
            assert current == network[device], "network changed without network_change"
        network[device] = current


def test_platform_mix_matches_the_app_kind(batch: dict[str, list[dict[str, Any]]]) -> None:
    platforms = {app: {e["device_context"]["platform"] for e in evs} for app, evs in batch.items()}
    assert platforms == {
        "shop-mobile": {"ios", "android"},
        "shop-web": {"web"},
        "shop-api": {"server"},
    }


def test_users_are_stable_and_some_stay_anonymous(events: list[dict[str, Any]]) -> None:
    users: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if "user_id" in event:
            users[event["device_id"]].add(event["user_id"])
        if event["type"] in ("login", "logout", "signup", "profile_update"):
            assert event["properties"]["user_id"] == event["user_id"]
    clients = {e["device_id"] for e in events if e["device_context"]["platform"] != "server"}
    assert all(len(users[device]) <= 1 for device in clients), "a device changed user"
    identified = sum(1 for device in clients if users[device])
    assert 0.15 < identified / len(clients) < 0.85


def test_sessions_belong_to_one_device(events: list[dict[str, Any]]) -> None:
    owner: dict[str, str] = {}
    for event in events:
        if "session_id" in event:
            assert owner.setdefault(event["session_id"], event["device_id"]) == event["device_id"]


def test_funnel_narrows_at_every_step(batch: dict[str, list[dict[str, Any]]]) -> None:
    steps = ("product_view", "add_to_cart", "checkout_start", "purchase_complete")
    for app in ("shop-mobile", "shop-web"):
        counts = Counter(e["type"] for e in batch[app])
        funnel = [counts[step] for step in steps]
        assert funnel == sorted(funnel, reverse=True), (app, funnel)
        assert funnel[-1] > 0, (app, funnel)
        assert funnel[1] < funnel[0] * 0.5, "no visible drop-off"
    api = Counter(e["type"] for e in batch["shop-api"])
    assert all(api[step] == 0 for step in steps)


def test_commerce_is_consistent(events: list[dict[str, Any]]) -> None:
    currency_of_device: dict[str, str] = {}
    for event in events:
        props = event["properties"]
        if "currency" in props and event["type"] != "custom":
            device = event["device_id"]
            assert currency_of_device.setdefault(device, props["currency"]) == props["currency"]
        if event["type"] == "purchase_complete":
            items = props["items"]
            assert props["item_count"] == sum(i["quantity"] for i in items)
            subtotal = sum(i["quantity"] * i["price_cents"] for i in items)
            assert 0.79 * subtotal <= props["total_cents"] <= subtotal


def test_coordinates_fall_on_the_screen(events: list[dict[str, Any]]) -> None:
    for event in events:
        props, context = event["properties"], event["device_context"]
        for key in ("coordinates", "start", "end"):
            if key in props:
                assert 0 <= props[key]["x"] < context["screen_width"]
                assert 0 <= props[key]["y"] < context["screen_height"]


def test_timestamps_are_recent_and_never_in_the_future(events: list[dict[str, Any]]) -> None:
    for event in events:
        assert NOW_MS - MAX_JITTER_MS <= event["timestamp_ms"] <= NOW_MS


def test_timestamps_follow_a_moving_clock_per_device() -> None:
    now = [NOW_S]
    generator = TrafficGenerator(app_ids=APPS, seed=3, clock=lambda: now[0])
    last: dict[str, int] = {}
    for _ in range(50):
        now[0] += 0.5
        for app_events in generator.next_batch(size=200).values():
            for event in app_events:
                ts = event["timestamp_ms"]
                assert ts <= int(now[0] * 1000)
                assert ts >= last.get(event["device_id"], 0), "device time went backwards"
                last[event["device_id"]] = ts


def test_web_page_views_carry_campaigns(batch: dict[str, list[dict[str, Any]]]) -> None:
    views = [e["properties"]["params"] for e in batch["shop-web"] if e["type"] == "screen_view"]
    assert any("utm_source" in p for p in views)
    assert any("referrer" not in p for p in views), "direct traffic has no referrer"


@pytest.mark.parametrize(
    ("app_id", "kind"),
    [
        ("acme-ios", "mobile"),
        ("shop-android", "mobile"),
        ("storefront-web", "web"),
        ("billing-api", "server"),
        ("backend", "server"),
    ],
)
def test_kind_is_inferred_from_the_app_id(app_id: str, kind: str) -> None:
    assert infer_kind(app_id, index=0) == kind


def test_unrecognised_app_ids_cycle_through_kinds() -> None:
    generator = TrafficGenerator(app_ids=["alpha", "beta", "gamma"], seed=0)
    assert generator.app_kinds == {"alpha": "mobile", "beta": "web", "gamma": "server"}
    overridden = TrafficGenerator(app_ids=["alpha"], kinds={"alpha": "web"})
    assert overridden.app_kinds == {"alpha": "web"}
    with pytest.raises(ValueError):
        TrafficGenerator(app_ids=[])


def test_the_gateway_validator_accepts_all_of_it(batch: dict[str, list[dict[str, Any]]]) -> None:
    """The same traffic through the gateway's own validator: nothing may be rejected."""
    validation = pytest.importorskip("causality.events.validation")
    msgspec = pytest.importorskip("msgspec")
    validator = validation.EventValidator(
        backfill_horizon_ms=86_400_000,
        max_future_ms=0,
        max_batch_events=max(map(len, batch.values())),
    )
    for app_id, app_events in batch.items():
        body = msgspec.json.encode({"events": app_events})
        result = validator.validate_batch(body, app_id=app_id, now_ms=NOW_MS)
        assert result.rejected == [], result.rejected[:3]
        assert len(result.accepted) == len(app_events)
