"""Taps, swipes, scrolls and typing, placed where each screen's controls really are.

Coordinates scatter around a control's position the way thumbs do, so click heatmaps built
from demo data show hot spots instead of uniform noise.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from causality.demo.catalog import SCREENS
from causality.demo.population import Device, Emit, weighted

# Buttons that move the user on; the visit taps them itself when it navigates.
_NAVIGATING = frozenset({"add_to_cart", "checkout_button", "place_order", "continue"})
_TYPING_LENGTHS = {"email": (10, 32), "password": (8, 18), "search": (3, 20)}


class Gestures:
    """Interaction payloads for one device, sized to its screen."""

    def __init__(self, *, rng: random.Random, device: Device) -> None:
        self.rng = rng
        self.device = device
        self.touch = device.platform != "web"

    def tap(self, screen: str, button_id: str) -> Iterator[Emit]:
        """A ``button_tap`` on ``button_id``, if ``screen`` has that button."""
        for bid, text, rx, ry in SCREENS[screen].buttons:
            if bid == button_id:
                point = self.point(rx, ry)
                yield (
                    "button_tap",
                    {
                        "button_id": bid,
                        "button_text": text,
                        "screen_name": screen,
                        "coordinates": point,
                    },
                )
                return

    def text_input(
        self, screen: str, field_id: str, field_type: str, *, length: int | None = None
    ) -> Emit:
        """A ``text_input``: only length and typing time, never the text (EVENTS.md)."""
        if length is None:
            low, high = _TYPING_LENGTHS.get(field_type, (2, 30))
            length = 16 if field_id == "card_number" else self.rng.randint(low, high)
        payload = {
            "field_id": field_id,
            "field_type": field_type,
            "screen_name": screen,
            "text_length": length,
            "input_duration_ms": length * self.rng.randint(140, 420),
        }
        return "text_input", payload

    def idle(self, screen: str) -> Iterator[Emit]:
        """What people do on a screen before moving on: zero to three gestures."""
        rng, ui = self.rng, SCREENS[screen]
        for _ in range(weighted(rng, [(0, 0.2), (1, 0.35), (2, 0.3), (3, 0.15)])):
            kinds: list[tuple[str, float]] = [("tap", 0.25)]
            if ui.container:
                kinds.append(("scroll", 0.45))
            if ui.carousel:
                kinds.append(("swipe", 0.25 if self.touch else 0.08))
            if ui.fields:
                kinds.append(("text", 0.3))
            if self.touch and screen in ("product", "search_results", "category", "cart"):
                kinds.append(("long_press", 0.05))
            if self.touch and screen == "product":
                kinds.append(("double_tap", 0.07))
            kind = weighted(rng, kinds)
            if kind == "tap" and ui.buttons:
                button_id = rng.choice(ui.buttons)[0]
                if button_id not in _NAVIGATING:
                    yield from self.tap(screen, button_id)
            elif kind == "scroll":
                yield (
                    "scroll",
                    {
                        "screen_name": screen,
                        "container_id": ui.container,
                        "scroll_depth_percent": rng.randint(5, 100),
                        "direction": "down" if rng.random() < 0.8 else "up",
                    },
                )
            elif kind == "swipe":
                yield "swipe", self._swipe(screen)
            elif kind == "text":
                field_id, field_type = rng.choice(ui.fields)
                yield self.text_input(screen, field_id, field_type)
            elif kind == "long_press":
                yield (
                    "long_press",
                    {
                        "element_id": "cart_item" if screen == "cart" else "product_tile",
                        "screen_name": screen,
                        "coordinates": self.point(0.5, 0.45),
                        "duration_ms": rng.randint(500, 1600),
                    },
                )
            elif kind == "double_tap":
                yield (
                    "double_tap",
                    {
                        "element_id": "product_image",
                        "screen_name": screen,
                        "coordinates": self.point(0.5, 0.3),
                    },
                )

    def point(self, rx: float, ry: float) -> dict[str, int]:
        """A touch near the relative position (rx, ry), inside the screen."""
        width = self.device.context["screen_width"]
        height = self.device.context["screen_height"]
        x = int(rx * width + self.rng.gauss(0, width * 0.04))
        y = int(ry * height + self.rng.gauss(0, height * 0.015))
        return {"x": min(max(x, 0), width - 1), "y": min(max(y, 0), height - 1)}

    def _swipe(self, screen: str) -> dict[str, Any]:
        leftward = self.rng.random() < 0.7
        start, end = (0.85, 0.15) if leftward else (0.15, 0.85)
        return {
            "direction": "left" if leftward else "right",
            "screen_name": screen,
            "start": self.point(start, 0.3),
            "end": self.point(end, 0.3),
            "duration_ms": self.rng.randint(120, 450),
        }
