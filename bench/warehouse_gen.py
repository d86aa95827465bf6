"""Millions of realistic events straight into a Parquet warehouse, vectorized.

``bench.queries`` needs 10 million events in a few minutes on two cores, so nothing here
builds a Python object per event: devices, sessions and events are numpy arrays, a session's
screens come from a Markov chain stepped for all sessions at once, and ``properties`` JSON is
assembled with Arrow string kernels from a few hundred pre-encoded templates. Files go through
the sink's own ``PartitionedWriter`` (daily partitions, stream sequences in the footer), a
sink-sized number of rows per file.

The world: three apps sharing one shop-like screen graph; devices with a platform, hardware,
region and app version; some identified users; a population that comes back every few days
(loyal), weeks (regular) or rarely (casual); sessions that start with ``app_start`` on mobile,
wander through screens and sometimes go product -> cart -> checkout -> purchase.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from causality.events.arrow import EVENTS_SCHEMA, TIMESTAMP_TYPE
from causality.events.catalogue import CATEGORY_OF
from causality.warehouse.layout import partition_dir
from causality.warehouse.writer import PartitionedWriter

DAY_MS: Final = 86_400_000
STREAM: Final = "CAUSALITY_EVENTS"

APPS: Final = (("shop", 0.6), ("news", 0.3), ("fitness", 0.1))
SCREENS: Final = (
    "home", "search", "search_results", "category", "product", "cart", "checkout",
    "order_confirmation", "profile", "settings", "orders", "notifications",
)  # fmt: skip
S: Final = {name: i for i, name in enumerate(SCREENS)}
# where a navigation from each screen goes (weights, normalised below)
_TRANSITIONS: Final[dict[str, dict[str, float]]] = {
    "home": {"search": 20, "category": 30, "product": 25, "cart": 5, "profile": 8,
             "notifications": 7, "orders": 5},
    "search": {"search_results": 85, "home": 15},
    "search_results": {"product": 70, "search": 20, "home": 10},
    "category": {"product": 70, "home": 30},
    "product": {"product": 25, "cart": 25, "home": 20, "category": 15, "search": 15},
    "cart": {"checkout": 45, "product": 20, "home": 35},
    "checkout": {"order_confirmation": 50, "cart": 30, "home": 20},
    "order_confirmation": {"home": 70, "orders": 30},
    "profile": {"settings": 30, "orders": 40, "home": 30},
    "settings": {"profile": 50, "home": 50},
    "orders": {"product": 30, "home": 50, "profile": 20},
    "notifications": {"product": 50, "home": 50},
}  # fmt: skip
_ENTRY: Final = {"home": 80, "product": 10, "notifications": 5, "search": 5}

# what happens at one step of a session on each screen: navigate, or an action there
NAV: Final = "navigate"
_DEFAULT_ACTIONS: Final = {NAV: 55, "button_tap": 20, "scroll": 17, "swipe": 5, "text_input": 3}
_ACTIONS: Final[dict[str, dict[str, float]]] = {
    "search": {NAV: 50, "text_input": 30, "button_tap": 20},
    "product": {NAV: 45, "product_view": 15, "add_to_cart": 12, "button_tap": 13, "scroll": 15},
    "cart": {NAV: 45, "checkout_start": 20, "remove_from_cart": 5, "button_tap": 20, "scroll": 10},
    "checkout": {NAV: 35, "checkout_step": 25, "purchase_complete": 20, "purchase_failed": 3,
                 "button_tap": 17},
}  # fmt: skip
EVENT_TYPES: Final = (
    "screen_view", "button_tap", "scroll", "swipe", "text_input", "product_view", "add_to_cart",
    "remove_from_cart", "checkout_start", "checkout_step", "purchase_complete", "purchase_failed",
    "app_start", "app_background",
)  # fmt: skip
E: Final = {name: i for i, name in enumerate(EVENT_TYPES)}

# hardware: (platform, os_version, device_model, manufacturer, width, height, is_emulator, weight)
PROFILES: Final = (
    ("ios", "18.1", "iPhone16,2", "Apple", 430, 932, False, 18),
    ("ios", "17.6", "iPhone15,2", "Apple", 393, 852, False, 15),
    ("ios", "18.0", "iPhone14,5", "Apple", 390, 844, False, 12),
    ("android", "15", "Pixel 9", "Google", 412, 915, False, 8),
    ("android", "14", "SM-S921B", "Samsung", 360, 780, False, 14),
    ("android", "13", "SM-A546B", "Samsung", 384, 854, False, 10),
    ("android", "14", "2312DRA50G", "Xiaomi", 393, 873, False, 7),
    ("android", "14", "sdk_gphone64_x86_64", "Google", 412, 915, True, 1),
    ("web", "macOS 14", None, None, 1512, 982, False, 7),
    ("web", "Windows 11", None, None, 1920, 1080, False, 8),
)  # fmt: skip
# region: (locale, timezone, carrier, weight)
REGIONS: Final = (
    ("en-US", "America/New_York", "Verizon", 20), ("en-US", "America/Los_Angeles", "T-Mobile", 15),
    ("de-DE", "Europe/Berlin", "Telekom", 15), ("fr-FR", "Europe/Paris", "Orange", 12),
    ("en-GB", "Europe/London", "EE", 10), ("ja-JP", "Asia/Tokyo", "NTT docomo", 10),
    ("pt-BR", "America/Sao_Paulo", "Vivo", 10), ("en-IN", "Asia/Kolkata", "Jio", 8),
)  # fmt: skip
APP_VERSIONS: Final = (("4.3.0", "430", "1.6.0", 40), ("4.2.1", "421", "1.6.0", 30),
                       ("4.2.0", "420", "1.5.2", 20), ("4.1.3", "413", "1.5.2", 10))  # fmt: skip
NETWORKS: Final = (("wifi", 60), ("cellular_5g", 15), ("cellular_4g", 22), ("cellular_3g", 3))
PRODUCTS: Final = tuple(
    (f"sku-{1001 + i}", name, category, cents)
    for i, (name, category, cents) in enumerate(
        [("Trail Runner 3", "shoes", 12999), ("City Sneaker", "shoes", 8999),
         ("Merino Sock", "apparel", 1899), ("Rain Shell", "apparel", 17900),
         ("Everyday Hoodie", "apparel", 5900), ("Earbuds Pro", "electronics", 19900),
         ("Smart Watch S2", "electronics", 24900), ("Power Bank", "electronics", 3999),
         ("Headphones NC", "electronics", 29900), ("Pour-Over Set", "home", 4500),
         ("Linen Bedding", "home", 13900), ("Cast Iron Skillet", "home", 3499),
         ("Desk Lamp Halo", "home", 6900), ("Vitamin C Serum", "beauty", 2400),
         ("Sunscreen SPF50", "beauty", 1800), ("Beard Trimmer X", "beauty", 4999),
         ("2-Person Tent", "outdoors", 21900), ("Insulated Bottle", "outdoors", 3200),
         ("Trekking Poles", "outdoors", 8900), ("Headlamp 400lm", "outdoors", 3900)]
    )
)  # fmt: skip
# diurnal shape of session starts, by UTC hour
_HOURS: Final = (10, 6, 4, 3, 3, 5, 10, 20, 30, 35, 35, 35, 40, 38, 35, 35, 38, 42, 48, 50, 50,
                 45, 30, 20)  # fmt: skip
# how often a device comes back: mean days between sessions, share of devices
_LOYALTY: Final = ((1.5, 0.2), (5.0, 0.35), (12.0, 0.45))
_MAX_SESSIONS_PER_DEVICE: Final = 64
_HISTORY_DAYS: Final = 45  # devices installed up to this long before the window
_LIFETIME_DAYS: Final = 40.0  # mean days from install to churn
_CART: Final = "@@CART@@"
_ORDER: Final = "@@ORDER@@"


def _p(weights: Sequence[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


def _cumulative_rows(table: dict[str, dict[str, float]], columns: dict[str, int]) -> np.ndarray:
    """Per screen, the cumulative distribution over ``columns`` (for vectorized draws)."""
    out = np.zeros((len(SCREENS), len(columns)))
    for screen, i in S.items():
        row = table.get(screen)
        for name, weight in (row or {}).items():
            out[i, columns[name]] = weight
    out /= out.sum(axis=1, keepdims=True)
    return np.cumsum(out, axis=1)


def _draw(cum_rows: np.ndarray, state: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One categorical draw per row from the distribution of its state."""
    return np.minimum((u[:, None] > cum_rows[state]).sum(axis=1), cum_rows.shape[1] - 1)


