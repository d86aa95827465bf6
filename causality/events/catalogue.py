"""The catalogue of event types: each type's category and the typed shape of its payload.

The payload Structs are the executable form of the catalogue in EVENTS.md. They are lenient
on presence (almost every field is optional, because SDKs and auto-capture fill what they
know) but strict on types: a price of ``"12"`` or a ``true`` duration is an error, because a
wrong type poisons every query that aggregates the field later. Unknown fields are allowed
(msgspec skips them while validating) and stay in the stored ``properties`` JSON, so SDKs can
send extra context without a contract change.

The few required fields are the ones without which the event means nothing: the product of a
product event, the order of a purchase, and ``event_name`` of a custom event.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec

INT64_MAX: Final = 2**63 - 1
CUSTOM_TYPE: Final = "custom"
EVENT_NAME_MAX_CHARS: Final = 200

Platform = Literal["ios", "android", "web", "server"]
NetworkType = Literal[
    "wifi", "cellular_2g", "cellular_3g", "cellular_4g", "cellular_5g", "ethernet", "offline"
]

# Counts, durations, sizes and money never go below zero and must fit the warehouse's int64.
Count = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
Cents = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]

# Values a custom event property may hold: JSON scalars, or a flat list of them.
CustomScalar = str | int | float | bool | None
CustomValue = CustomScalar | list[CustomScalar]


class Payload(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """Base of the typed payloads; only used to validate, the raw JSON is what gets stored."""


class Point(Payload):
    """A screen position in points or CSS pixels."""

    x: float
    y: float


# -- user ------------------------------------------------------------------------------------


class LoginPayload(Payload):
    """A user signed in; ``is_new_user`` separates first logins for activation funnels."""

    user_id: str | None = None
    method: str | None = None
    is_new_user: bool | None = None


class LogoutPayload(Payload):
    """A user signed out, voluntarily or not (``reason``)."""

    user_id: str | None = None
    reason: str | None = None


class SignupPayload(Payload):
    """An account was created; ``referral_source`` feeds acquisition reports."""

    user_id: str | None = None
    method: str | None = None
    referral_source: str | None = None


class ProfileUpdatePayload(Payload):
    """A user changed their profile; only the names of the fields, never their values."""

    user_id: str | None = None
    fields_updated: list[str] | None = None


# -- screen ----------------------------------------------------------------------------------


class ScreenParams(Payload):
    """Screen parameters; web page views put the URL parts and UTM tags here."""

    url: str | None = None
    path: str | None = None
    title: str | None = None
    referrer: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None


class ScreenViewPayload(Payload):
    """A screen (or web page) was shown; the backbone of paths and funnels."""

    screen_name: str | None = None
    screen_class: str | None = None
    previous_screen: str | None = None
    params: ScreenParams | None = None


class ScreenExitPayload(Payload):
    """A screen was left; ``duration_ms`` is the time spent on it."""

    screen_name: str | None = None
    duration_ms: Count | None = None
    next_screen: str | None = None


# -- interaction -----------------------------------------------------------------------------


class ButtonTapPayload(Payload):
    """A button was tapped or clicked."""

    button_id: str | None = None
    button_text: str | None = None
    screen_name: str | None = None
    coordinates: Point | None = None


class SwipePayload(Payload):
    """A swipe gesture from ``start`` to ``end``."""

    direction: str | None = None
    screen_name: str | None = None
    start: Point | None = None
    end: Point | None = None
    duration_ms: Count | None = None


class ScrollPayload(Payload):
    """A scroll; ``scroll_depth_percent`` (0-100) measures how far content was read."""

    screen_name: str | None = None
    container_id: str | None = None
    scroll_depth_percent: Percent | None = None
    direction: str | None = None


class TextInputPayload(Payload):
    """A text field was edited; only its length and timing, never the text itself."""

    field_id: str | None = None
    field_type: str | None = None
    screen_name: str | None = None
    text_length: Count | None = None
    input_duration_ms: Count | None = None


class LongPressPayload(Payload):
    """An element was pressed and held."""

    element_id: str | None = None
    screen_name: str | None = None
    coordinates: Point | None = None
    duration_ms: Count | None = None


class DoubleTapPayload(Payload):
    """An element was double-tapped."""

    element_id: str | None = None
    screen_name: str | None = None
    coordinates: Point | None = None


# -- commerce --------------------------------------------------------------------------------


class ProductViewPayload(Payload):
    """A product detail was shown; money is integer cents plus an ISO-4217 code."""

    product_id: str
    product_name: str | None = None
    category: str | None = None
    price_cents: Cents | None = None
    currency: Currency | None = None
    source: str | None = None


class AddToCartPayload(Payload):
    """A product went into a cart."""

    product_id: str
    product_name: str | None = None
    quantity: Count | None = None
    price_cents: Cents | None = None
    currency: Currency | None = None
    cart_id: str | None = None


class RemoveFromCartPayload(Payload):
    """A product left a cart."""

    product_id: str
    quantity: Count | None = None
    cart_id: str | None = None
    reason: str | None = None


class CheckoutStartPayload(Payload):
    """Checkout began; the top of the purchase funnel."""

    cart_id: str | None = None
    item_count: Count | None = None
    total_cents: Cents | None = None
    currency: Currency | None = None


class CheckoutStepPayload(Payload):
    """A checkout step was completed, for step-by-step drop-off analysis."""

    cart_id: str | None = None
    step_number: Count | None = None
    step_name: str | None = None
    step_duration_ms: Count | None = None


class PurchaseItem(Payload):
    """One line of a completed purchase."""

    product_id: str | None = None
    product_name: str | None = None
    quantity: Count | None = None
    price_cents: Cents | None = None


class PurchaseCompletePayload(Payload):
    """An order was paid; the source of revenue figures, so ``order_id`` is required."""

    order_id: str
    cart_id: str | None = None
    item_count: Count | None = None
    total_cents: Cents | None = None
    currency: Currency | None = None
    payment_method: str | None = None
    items: list[PurchaseItem] | None = None


class PurchaseFailedPayload(Payload):
    """A payment failed; ``checkout_step`` may be the step's number or its name."""

    cart_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    payment_method: str | None = None
    checkout_step: int | str | None = None


