"""Static world data for the demo: products, regions, hardware, screens.

Kept apart from the simulation so the numbers that shape the dashboards (prices, conversion,
crash-prone builds) can be read and tuned in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AppKind = Literal["mobile", "web", "server"]


@dataclass(frozen=True, slots=True)
class Product:
    product_id: str
    name: str
    category: str
    usd_cents: int


PRODUCTS: tuple[Product, ...] = (
    Product("sku-1001", "Trail Runner 3", "shoes", 12999),
    Product("sku-1002", "City Sneaker", "shoes", 8999),
    Product("sku-1003", "Merino Hiking Sock", "apparel", 1899),
    Product("sku-1004", "Rain Shell Jacket", "apparel", 17900),
    Product("sku-1005", "Everyday Hoodie", "apparel", 5900),
    Product("sku-1006", "Wireless Earbuds Pro", "electronics", 19900),
    Product("sku-1007", "Smart Watch S2", "electronics", 24900),
    Product("sku-1008", "USB-C Power Bank", "electronics", 3999),
    Product("sku-1009", "Noise-Cancel Headphones", "electronics", 29900),
    Product("sku-1010", "Pour-Over Coffee Set", "home", 4500),
    Product("sku-1011", "Linen Bedding Set", "home", 13900),
    Product("sku-1012", "Cast Iron Skillet", "home", 3499),
    Product("sku-1013", "Desk Lamp Halo", "home", 6900),
    Product("sku-1014", "Vitamin C Serum", "beauty", 2400),
    Product("sku-1015", "Daily Sunscreen SPF50", "beauty", 1800),
    Product("sku-1016", "Beard Trimmer X", "beauty", 4999),
    Product("sku-1017", "2-Person Tent", "outdoors", 21900),
    Product("sku-1018", "Insulated Bottle 1L", "outdoors", 3200),
    Product("sku-1019", "Trekking Poles", "outdoors", 8900),
    Product("sku-1020", "Headlamp 400lm", "outdoors", 3900),
)

CATEGORIES: tuple[str, ...] = tuple(sorted({p.category for p in PRODUCTS}))

SEARCH_TERMS: tuple[str, ...] = (
    "running shoes",
    "jacket",
    "earbuds",
    "coffee",
    "tent",
    "sunscreen",
    "gift ideas",
    "watch",
    "hoodie",
)


@dataclass(frozen=True, slots=True)
class Region:
    """A market: locale, clocks, carriers and the currency prices are shown in."""

    locale: str
    timezones: tuple[str, ...]
    carriers: tuple[str, ...]
    currency: str
    usd_rate: float
    weight: float


REGIONS: tuple[Region, ...] = (
    Region(
        "en-US",
        ("America/New_York", "America/Chicago", "America/Los_Angeles"),
        ("Verizon", "AT&T", "T-Mobile"),
        "USD",
        1.0,
        0.38,
    ),
    Region("en-GB", ("Europe/London",), ("EE", "Vodafone UK", "O2"), "GBP", 0.79, 0.12),
    Region("de-DE", ("Europe/Berlin",), ("Telekom", "Vodafone.de", "O2 - DE"), "EUR", 0.92, 0.12),
    Region("fr-FR", ("Europe/Paris",), ("Orange F", "SFR", "Free"), "EUR", 0.92, 0.08),
    Region("pt-BR", ("America/Sao_Paulo",), ("Vivo", "Claro BR", "TIM"), "BRL", 5.0, 0.1),
    Region("en-IN", ("Asia/Kolkata",), ("Jio", "Airtel"), "INR", 83.0, 0.1),
    Region("en-CA", ("America/Toronto", "America/Vancouver"), ("Rogers", "Bell"), "CAD", 1.36, 0.1),
)


def local_price_cents(product: Product, region: Region) -> int:
    """Converted price ending in .99 (or ...9 whole units), as shops display it."""
    whole = max(1, round(product.usd_cents * region.usd_rate / 100))
    return whole * 100 - 1


@dataclass(frozen=True, slots=True)
class Hardware:
    model: str
    manufacturer: str
    width: int
    height: int
    memory_bytes: int
    weight: float


GIB = 1024**3

IOS_HARDWARE: tuple[Hardware, ...] = (
    Hardware("iPhone16,1", "Apple", 393, 852, 8 * GIB, 0.22),
    Hardware("iPhone16,2", "Apple", 430, 932, 8 * GIB, 0.12),
    Hardware("iPhone15,3", "Apple", 430, 932, 6 * GIB, 0.12),
    Hardware("iPhone14,7", "Apple", 390, 844, 6 * GIB, 0.22),
    Hardware("iPhone14,4", "Apple", 375, 812, 4 * GIB, 0.1),
    Hardware("iPhone14,6", "Apple", 375, 667, 4 * GIB, 0.12),
    Hardware("iPad13,16", "Apple", 820, 1180, 8 * GIB, 0.1),
)
ANDROID_HARDWARE: tuple[Hardware, ...] = (
    Hardware("SM-S918B", "samsung", 384, 824, 12 * GIB, 0.16),
    Hardware("SM-A546B", "samsung", 412, 892, 6 * GIB, 0.22),
    Hardware("Pixel 8", "Google", 412, 915, 8 * GIB, 0.14),
    Hardware("Pixel 7a", "Google", 412, 915, 8 * GIB, 0.1),
    Hardware("23021RAAEG", "Xiaomi", 393, 873, 4 * GIB, 0.18),
    Hardware("CPH2449", "OnePlus", 412, 919, 8 * GIB, 0.08),
    Hardware("moto g54 5G", "motorola", 412, 915, 4 * GIB, 0.12),
)
ANDROID_EMULATOR = Hardware("sdk_gphone64_x86_64", "Google", 411, 914, 2 * GIB, 0.0)
IOS_SIMULATOR = Hardware("arm64", "Apple", 393, 852, 8 * GIB, 0.0)

# (os_version, weight) per platform.
OS_VERSIONS: dict[str, tuple[tuple[str, float], ...]] = {
    "ios": (("18.1", 0.35), ("18.0.1", 0.2), ("17.6.1", 0.25), ("17.5.1", 0.12), ("16.7.10", 0.08)),
    "android": (("15", 0.15), ("14", 0.45), ("13", 0.25), ("12", 0.15)),
}

# (app_version, build_number, weight): the newest build is the crash-prone one on Android, so
# the crash dashboards have a regression to find.
APP_VERSIONS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "ios": (("5.4.0", "5400", 0.5), ("5.3.2", "5320", 0.3), ("5.3.1", "5310", 0.2)),
    "android": (("5.4.0", "540012", 0.45), ("5.3.2", "532007", 0.35), ("5.3.1", "531004", 0.2)),
}
CRASHY_BUILDS: frozenset[tuple[str, str]] = frozenset({("android", "5.4.0")})

SDK_VERSIONS: dict[str, str] = {
    "ios": "causality-ios/1.4.0",
    "android": "causality-android/1.4.1",
    "web": "causality-js/1.6.0",
    "server": "causality-python/0.1.0",
}


@dataclass(frozen=True, slots=True)
class Browser:
    name: str
    vendor: str
    os_version: str
    width: int
    height: int
    weight: float


BROWSERS: tuple[Browser, ...] = (
    Browser("Chrome 131", "Google", "Windows 11", 1920, 1080, 0.24),
    Browser("Chrome 131", "Google", "macOS 14.6", 1440, 900, 0.14),
    Browser("Safari 18.1", "Apple", "macOS 15.1", 1512, 982, 0.12),
    Browser("Edge 131", "Microsoft", "Windows 10", 1536, 864, 0.1),
    Browser("Firefox 132", "Mozilla", "Ubuntu 24.04", 1920, 1080, 0.05),
    Browser("Mobile Safari 18.1", "Apple", "iOS 18.1", 390, 844, 0.2),
    Browser("Chrome Mobile 131", "Google", "Android 14", 412, 915, 0.15),
)
WEB_RELEASE = ("2024.11.3", "web-8c1f2e7")

SERVER_HOSTS: tuple[tuple[str, str], ...] = (("c6i.xlarge", "AWS"), ("c6i.2xlarge", "AWS"))
SERVER_RELEASE = ("3.14.2", "5182")

# Acquisition channels for web landings: (utm_source, utm_medium, referrer, weight).
CAMPAIGNS: tuple[tuple[str | None, str | None, str | None, float], ...] = (
    (None, None, None, 0.3),
    (None, None, "https://www.google.com/", 0.25),
    ("google", "cpc", "https://www.google.com/", 0.15),
    ("facebook", "paid_social", "https://l.facebook.com/", 0.1),
    ("newsletter", "email", None, 0.1),
    ("instagram", "social", "https://l.instagram.com/", 0.1),
)
CAMPAIGN_NAMES: tuple[str, ...] = ("black_friday", "winter_sale", "new_arrivals", "retargeting")

CHECKOUT_STEPS: tuple[str, ...] = ("shipping_address", "delivery_method", "payment", "review")
PAYMENT_METHODS: tuple[tuple[str, float], ...] = (
    ("card", 0.55),
    ("apple_pay", 0.15),
    ("google_pay", 0.12),
    ("paypal", 0.18),
)
PAYMENT_ERRORS: tuple[tuple[str, str], ...] = (
    ("card_declined", "Your card was declined."),
    ("insufficient_funds", "Insufficient funds."),
    ("3ds_failed", "3-D Secure authentication failed."),
    ("gateway_timeout", "Payment provider did not respond in time."),
    ("expired_card", "Your card has expired."),
)


@dataclass(frozen=True, slots=True)
class Screen:
    """One screen's UI: the controls users can poke at, positioned relative to the viewport."""

    name: str
    class_stem: str
    title: str
    path: str
    buttons: tuple[tuple[str, str, float, float], ...] = ()
    container: str | None = None
    fields: tuple[tuple[str, str], ...] = ()
    carousel: str | None = None