# -- properties templates ------------------------------------------------------------------------


@dataclass(frozen=True)
class Templates:
    """Pre-encoded JSON payloads split around the per-row cart and order ids."""

    head: pa.Array
    middle: pa.Array
    tail: pa.Array
    has_order: np.ndarray
    has_cart: np.ndarray
    base: dict[str, int]
    sizes: dict[str, int]


def _json(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _build_templates() -> Templates:
    rows: list[str] = []
    base: dict[str, int] = {}
    sizes: dict[str, int] = {}

    def add(kind: str, payloads: list[dict[str, Any]]) -> None:
        base[kind], sizes[kind] = len(rows), len(payloads)
        rows.extend(_json(p) for p in payloads)

    views = []
    for screen in SCREENS:
        cls = "".join(part.title() for part in screen.split("_")) + "Screen"
        for previous in (None, *SCREENS):
            p: dict[str, Any] = {"screen_name": screen, "screen_class": cls}
            if previous is not None:
                p["previous_screen"] = previous
            p["params"] = {}
            views.append(p)
    add("screen_view", views)
    buttons = ("primary", "secondary", "back", "menu")
    add(
        "button_tap",
        [
            {"button_id": f"{s}_{b}", "button_text": b.title(), "screen_name": s,
             "coordinates": {"x": 40 + 90 * i, "y": 700 - 120 * i}}
            for s in SCREENS for i, b in enumerate(buttons)
        ],
    )  # fmt: skip
    add(
        "scroll",
        [
            {"screen_name": s, "container_id": "main", "scroll_depth_percent": d,
             "direction": "down"}
            for s in SCREENS for d in (25, 50, 75, 100)
        ],
    )  # fmt: skip
    add(
        "swipe",
        [
            {"direction": d, "screen_name": s, "start": {"x": 300, "y": 400},
             "end": {"x": 60, "y": 400}, "duration_ms": 180}
            for s in SCREENS for d in ("left", "right")
        ],
    )  # fmt: skip
    add(
        "text_input",
        [
            {"field_id": "query" if s == "search" else "input", "field_type": "text",
             "screen_name": s, "text_length": n, "input_duration_ms": 400 * n}
            for s in SCREENS for n in (3, 5, 8, 12, 16, 24)
        ],
    )  # fmt: skip
    add(
        "app_start",
        [
            {"is_cold_start": cold, "launch_duration_ms": ms, "launch_source": src}
            for cold in (True, False) for src in ("icon", "notification", "deeplink")
            for ms in (180, 320, 650, 1400)
        ],
    )  # fmt: skip
    add(
        "app_background",
        [
            {"foreground_duration_ms": ms, "current_screen": s}
            for s in SCREENS for ms in (15_000, 60_000, 180_000, 420_000, 900_000, 1_800_000)
        ],
    )  # fmt: skip
    add(
        "product_view",
        [
            {"product_id": pid, "product_name": name, "category": cat, "price_cents": cents,
             "currency": "USD", "source": src}
            for pid, name, cat, cents in PRODUCTS for src in ("search", "category", "home")
        ],
    )  # fmt: skip
    add(
        "add_to_cart",
        [
            {"product_id": pid, "product_name": name, "quantity": q, "price_cents": cents,
             "currency": "USD", "cart_id": _CART}
            for pid, name, _, cents in PRODUCTS for q in (1, 1, 2)
        ],
    )  # fmt: skip
    add(
        "remove_from_cart",
        [
            {"product_id": pid, "quantity": 1, "cart_id": _CART, "reason": "changed_mind"}
            for pid, _, _, _ in PRODUCTS
        ],
    )
    add(
        "checkout_start",
        [
            {"cart_id": _CART, "item_count": n, "total_cents": total, "currency": "USD"}
            for n in (1, 2, 3, 4) for total in (1899, 5900, 12999, 24900, 41800)
        ],
    )  # fmt: skip
    add(
        "checkout_step",
        [
            {"cart_id": _CART, "step_number": k + 1, "step_name": name, "step_duration_ms": ms}
            for k, name in enumerate(("shipping", "payment", "review"))
            for ms in (8_000, 20_000, 45_000, 90_000)
        ],
    )  # fmt: skip
    add(
        "purchase_complete",
        [
            {"order_id": _ORDER, "cart_id": _CART, "item_count": 1, "total_cents": cents,
             "currency": "USD", "payment_method": method,
             "items": [{"product_id": pid, "product_name": name, "quantity": 1,
                        "price_cents": cents}]}
            for pid, name, _, cents in PRODUCTS for method in ("card", "apple_pay", "paypal")
        ],
    )  # fmt: skip
    add(
        "purchase_failed",
        [
            {"cart_id": _CART, "error_code": code, "error_message": message,
             "payment_method": "card", "checkout_step": "payment"}
            for code, message in (("card_declined", "Your card was declined."),
                                  ("insufficient_funds", "Insufficient funds."),
                                  ("timeout", "The payment provider did not answer."))
        ],
    )  # fmt: skip
    # each payload is head + order_id + middle + cart_id + tail (the ids empty when unused)
    heads, middles, tails = [], [], []
    for text in rows:
        head, middle, tail = text, "", ""
        if _ORDER in text:
            head, _, rest = text.partition(_ORDER)
            middle, _, tail = rest.partition(_CART)
        elif _CART in text:
            head, _, tail = text.partition(_CART)
        heads.append(head)
        middles.append(middle)
        tails.append(tail)
    return Templates(
        head=pa.array(heads, pa.string()),
        middle=pa.array(middles, pa.string()),
        tail=pa.array(tails, pa.string()),
        has_order=np.array([_ORDER in text for text in rows]),
        has_cart=np.array([_CART in text for text in rows]),
        base=base,
        sizes=sizes,
    )


# -- simulation ----------------------------------------------------------------------------------


@dataclass
class World:
    """Devices, sessions and events as arrays; events sorted by (app, timestamp)."""

    start_ms: int
    days: int
    # per device
    device_app: np.ndarray
    device_profile: np.ndarray
    device_region: np.ndarray
    device_version: np.ndarray
    device_ids: pa.Array
    user_ids: pa.Array
    # per session
    session_device: np.ndarray
    session_network: np.ndarray
    session_ids: pa.Array
    cart_ids: pa.Array
    # per event
    ts: np.ndarray
    session: np.ndarray
    etype: np.ndarray
    template: np.ndarray
    templates: Templates

    @property
    def events(self) -> int:
        return len(self.ts)


def uuid_strings(raw: np.ndarray) -> pa.Array:
    """``(n, 16)`` bytes as canonical UUID text (8-4-4-4-12), without a Python object per row."""
    n = raw.shape[0]
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2] = digits[raw >> 4]
    hexed[:, 1::2] = digits[raw & 0x0F]
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    for src, dst in ((0, 0), (8, 9), (12, 14), (16, 19), (20, 24)):
        width = {0: 8, 8: 4, 12: 4, 16: 4, 20: 12}[src]
        text[:, dst : dst + width] = hexed[:, src : src + width]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text.tobytes())]
    )