# -- system ----------------------------------------------------------------------------------


class AppStartPayload(Payload):
    """The app launched; cold starts and launch time drive performance dashboards."""

    is_cold_start: bool | None = None
    launch_duration_ms: Count | None = None
    launch_source: str | None = None
    deeplink_url: str | None = None


class AppBackgroundPayload(Payload):
    """The app went to the background after ``foreground_duration_ms``."""

    foreground_duration_ms: Count | None = None
    current_screen: str | None = None


class AppForegroundPayload(Payload):
    """The app came back after ``background_duration_ms``."""

    background_duration_ms: Count | None = None
    resume_screen: str | None = None


class AppCrashPayload(Payload):
    """The app crashed; the stack trace is kept for grouping crashes."""

    crash_type: str | None = None
    crash_message: str | None = None
    stack_trace: str | None = None
    current_screen: str | None = None


class NetworkChangePayload(Payload):
    """Connectivity changed; both values use the device context's network types."""

    previous_type: NetworkType | None = None
    current_type: NetworkType | None = None


class PermissionRequestPayload(Payload):
    """The app asked for an OS permission."""

    permission_type: str | None = None
    trigger_screen: str | None = None


class PermissionResultPayload(Payload):
    """The user answered a permission prompt."""

    permission_type: str | None = None
    status: Literal["granted", "denied", "denied_permanently"] | None = None


class MemoryWarningPayload(Payload):
    """The OS warned about memory pressure."""

    available_memory_bytes: Count | None = None
    used_memory_bytes: Count | None = None
    level: Literal["low", "critical"] | None = None


class BatteryChangePayload(Payload):
    """The battery level (0-100) or charging state changed."""

    battery_level: Percent | None = None
    state: Literal["charging", "discharging", "full"] | None = None


# -- the catalogue ---------------------------------------------------------------------------

PAYLOAD_TYPES: Final[dict[str, type[Payload]]] = {
    "login": LoginPayload,
    "logout": LogoutPayload,
    "signup": SignupPayload,
    "profile_update": ProfileUpdatePayload,
    "screen_view": ScreenViewPayload,
    "screen_exit": ScreenExitPayload,
    "button_tap": ButtonTapPayload,
    "swipe": SwipePayload,
    "scroll": ScrollPayload,
    "text_input": TextInputPayload,
    "long_press": LongPressPayload,
    "double_tap": DoubleTapPayload,
    "product_view": ProductViewPayload,
    "add_to_cart": AddToCartPayload,
    "remove_from_cart": RemoveFromCartPayload,
    "checkout_start": CheckoutStartPayload,
    "checkout_step": CheckoutStepPayload,
    "purchase_complete": PurchaseCompletePayload,
    "purchase_failed": PurchaseFailedPayload,
    "app_start": AppStartPayload,
    "app_background": AppBackgroundPayload,
    "app_foreground": AppForegroundPayload,
    "app_crash": AppCrashPayload,
    "network_change": NetworkChangePayload,
    "permission_request": PermissionRequestPayload,
    "permission_result": PermissionResultPayload,
    "memory_warning": MemoryWarningPayload,
    "battery_change": BatteryChangePayload,
}
"""Catalogued event type -> the Struct its ``properties`` must match (``custom`` excluded)."""

_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    "user": ("login", "logout", "signup", "profile_update"),
    "screen": ("screen_view", "screen_exit"),
    "interaction": ("button_tap", "swipe", "scroll", "text_input", "long_press", "double_tap"),
    "commerce": (
        "product_view",
        "add_to_cart",
        "remove_from_cart",
        "checkout_start",
        "checkout_step",
        "purchase_complete",
        "purchase_failed",
    ),
    "system": (
        "app_start",
        "app_background",
        "app_foreground",
        "app_crash",
        "network_change",
        "permission_request",
        "permission_result",
        "memory_warning",
        "battery_change",
    ),
    "custom": (CUSTOM_TYPE,),
}

CATEGORY_OF: Final[dict[str, str]] = {
    event_type: category for category, types in _CATEGORIES.items() for event_type in types
}
"""Event type -> category, for every type the server accepts (``custom`` included)."""

CATEGORIES: Final[tuple[str, ...]] = tuple(_CATEGORIES)
"""The categories in catalogue order, for UIs and the LLM's schema context."""
