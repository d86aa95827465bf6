"""Who the demo traffic comes from: devices, browsers, server hosts and their users.

A device keeps its hardware, locale and build for life, so per-device breakdowns in the
warehouse stay believable; only what really changes (network, battery, login) moves.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from causality.demo.catalog import (
    ANDROID_EMULATOR,
    ANDROID_HARDWARE,
    APP_VERSIONS,
    BROWSERS,
    IOS_HARDWARE,
    IOS_SIMULATOR,
    OS_VERSIONS,
    REGIONS,
    SDK_VERSIONS,
    SERVER_HOSTS,
    SERVER_RELEASE,
    WEB_RELEASE,
    Hardware,
    Region,
)

T = TypeVar("T")

Emit = tuple[str, dict[str, Any]]
"""One simulated event before it gets its envelope: ``(type, properties)``."""


def weighted(rng: random.Random, options: Sequence[tuple[T, float]]) -> T:
    """Pick from (value, weight) pairs."""
    return rng.choices([o[0] for o in options], weights=[o[1] for o in options])[0]


def rng_uuid(rng: random.Random) -> str:
    """A UUID4 drawn from the seeded generator, so runs with one seed repeat exactly."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class UserDirectory:
    """Account ids shared by every app, so the backend acts for users the clients know."""

    def __init__(self, *, rng: random.Random, initial: int = 400) -> None:
        self._rng = rng
        self.ids: list[str] = [self._fresh() for _ in range(initial)]

    def _fresh(self) -> str:
        return f"usr_{self._rng.getrandbits(48):012x}"

    def create(self) -> str:
        user_id = self._fresh()
        self.ids.append(user_id)
        return user_id

    def existing(self) -> str:
        return self._rng.choice(self.ids)


@dataclass(slots=True)
class Cart:
    cart_id: str
    items: dict[str, int] = field(default_factory=dict)
    # A cart enters checkout at most once per new addition, so add_to_cart >= checkout_start.
    fresh_items: bool = False
    discount_percent: int = 0


@dataclass(slots=True)
class Device:
    """One install (or browser, or backend host) and the person behind it."""

    device_id: str
    platform: str
    region: Region
    context: dict[str, Any]
    memory_bytes: int
    account_id: str | None
    wants_account: bool
    user_id: str | None = None
    process_alive: bool = False
    first_run: bool = True
    last_screen: str = "home"
    battery_level: int = 80
    battery_state: str = "discharging"
    cart: Cart | None = None
    last_ts_ms: int = 0
    busy: bool = False


def _hardware(rng: random.Random, platform: str) -> tuple[Hardware, bool]:
    if platform == "ios":
        if rng.random() < 0.005:
            return IOS_SIMULATOR, True
        return weighted(rng, [(h, h.weight) for h in IOS_HARDWARE]), False
    if rng.random() < 0.01:
        return ANDROID_EMULATOR, True
    return weighted(rng, [(h, h.weight) for h in ANDROID_HARDWARE]), False


def _identity(rng: random.Random, users: UserDirectory) -> tuple[str | None, bool, str | None]:
    """(account id, wants an account, logged-in user): about a third stay anonymous."""
    roll = rng.random()
    if roll < 0.45:
        account = users.existing()
        return account, True, account if rng.random() < 0.7 else None
    if roll < 0.65:
        return None, True, None
    return None, False, None


def make_client(*, rng: random.Random, platform: str, users: UserDirectory) -> Device:
    """A phone/tablet (ios, android) or a browser (web)."""
    region = weighted(rng, [(r, r.weight) for r in REGIONS])
    account, wants, logged_in = _identity(rng, users)
    if platform == "web":
        browser = weighted(rng, [(b, b.weight) for b in BROWSERS])
        device_id = rng_uuid(rng)
        on_phone = browser.width < 800
        context: dict[str, Any] = {
            "platform": "web",
            "os_version": browser.os_version,
            "app_version": WEB_RELEASE[0],
            "build_number": WEB_RELEASE[1],
            "device_model": browser.name,
            "manufacturer": browser.vendor,
            "screen_width": browser.width,
            "screen_height": browser.height,
            "network_type": weighted(
                rng, [("wifi", 0.6), ("cellular_4g", 0.25), ("ethernet", 0.15)]
            )
            if on_phone
            else weighted(rng, [("wifi", 0.6), ("ethernet", 0.4)]),
            "is_jailbroken": False,
            "is_emulator": False,
        }
        memory = 8 * 1024**3
    else:
        hardware, emulated = _hardware(rng, platform)
        version, build, _ = weighted(rng, [(v, v[2]) for v in APP_VERSIONS[platform]])
        device_id = rng_uuid(rng).upper() if platform == "ios" else f"{rng.getrandbits(64):016x}"
        context = {
            "platform": platform,
            "os_version": weighted(rng, OS_VERSIONS[platform]),
            "app_version": version,
            "build_number": build,
            "device_model": hardware.model,
            "manufacturer": hardware.manufacturer,
            "screen_width": hardware.width,
            "screen_height": hardware.height,
            "network_type": weighted(
                rng,
                [
                    ("wifi", 0.6),
                    ("cellular_5g", 0.15),
                    ("cellular_4g", 0.22),
                    ("cellular_3g", 0.03),
                ],
            ),
            "carrier": rng.choice(region.carriers),
            "is_jailbroken": (not emulated) and rng.random() < 0.015,
            "is_emulator": emulated,
        }
        memory = hardware.memory_bytes
    context["locale"] = region.locale
    context["timezone"] = rng.choice(region.timezones)
    context["sdk_version"] = SDK_VERSIONS[platform]
    return Device(
        device_id=device_id,
        platform=platform,
        region=region,
        context=context,
        memory_bytes=memory,
        account_id=account,
        wants_account=wants,
        user_id=logged_in,
        battery_level=rng.randint(15, 100),
        battery_state=weighted(rng, [("discharging", 0.8), ("charging", 0.2)]),
    )


def make_server(*, rng: random.Random, index: int) -> Device:
    """A backend host; it has no screen or carrier, so those fields are left out."""
    model, vendor = SERVER_HOSTS[index % len(SERVER_HOSTS)]
    context: dict[str, Any] = {
        "platform": "server",
        "os_version": "Linux 6.1",
        "app_version": SERVER_RELEASE[0],
        "build_number": SERVER_RELEASE[1],
        "device_model": model,
        "manufacturer": vendor,
        "locale": "en-US",
        "timezone": "UTC",
        "network_type": "ethernet",
        "is_jailbroken": False,
        "is_emulator": False,
        "sdk_version": SDK_VERSIONS["server"],
    }
    return Device(
        device_id=f"api-{index}-{rng.getrandbits(24):06x}",
        platform="server",
        region=REGIONS[0],
        context=context,
        memory_bytes=16 * 1024**3,
        account_id=None,
        wants_account=False,
    )
