"""Cart and checkout: the part of a visit that feeds the purchase funnel and revenue.

Every step is only reachable from the one before (a view before an add, a fresh add before a
checkout, one checkout per purchase), so product_view >= add_to_cart >= checkout_start >=
purchase_complete holds by construction and the funnel chart is always well-formed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from causality.demo.catalog import (
    CHECKOUT_STEPS,
    PAYMENT_ERRORS,
    PAYMENT_METHODS,
    PERMISSIONS,
    PRODUCTS,
    SCREENS,
    Product,
    local_price_cents,
)
from causality.demo.gestures import Gestures
from causality.demo.population import Cart, Device, Emit, weighted
from causality.demo.system import permission_prompt

STEP_SCREENS = ("checkout_shipping", "checkout_delivery", "checkout_payment", "checkout_review")
_PRODUCTS_BY_ID = {p.product_id: p for p in PRODUCTS}


@dataclass(frozen=True, slots=True)
class Funnel:
    """Conversion knobs; they differ by platform so the funnel chart has a story to tell."""

    add_to_cart: float
    checkout: float
    step_continue: float
    pay_success: float


FUNNELS: dict[str, Funnel] = {
    "ios": Funnel(add_to_cart=0.32, checkout=0.62, step_continue=0.9, pay_success=0.85),
    "android": Funnel(add_to_cart=0.27, checkout=0.55, step_continue=0.86, pay_success=0.75),
    "web": Funnel(add_to_cart=0.22, checkout=0.5, step_continue=0.84, pay_success=0.85),
}


class Shop:
    """One visit's shopping; the visit keeps navigation and lends it through ``navigate``."""

    def __init__(
        self,
        *,
        rng: random.Random,
        device: Device,
        gestures: Gestures,
        navigate: Callable[[str], Iterator[Emit]],
    ) -> None:
        self.rng = rng
        self.device = device
        self.gestures = gestures
        self.navigate = navigate
        self.funnel = FUNNELS[device.platform]
        self.just_added = False

    def price(self, product: Product) -> int:
        """The product's price in the device's market currency, in minor units."""
        return local_price_cents(product, self.device.region)

    def product_page(self, product: Product) -> Iterator[Emit]:
        rng = self.rng
        if rng.random() < 0.06:
            yield from self.gestures.tap("product", "share")
            channel = rng.choice(("messages", "whatsapp", "copy_link", "email"))
            share = {"event_name": "share_clicked", "product_id": product.product_id}
            yield "custom", share | {"channel": channel}
        if rng.random() < self.funnel.add_to_cart:
            yield from self._add(product)

    def cart_page(self) -> Iterator[Emit]:
        rng, cart = self.rng, self.device.cart
        if cart is None or not cart.items:
            return
        if rng.random() < 0.25:
            product_id = rng.choice(sorted(cart.items))
            reason = rng.choice(("changed_mind", "too_expensive", "found_elsewhere", "later"))
            yield (
                "remove_from_cart",
                {
                    "product_id": product_id,
                    "quantity": cart.items.pop(product_id),
                    "cart_id": cart.cart_id,
                    "reason": reason,
                },
            )
            if not cart.items:
                return
        if rng.random() < 0.12 and not cart.discount_percent:
            yield self.gestures.text_input("cart", "coupon_code", "text", length=8)
            yield from self.gestures.tap("cart", "apply_coupon")
            cart.discount_percent = rng.choice((10, 15, 20))
            yield (
                "custom",
                {
                    "event_name": "coupon_applied",
                    "coupon_code": f"SAVE{cart.discount_percent}",
                    "discount_percent": cart.discount_percent,
                    "cart_id": cart.cart_id,
                },
            )
        if cart.fresh_items and rng.random() < self.funnel.checkout:
            yield from self._checkout(cart)

    def _add(self, product: Product) -> Iterator[Emit]:
        rng, dev = self.rng, self.device
        if dev.cart is None:
            dev.cart = Cart(cart_id=f"cart_{rng.getrandbits(40):010x}")
        quantity = 1 if rng.random() < 0.85 else rng.randint(2, 3)
        yield from self.gestures.tap("product", "add_to_cart")
        dev.cart.items[product.product_id] = dev.cart.items.get(product.product_id, 0) + quantity
        dev.cart.fresh_items = True
        self.just_added = True
        yield (
            "add_to_cart",
            {
                "product_id": product.product_id,
                "product_name": product.name,
                "quantity": quantity,
                "price_cents": self.price(product),
                "currency": dev.region.currency,
                "cart_id": dev.cart.cart_id,
            },
        )

    def _checkout(self, cart: Cart) -> Iterator[Emit]:
        rng = self.rng
        lines = [(_PRODUCTS_BY_ID[pid], qty) for pid, qty in sorted(cart.items.items())]
        item_count = sum(qty for _, qty in lines)
        subtotal = sum(self.price(p) * qty for p, qty in lines)
        total = subtotal * (100 - cart.discount_percent) // 100
        currency = self.device.region.currency
        cart.fresh_items = False
        yield from self.gestures.tap("cart", "checkout_button")
        yield (
            "checkout_start",
            {
                "cart_id": cart.cart_id,
                "item_count": item_count,
                "total_cents": total,
                "currency": currency,
            },
        )
        steps = zip(CHECKOUT_STEPS, STEP_SCREENS, strict=True)
        for number, (step_name, screen) in enumerate(steps, start=1):
            yield from self.navigate(screen)
            if screen == "checkout_shipping" and self.gestures.touch and rng.random() < 0.3:
                trigger = dict(PERMISSIONS)["location"]
                yield from permission_prompt(rng=rng, permission="location", screen=trigger)
            for field_id, field_type in SCREENS[screen].fields:
                yield self.gestures.text_input(screen, field_id, field_type)
            if rng.random() > self.funnel.step_continue:
                return
            button = "place_order" if screen == "checkout_review" else "continue"
            yield from self.gestures.tap(screen, button)
            yield (
                "checkout_step",
                {
                    "cart_id": cart.cart_id,
                    "step_number": number,
                    "step_name": step_name,
                    "step_duration_ms": rng.randint(4_000, 90_000),
                },
            )
        method = self._payment_method()
        for attempt in range(2):
            if rng.random() < self.funnel.pay_success:
                items = [
                    {
                        "product_id": p.product_id,
                        "product_name": p.name,
                        "quantity": qty,
                        "price_cents": self.price(p),
                    }
                    for p, qty in lines
                ]
                yield (
                    "purchase_complete",
                    {
                        "order_id": f"ord_{rng.getrandbits(48):012x}",
                        "cart_id": cart.cart_id,
                        "item_count": item_count,
                        "total_cents": total,
                        "currency": currency,
                        "payment_method": method,
                        "items": items,
                    },
                )
                self.device.cart = None
                yield from self.navigate("order_confirmation")
                return
            code, message = rng.choice(PAYMENT_ERRORS)
            yield (
                "purchase_failed",
                {
                    "cart_id": cart.cart_id,
                    "error_code": code,
                    "error_message": message,
                    "payment_method": method,
                    "checkout_step": CHECKOUT_STEPS.index("payment") + 1,
                },
            )
            if attempt > 0 or rng.random() < 0.5:
                return
            method = self._payment_method(excluding=method)
            yield from self.gestures.tap("checkout_review", "place_order")

    def _payment_method(self, *, excluding: str | None = None) -> str:
        wallet = {"ios": "google_pay", "android": "apple_pay"}.get(self.device.platform)
        allowed = [(m, w) for m, w in PAYMENT_METHODS if m not in (excluding, wallet)]
        return weighted(self.rng, allowed)
