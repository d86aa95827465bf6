"""Realistic request bodies, made unique per request without re-encoding JSON.

Every event needs its own ``idempotency_key`` (JetStream would otherwise answer "duplicate"
and skip the store), but encoding 100 dicts per request would make the load generator the
bottleneck. So bodies are byte templates with one ``%d`` per event: a request costs one
``bytes % tuple`` in C.
"""

from __future__ import annotations

import random
import time
from typing import Final

import msgspec

EVENT_TYPES: Final = ("screen_view", "button_tap", "add_to_cart")
_SCREENS: Final = ("home", "search", "product_detail", "cart", "checkout", "profile")
_BUTTONS: Final = ("buy_now", "add_to_cart", "search_submit", "open_menu", "apply_coupon")
_PRODUCTS: Final = (("p-1001", "Mug", 1299), ("p-2002", "T-shirt", 2499), ("p-3003", "Lamp", 5999))
_KEY_SLOT: Final = "@@KEY@@"


def _device_context(rng: random.Random) -> dict[str, object]:
    if rng.random() < 0.5:
        return {
            "platform": "ios",
            "os_version": "18.1",
            "app_version": "4.2.0",
            "build_number": "420",
            "device_model": "iPhone16,2",
            "manufacturer": "Apple",
            "screen_width": 1179,
            "screen_height": 2556,
            "locale": "de-DE",
            "timezone": "Europe/Berlin",
            "network_type": "wifi",
            "carrier": "Telekom",
            "is_jailbroken": False,
            "is_emulator": False,
            "sdk_version": "causality-ios/1.0.0",
        }
    return {
        "platform": "android",
        "os_version": "15",
        "app_version": "4.2.0",
        "build_number": "4201",
        "device_model": "Pixel 9",
        "manufacturer": "Google",
        "screen_width": 1080,
        "screen_height": 2424,
        "locale": "en-US",
        "timezone": "America/New_York",
        "network_type": "cellular_5g",
        "carrier": "T-Mobile",
        "is_jailbroken": False,
        "is_emulator": False,
        "sdk_version": "causality-android/1.0.0",
    }


def _properties(event_type: str, rng: random.Random) -> dict[str, object]:
    if event_type == "screen_view":
        screen = rng.choice(_SCREENS)
        return {
            "screen_name": screen,
            "screen_class": f"{screen.title().replace('_', '')}ViewController",
            "previous_screen": rng.choice(_SCREENS),
            "params": {"path": f"/{screen}", "title": screen.replace("_", " ").title()},
        }
    if event_type == "button_tap":
        return {
            "button_id": rng.choice(_BUTTONS),
            "button_text": "Buy now",
            "screen_name": rng.choice(_SCREENS),
            "coordinates": {"x": round(rng.uniform(0, 400), 1), "y": round(rng.uniform(0, 800), 1)},
        }
    product_id, name, price = rng.choice(_PRODUCTS)
    return {
        "product_id": product_id,
        "product_name": name,
        "quantity": rng.randint(1, 3),
        "price_cents": price,
        "currency": "EUR",
        "cart_id": f"cart-{rng.randint(1, 10_000)}",
    }


def envelope(rng: random.Random, *, key: str, now_ms: int) -> dict[str, object]:
    """One SDK envelope of the screen_view / button_tap / add_to_cart mix."""
    event_type = rng.choice(EVENT_TYPES)
    device = rng.randint(1, 50_000)
    return {
        "type": event_type,
        "device_id": f"device-{device:06d}",
        "user_id": f"user-{device}" if rng.random() < 0.6 else None,
        "session_id": f"sess-{device}-{rng.randint(1, 20)}",
        "idempotency_key": key,
        "timestamp_ms": now_ms - rng.randint(0, 60_000),
        "device_context": _device_context(rng),
        "properties": _properties(event_type, rng),
    }


def _template(envelopes: list[dict[str, object]], *, batch: bool) -> bytes:
    """Encode once, then turn each key slot into ``%d`` (any literal ``%`` is escaped)."""
    body = msgspec.json.encode({"events": envelopes} if batch else envelopes[0])
    body = body.replace(b"%", b"%%")
    return body.replace(_KEY_SLOT.encode(), b"%d")


class BodyFactory:
    """Request bodies of ``size`` events (``size == 1``: a bare envelope for /ingest).

    Keys are ``<prefix>-<counter>``; the prefix names the run and target so that no two
    requests of a whole benchmark run share an idempotency key.
    """

    def __init__(self, *, size: int, prefix: str, seed: int = 7, variants: int = 8) -> None:
        rng = random.Random(seed)
        now_ms = time.time_ns() // 1_000_000
        slot = f"{prefix}-{_KEY_SLOT}"
        self.size = size
        self._templates = [
            _template([envelope(rng, key=slot, now_ms=now_ms) for _ in range(size)], batch=size > 1)
            for _ in range(variants)
        ]
        self._next = 0

    def __call__(self) -> bytes:
        """The next body; its keys are the next ``size`` counter values."""
        n = self._next
        self._next = n + self.size
        template = self._templates[(n // self.size) % len(self._templates)]
        if self.size == 1:
            return template % n
        return template % tuple(range(n, n + self.size))