SCREENS: dict[str, Screen] = {
    s.name: s
    for s in (
        Screen(
            "home",
            "Home",
            "Causality Shop",
            "/",
            (("search_bar", "Search", 0.5, 0.08), ("hero_cta", "Shop the sale", 0.5, 0.32)),
            "home_feed",
            carousel="hero_carousel",
        ),
        Screen("search", "Search", "Search", "/search", (), None, (("search_query", "search"),)),
        Screen(
            "search_results",
            "SearchResults",
            "Search results",
            "/search",
            (("filter_button", "Filter", 0.85, 0.14), ("sort_button", "Sort", 0.15, 0.14)),
            "results_list",
        ),
        Screen(
            "category",
            "Category",
            "Shop by category",
            "/c",
            (("filter_button", "Filter", 0.85, 0.14),),
            "product_grid",
        ),
        Screen(
            "product",
            "ProductDetail",
            "Product",
            "/p",
            (
                ("add_to_cart", "Add to cart", 0.5, 0.92),
                ("size_picker", "Select size", 0.5, 0.7),
                ("wishlist", "Save", 0.9, 0.1),
                ("share", "Share", 0.78, 0.1),
            ),
            "product_details",
            carousel="product_gallery",
        ),
        Screen(
            "cart",
            "Cart",
            "Your cart",
            "/cart",
            (("checkout_button", "Checkout", 0.5, 0.93), ("apply_coupon", "Apply", 0.8, 0.6)),
            "cart_items",
            (("coupon_code", "text"),),
        ),
        Screen(
            "checkout_shipping",
            "CheckoutShipping",
            "Shipping address",
            "/checkout/shipping",
            (("continue", "Continue", 0.5, 0.93),),
            None,
            (("full_name", "text"), ("street", "text"), ("postal_code", "number")),
        ),
        Screen(
            "checkout_delivery",
            "CheckoutDelivery",
            "Delivery",
            "/checkout/delivery",
            (("express_option", "Express", 0.5, 0.4), ("continue", "Continue", 0.5, 0.93)),
        ),
        Screen(
            "checkout_payment",
            "CheckoutPayment",
            "Payment",
            "/checkout/payment",
            (("continue", "Continue", 0.5, 0.93),),
            None,
            (("card_number", "number"), ("card_expiry", "number"), ("card_cvc", "password")),
        ),
        Screen(
            "checkout_review",
            "CheckoutReview",
            "Review order",
            "/checkout/review",
            (("place_order", "Place order", 0.5, 0.93),),
            "order_summary",
        ),
        Screen(
            "order_confirmation",
            "OrderConfirmation",
            "Thank you",
            "/checkout/done",
            (("continue_shopping", "Continue shopping", 0.5, 0.8),),
        ),
        Screen(
            "profile",
            "Profile",
            "Your account",
            "/account",
            (("edit_profile", "Edit profile", 0.5, 0.3), ("orders", "Orders", 0.5, 0.45)),
            "account_menu",
        ),
        Screen(
            "login",
            "Login",
            "Sign in",
            "/login",
            (("sign_in", "Sign in", 0.5, 0.6), ("create_account", "Create account", 0.5, 0.75)),
            None,
            (("email", "email"), ("password", "password")),
        ),
        Screen(
            "video",
            "Video",
            "How it's made",
            "/stories",
            (("play", "Play", 0.5, 0.35),),
            "story_body",
        ),
    )
}

