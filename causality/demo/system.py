"""Device-level events: connectivity, battery, memory pressure, permission prompts.

They update the device first, so the envelope that carries them already shows the new state
(``network_change`` travels with the new ``network_type``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from causality.demo.population import Device, Emit, weighted


def network_change(*, device: Device, current: str) -> Iterator[Emit]:
    """Switch the device's network; nothing to report if it is already on ``current``."""
    previous = device.context["network_type"]
    if current == previous:
        return
    device.context["network_type"] = current
    yield "network_change", {"previous_type": previous, "current_type": current}


def battery_change(*, rng: random.Random, device: Device) -> Emit:
    """Drain or charge a little; now and then the phone is plugged in or unplugged."""
    if rng.random() < 0.12:
        device.battery_state = (
            "charging" if device.battery_state == "discharging" else "discharging"
        )
    if device.battery_state == "discharging":
        device.battery_level = max(1, device.battery_level - rng.randint(1, 3))
    else:
        device.battery_level = min(100, device.battery_level + rng.randint(1, 5))
        device.battery_state = "full" if device.battery_level == 100 else "charging"
    return "battery_change", {"battery_level": device.battery_level, "state": device.battery_state}


def memory_warning(*, rng: random.Random, device: Device) -> Emit:
    """Used plus available always adds up to the device's RAM."""
    used = int(device.memory_bytes * rng.uniform(0.86, 0.97))
    available = device.memory_bytes - used
    level = "critical" if available < device.memory_bytes * 0.06 else "low"
    return "memory_warning", {
        "available_memory_bytes": available,
        "used_memory_bytes": used,
        "level": level,
    }


def permission_prompt(*, rng: random.Random, permission: str, screen: str) -> Iterator[Emit]:
    """An OS permission dialog and the user's answer."""
    yield "permission_request", {"permission_type": permission, "trigger_screen": screen}
    status = weighted(rng, [("granted", 0.62), ("denied", 0.3), ("denied_permanently", 0.08)])
    yield "permission_result", {"permission_type": permission, "status": status}