def random_uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """UUIDv4 text."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return uuid_strings(raw)


def uuid7_strings(rng: np.random.Generator, ts_ms: np.ndarray) -> pa.Array:
    """UUIDv7 text for these millisecond timestamps (time-ordered, as the server assigns)."""
    raw = rng.integers(0, 256, size=(len(ts_ms), 16), dtype=np.uint8)
    stamp = ts_ms.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 2:]
    raw[:, :6] = stamp
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return uuid_strings(raw)


def _sessions(
    rng: np.random.Generator, devices: int, days: int, n_events: int
) -> tuple[np.ndarray, np.ndarray]:
    """(device, day) of every session: a first day (often before the window), then gaps by
    the device's loyalty until it churns."""
    first = rng.integers(-_HISTORY_DAYS, days, devices)
    churn = first + rng.exponential(_LIFETIME_DAYS, devices)
    means = np.array([m for m, _ in _LOYALTY])[
        rng.choice(len(_LOYALTY), devices, p=_p([w for _, w in _LOYALTY]))
    ]
    gaps = rng.exponential(means[:, None], (devices, _MAX_SESSIONS_PER_DEVICE))
    gaps[:, 0] = 0.0
    position = first[:, None] + np.cumsum(gaps, axis=1)
    dev, k = np.nonzero((position >= 0) & (position < np.minimum(days, churn)[:, None]))
    day = position[dev, k].astype(np.int64)
    if len(dev) * 3 > n_events:  # tiny runs: keep sessions a few events long
        keep = np.sort(rng.choice(len(dev), max(1, n_events // 3), replace=False))
        dev, day = dev[keep], day[keep]
    return dev.astype(np.int32), day


def simulate(n_events: int, *, seed: int, start_ms: int, days: int) -> World:
    """Devices, sessions and exactly ``n_events`` events (see the module docstring)."""
    rng = np.random.default_rng(seed)
    templates = _build_templates()
    n_dev = max(1000, n_events // 40)
    device_app = rng.choice(len(APPS), n_dev, p=_p([w for _, w in APPS])).astype(np.int8)
    device_profile = rng.choice(len(PROFILES), n_dev, p=_p([p[-1] for p in PROFILES]))
    device_region = rng.choice(len(REGIONS), n_dev, p=_p([r[-1] for r in REGIONS]))
    device_version = rng.choice(len(APP_VERSIONS), n_dev, p=_p([v[-1] for v in APP_VERSIONS]))
    identified = rng.random(n_dev) < 0.35
    device_ids = random_uuids(rng, n_dev)
    numbers = pc.cast(pa.array(np.arange(n_dev) + 1_000_000), pa.string())
    user_ids = pc.if_else(
        pa.array(identified),
        pc.binary_join_element_wise("u_", numbers, ""),
        pa.nulls(n_dev, pa.string()),
    )

    session_device, session_day = _sessions(rng, n_dev, days, n_events)
    n_ses = len(session_device)
    hour = rng.choice(24, n_ses, p=_p(_HOURS))
    session_start = (
        start_ms + session_day * DAY_MS + hour * 3_600_000 + rng.integers(0, 3_600_000, n_ses)
    )
    session_network = rng.choice(len(NETWORKS), n_ses, p=_p([w for _, w in NETWORKS]))
    weight = rng.lognormal(0.0, 0.9, n_ses)
    lengths = 1 + rng.multinomial(n_events - n_ses, weight / weight.sum())

    # sessions longest first, so the sessions still running at step p are a prefix
    order = np.argsort(-lengths, kind="stable")
    lengths = lengths[order]
    session_device, session_start, session_network = (
        session_device[order], session_start[order], session_network[order]
    )  # fmt: skip
    mobile = np.array([p[0] != "web" for p in PROFILES])[device_profile[session_device]]
    offsets = np.zeros(n_ses + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    etype = np.empty(n_events, dtype=np.int8)
    screen = np.zeros(n_events, dtype=np.int8)
    previous = np.zeros(n_events, dtype=np.int8)  # previous screen + 1 (0: none)
    entry_cum = np.cumsum(_p([_ENTRY.get(s, 0) for s in SCREENS]))
    state = np.minimum(np.searchsorted(entry_cum, rng.random(n_ses)), len(SCREENS) - 1)
    state = state.astype(np.int8)
    nav_cum = _cumulative_rows(_TRANSITIONS, S)
    action_names = [NAV, *EVENT_TYPES[1:12]]
    action_cols = {name: i for i, name in enumerate(action_names)}
    action_table = {s: _ACTIONS.get(s, _DEFAULT_ACTIONS) for s in SCREENS}
    act_cum = _cumulative_rows(action_table, action_cols)
    action_type = np.array([0, *(E[name] for name in action_names[1:])], dtype=np.int8)
    descending = -lengths
    for pos in range(int(lengths[0])):
        n = int(np.searchsorted(descending, -pos, side="left"))  # sessions with length > pos
        idx = offsets[:n] + pos
        cur = state[:n]
        act = _draw(act_cum, cur, rng.random(n))
        nav = act == 0
        nxt = np.where(nav, _draw(nav_cum, cur, rng.random(n)).astype(np.int8), cur)
        kind = np.where(nav, E["screen_view"], action_type[act]).astype(np.int8)
        prev = np.where(nav, cur + 1, 0).astype(np.int8)
        is_mobile = mobile[:n]
        first_view = (pos == 0) & ~is_mobile | (pos == 1) & is_mobile
        kind[first_view], prev[first_view], nxt[first_view] = E["screen_view"], 0, cur[first_view]
        if pos == 0:
            kind[is_mobile], nxt[is_mobile] = E["app_start"], cur[is_mobile]
        last = (lengths[:n] == pos + 1) & is_mobile & (pos >= 2)
        kind[last], nxt[last] = E["app_background"], cur[last]
        etype[idx], screen[idx], previous[idx] = kind, nxt, prev
        state[:n] = nxt

    # times: a session's events a few seconds apart from its start
    gaps = rng.exponential(18_000.0, n_events).astype(np.int64) + 300
    gaps[offsets[:-1]] = 0
    elapsed = np.cumsum(gaps)
    session_of = np.repeat(np.arange(n_ses, dtype=np.int32), lengths)
    ts = session_start[session_of] + elapsed - elapsed[offsets[:-1]][session_of]

    # payload template of each event
    n_screens = len(SCREENS)
    base = np.zeros(len(EVENT_TYPES), dtype=np.int32)
    per = np.ones(len(EVENT_TYPES), dtype=np.int32)
    by_screen = np.zeros(len(EVENT_TYPES), dtype=bool)
    for name, i in E.items():
        base[i] = templates.base[name]
        size = templates.sizes[name]
        by_screen[i] = name in ("button_tap", "scroll", "swipe", "text_input", "app_background")
        per[i] = size // n_screens if by_screen[i] else size
    variant = rng.integers(0, 1 << 15, n_events, dtype=np.int32)
    template = base[etype] + np.where(
        by_screen[etype], screen * per[etype] + variant % per[etype], variant % per[etype]
    )
    views = etype == E["screen_view"]
    template[views] = (
        base[E["screen_view"]] + screen[views].astype(np.int32) * (n_screens + 1) + previous[views]
    )

    # rows as the warehouse holds them: by app, then time
    app_of = device_app[session_device[session_of]].astype(np.int64)
    perm = np.argsort((app_of << 40) | (ts - start_ms + DAY_MS), kind="stable")
    return World(
        start_ms=start_ms,
        days=days,
        device_app=device_app,
        device_profile=device_profile,
        device_region=device_region,
        device_version=device_version,
        device_ids=device_ids,
        user_ids=user_ids,
        session_device=session_device,
        session_network=session_network,
        session_ids=random_uuids(rng, n_ses),
        cart_ids=pc.binary_join_element_wise(
            "cart_", pc.cast(pa.array(np.arange(n_ses)), pa.string()), ""
        ),
        ts=ts[perm],
        session=session_of[perm],
        etype=etype[perm],
        template=template[perm],
        templates=templates,
    )


# -- writing -------------------------------------------------------------------------------------


def _vocab(values: Sequence[Any], kind: pa.DataType | None = None) -> pa.Array:
    return pa.array(list(values), kind or pa.string())


class _Columns:
    """Per-device and per-session attributes as Arrow vocabularies, taken per file."""

    def __init__(self, world: World) -> None:
        self.world = world
        profile, region, version = world.device_profile, world.device_region, world.device_version

        def by_device(values: Sequence[Any], index: np.ndarray, kind: pa.DataType) -> pa.Array:
            return _vocab(values, kind).take(pa.array(index))

        self.device_columns: dict[str, pa.Array] = {
            "platform": by_device([p[0] for p in PROFILES], profile, pa.string()),
            "os_version": by_device([p[1] for p in PROFILES], profile, pa.string()),
            "device_model": by_device([p[2] for p in PROFILES], profile, pa.string()),
            "manufacturer": by_device([p[3] for p in PROFILES], profile, pa.string()),
            "screen_width": by_device([p[4] for p in PROFILES], profile, pa.int32()),
            "screen_height": by_device([p[5] for p in PROFILES], profile, pa.int32()),
            "is_emulator": by_device([p[6] for p in PROFILES], profile, pa.bool_()),
            "is_jailbroken": pa.array(np.zeros(len(profile), dtype=bool)),
            "locale": by_device([r[0] for r in REGIONS], region, pa.string()),
            "timezone": by_device([r[1] for r in REGIONS], region, pa.string()),
            "carrier": pc.if_else(
                pc.equal(by_device([p[0] for p in PROFILES], profile, pa.string()), "web"),
                pa.scalar(None, pa.string()),
                by_device([r[2] for r in REGIONS], region, pa.string()),
            ),
            "app_version": by_device([v[0] for v in APP_VERSIONS], version, pa.string()),
            "build_number": by_device([v[1] for v in APP_VERSIONS], version, pa.string()),
            "sdk_version": by_device([v[2] for v in APP_VERSIONS], version, pa.string()),
            "device_id": world.device_ids,
            "user_id": world.user_ids,
            "app_id": by_device([a for a, _ in APPS], world.device_app, pa.string()),
        }
        self.network = _vocab([n for n, _ in NETWORKS]).take(pa.array(world.session_network))
        self.event_type = _vocab(EVENT_TYPES)
        self.category = _vocab([CATEGORY_OF[t] for t in EVENT_TYPES])

    def table(self, lo: int, hi: int, *, seed: int) -> pa.Table:
        """Rows ``lo:hi`` of the sorted events as a table with exactly EVENTS_SCHEMA."""
        w = self.world
        rng = np.random.default_rng(seed)
        n = hi - lo
        ts = w.ts[lo:hi]
        session = w.session[lo:hi]
        device = pa.array(w.session_device[session])
        etype = pa.array(w.etype[lo:hi])
        template = w.template[lo:hi]
        t = pa.array(template)
        empty = pa.scalar("", pa.string())
        cart = pc.if_else(
            pa.array(w.templates.has_cart[template]), w.cart_ids.take(pa.array(session)), empty
        )
        order_numbers = pc.cast(pa.array(np.arange(lo, hi) + 10_000_000), pa.string())
        order = pc.if_else(
            pa.array(w.templates.has_order[template]),
            pc.binary_join_element_wise("ord_", order_numbers, ""),
            empty,
        )
        properties = pc.binary_join_element_wise(
            w.templates.head.take(t), order, w.templates.middle.take(t), cart,
            w.templates.tail.take(t), "",
        )  # fmt: skip
        ids = uuid7_strings(rng, ts)
        received = ts + rng.integers(40, 3_000, n)
        columns: dict[str, pa.Array] = {
            "id": ids,
            "idempotency_key": ids,
            "session_id": w.session_ids.take(pa.array(session)),
            "event_category": self.category.take(etype),
            "event_type": self.event_type.take(etype),
            "event_name": pa.nulls(n, pa.string()),
            "timestamp": pa.array(ts, pa.int64()).cast(TIMESTAMP_TYPE),
            "received_at": pa.array(received, pa.int64()).cast(TIMESTAMP_TYPE),
            "correlation_id": pa.nulls(n, pa.string()),
            "network_type": self.network.take(pa.array(session)),
            "properties": properties,
        }
        for name, values in self.device_columns.items():
            columns[name] = values.take(device)
        return pa.Table.from_arrays([columns[f.name] for f in EVENTS_SCHEMA], schema=EVENTS_SCHEMA)


def file_plan(world: World, file_rows: int) -> list[tuple[str, int, int]]:
    """(partition dir, first row, end row) per file: each daily partition in sink-sized files."""
    app = world.device_app[world.session_device[world.session]].astype(np.int64)
    day = (world.ts - world.start_ms) // DAY_MS
    key = app * 100_000 + day
    bounds = [0, *(np.flatnonzero(np.diff(key)) + 1).tolist(), world.events]
    plan: list[tuple[str, int, int]] = []
    for lo, hi in itertools.pairwise(bounds):
        partition = partition_dir(APPS[int(app[lo])][0], int(world.ts[lo]), partitioning="daily")
        pieces = max(1, round((hi - lo) / file_rows))
        cuts = np.linspace(lo, hi, pieces + 1).astype(np.int64)
        plan.extend((partition, int(a), int(b)) for a, b in itertools.pairwise(cuts))
    return plan


def write_warehouse(
    world: World, root: Path, *, file_rows: int, seed: int, threads: int = 2
) -> tuple[int, int]:
    """Write every event through ``PartitionedWriter``; returns (files, bytes on disk)."""
    writer = PartitionedWriter(
        fs=fsspec.filesystem("file"), root=str(root), partitioning="daily", stream=STREAM
    )
    columns = _Columns(world)
    plan = file_plan(world, file_rows)

    def one(item: tuple[int, tuple[str, int, int]]) -> int:
        k, (partition, lo, hi) = item
        table = columns.table(lo, hi, seed=seed * 1_000_003 + k)
        rows = list(range(hi - lo))
        # the rows' stream sequences, as the sink records them in the footer
        (written,) = writer.write(table, seqs=range(lo + 1, hi + 1), groups={partition: rows})
        return written.rows

    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(one, enumerate(plan)))
    assert total == world.events, (total, world.events)
    size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
    return len(plan), size


def generate(
    root: Path, *, events: int, seed: int, start: dt.date, days: int, file_rows: int
) -> dict[str, Any]:
    """Simulate and write; returns timings and sizes for the report."""
    t0 = time.perf_counter()
    start_ms = int(
        dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp() * 1000
    )
    world = simulate(events, seed=seed, start_ms=start_ms, days=days)
    t1 = time.perf_counter()
    files, size = write_warehouse(world, root, file_rows=file_rows, seed=seed)
    t2 = time.perf_counter()
    return {
        "simulate_s": t1 - t0,
        "write_s": t2 - t1,
        "files": files,
        "bytes": size,
        "devices": len(world.device_ids),
        "sessions": len(world.session_ids),
    }