# Browsing graph: where users go next from each screen (weights), "exit" ends the session.
SCREEN_GRAPH: dict[str, tuple[tuple[str, float], ...]] = {
    "home": (
        ("search", 0.25),
        ("category", 0.25),
        ("product", 0.2),
        ("cart", 0.06),
        ("profile", 0.06),
        ("video", 0.04),
        ("exit", 0.14),
    ),
    "search": (("search_results", 0.9), ("home", 0.1)),
    "search_results": (("product", 0.62), ("search", 0.14), ("home", 0.1), ("exit", 0.14)),
    "category": (("product", 0.6), ("category", 0.12), ("home", 0.12), ("exit", 0.16)),
    "product": (
        ("product", 0.18),
        ("search_results", 0.16),
        ("category", 0.14),
        ("cart", 0.16),
        ("home", 0.14),
        ("exit", 0.22),
    ),
    "cart": (("home", 0.4), ("product", 0.3), ("exit", 0.3)),
    "order_confirmation": (("home", 0.5), ("exit", 0.5)),
    "profile": (("home", 0.5), ("login", 0.1), ("exit", 0.4)),
    "login": (("home", 0.7), ("exit", 0.3)),
    "video": (("home", 0.5), ("product", 0.3), ("exit", 0.2)),
    "checkout_shipping": (("cart", 0.6), ("exit", 0.4)),
    "checkout_delivery": (("cart", 0.6), ("exit", 0.4)),
    "checkout_payment": (("cart", 0.6), ("exit", 0.4)),
    "checkout_review": (("cart", 0.6), ("exit", 0.4)),
}

PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("notifications", "home"),
    ("location", "checkout_shipping"),
    ("camera", "search"),
    ("tracking", "home"),
)

SERVER_JOBS: tuple[str, ...] = ("send_receipts", "sync_inventory", "rebuild_recommendations")
EMAIL_TEMPLATES: tuple[str, ...] = ("order_receipt", "password_reset", "welcome", "cart_reminder")
