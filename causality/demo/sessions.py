"""Client visits (app sessions and website visits) as generators of ``(type, properties)``.

A generator is the natural shape for a visit: its state (current screen, cart, time in the
foreground) stays consistent from one event to the next, and the traffic generator can
interleave many visits by pulling one event at a time. Device state (login, network) is
changed *before* yielding, because the envelope is built from the device when the event is
pulled.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from causality.demo.catalog import (
    CAMPAIGN_NAMES,
    CAMPAIGNS,
    CATEGORIES,
    CRASHY_BUILDS,
    PRODUCTS,
    SCREEN_GRAPH,
    SCREENS,
    SEARCH_TERMS,
    Product,
)
from causality.demo.commerce import Shop
from causality.demo.crashes import fake_crash
from causality.demo.gestures import Gestures
from causality.demo.population import Device, Emit, UserDirectory, rng_uuid, weighted
from causality.demo.system import battery_change, memory_warning, network_change, permission_prompt

WEB_ORIGIN = "https://shop.causality.dev"
MOBILE_NETWORKS = ("wifi", "cellular_4g", "cellular_5g", "cellular_3g", "offline")


class _Crashed(Exception):
    """Ends a visit right after its app_crash event."""


class ClientSession:
    """One visit of one device: launch (or landing), browsing, maybe a purchase, leaving."""

    def __init__(self, *, rng: random.Random, device: Device, users: UserDirectory) -> None:
        self.rng = rng
        self.device = device
        self.users = users
        self.session_id: str | None = rng_uuid(rng)
        self.correlation_id: str | None = None
        self.web = device.platform == "web"
        self.gestures = Gestures(rng=rng, device=device)
        self.shop = Shop(rng=rng, device=device, gestures=self.gestures, navigate=self._enter)
        self.screen = "home"
        self.url: str | None = None
        self.product: Product = rng.choice(PRODUCTS)
        self.category = self.product.category
        self.foreground_ms = 0
        crash = 0.002 if self.web else 0.004
        if (device.platform, device.context["app_version"]) in CRASHY_BUILDS:
            crash *= 5
        if device.context["is_jailbroken"]:
            crash *= 2
        self.crash_rate = crash

    def run(self) -> Iterator[Emit]:
        try:
            yield from self._open()
            yield from self._browse(steps=self.rng.randint(4, 18))
            yield from self._close()
        except _Crashed:
            self.device.process_alive = False
        self.device.first_run = False

    # -- opening and closing ---------------------------------------------------------------

    def _open(self) -> Iterator[Emit]:
        rng, dev = self.rng, self.device
        if self.web:
            landing = "home" if rng.random() < 0.6 else "product"
            yield from self._enter(landing, first=True, landing=True)
        elif dev.process_alive and rng.random() < 0.5:
            resume = dev.last_screen if dev.last_screen in SCREEN_GRAPH else "home"
            yield (
                "app_foreground",
                {
                    "background_duration_ms": rng.randint(31 * 60_000, 20 * 3_600_000),
                    "resume_screen": resume,
                },
            )
            yield from self._enter(resume, first=True)
        else:
            yield from self._launch()
        dev.process_alive = True
        if dev.first_run and (not self.web or rng.random() < 0.3):
            yield from permission_prompt(rng=rng, permission="notifications", screen=self.screen)
            if dev.platform == "ios" and rng.random() < 0.6:
                yield from permission_prompt(rng=rng, permission="tracking", screen=self.screen)
        if dev.account_id and dev.user_id is None and rng.random() < 0.35:
            yield from self._enter("login")
            yield from self._login()
        elif dev.account_id is None and dev.wants_account and rng.random() < 0.15:
            yield from self._enter("login")
            yield from self._signup()

    def _launch(self) -> Iterator[Emit]:
        rng, cold = self.rng, not self.device.process_alive
        source = weighted(
            rng, [("icon", 0.72), ("notification", 0.14), ("widget", 0.04), ("deeplink", 0.1)]
        )
        start: dict[str, Any] = {
            "is_cold_start": cold,
            "launch_duration_ms": rng.randint(700, 2800) if cold else rng.randint(120, 600),
            "launch_source": source,
        }
        if source == "deeplink":
            start["deeplink_url"] = f"causalityshop://product/{self.product.product_id}"
        yield "app_start", start
        yield from self._enter("product" if source == "deeplink" else "home", first=True)

    def _close(self) -> Iterator[Emit]:
        if self.web:
            yield "screen_exit", {"screen_name": self.screen, "duration_ms": self._dwell()}
            return
        yield (
            "app_background",
            {
                "foreground_duration_ms": self.foreground_ms,
                "current_screen": self.screen,
            },
        )
        # The OS keeps some apps in memory: their next visit is a warm start or a resume.
        self.device.process_alive = self.rng.random() < 0.55

    # -- navigation ------------------------------------------------------------------------

    def _browse(self, *, steps: int) -> Iterator[Emit]:
        rng = self.rng
        for _ in range(steps):
            yield from self.gestures.idle(self.screen)
            yield from self._ambient()
            nxt = weighted(rng, SCREEN_GRAPH[self.screen])
            if self.shop.just_added and rng.random() < 0.5:
                nxt = "cart"  # the "View cart" prompt after adding an item
            self.shop.just_added = False
            if nxt == "exit":
                return
            if nxt == "category":
                self.category = rng.choice(CATEGORIES)
            elif nxt == "product":
                shelf = [p for p in PRODUCTS if p.category == self.category]
                self.product = rng.choice(shelf if self.screen == "category" else PRODUCTS)
            source = {"product": "recommendation", "home": "home_featured"}.get(
                self.screen, self.screen
            )
            yield from self._enter(nxt, source=source)
            yield from self._on_screen()

    def _enter(
        self, screen: str, *, source: str = "direct", first: bool = False, landing: bool = False
    ) -> Iterator[Emit]:
        """Leave the current screen (``screen_exit``) and show ``screen`` (``screen_view``)."""
        previous = None if first else self.screen
        if previous is not None:
            dwell = self._dwell()
            self.foreground_ms += dwell
            yield (
                "screen_exit",
                {
                    "screen_name": previous,
                    "duration_ms": dwell,
                    "next_screen": screen,
                },
            )
        self.screen = screen
        self.device.last_screen = screen
        params = self._web_params(screen, landing=landing) if self.web else self._params(screen)
        view: dict[str, Any] = {
            "screen_name": screen,
            "screen_class": self._class_of(screen),
            "params": params,
        }
        if previous is not None:
            view["previous_screen"] = previous
        yield "screen_view", view
        if screen == "product":
            yield (
                "product_view",
                {
                    "product_id": self.product.product_id,
                    "product_name": self.product.name,
                    "category": self.product.category,
                    "price_cents": self.shop.price(self.product),
                    "currency": self.device.region.currency,
                    "source": "landing" if landing else source,
                },
            )

    def _on_screen(self) -> Iterator[Emit]:
        """What a screen is for: buying on product and cart, account actions on profile."""
        rng, dev = self.rng, self.device
        if self.screen == "product":
            yield from self.shop.product_page(self.product)
        elif self.screen == "cart":
            yield from self.shop.cart_page()
        elif self.screen == "profile" and dev.user_id is not None:
            if rng.random() < 0.25:
                yield from self.gestures.tap(self.screen, "edit_profile")
                fields = rng.sample(("display_name", "avatar", "phone", "address", "birthday"), 2)
                yield "profile_update", {"user_id": dev.user_id, "fields_updated": sorted(fields)}
            if rng.random() < 0.3:
                yield "logout", {"user_id": dev.user_id, "reason": "user_initiated"}
                dev.user_id = None
        elif self.screen == "video":
            yield from self.gestures.tap(self.screen, "play")
            yield (
                "custom",
                {
                    "event_name": "video_played",
                    "video_id": f"story-{rng.randint(1, 12):02d}",
                    "watched_s": rng.randint(3, 180),
                    "autoplay": rng.random() < 0.3,
                    "tags": ["story", rng.choice(("behind_the_scenes", "howto", "brand"))],
                },
            )

    # -- accounts --------------------------------------------------------------------------

    def _login(self) -> Iterator[Emit]:
        rng, dev = self.rng, self.device
        yield self.gestures.text_input(self.screen, "email", "email")
        yield self.gestures.text_input(self.screen, "password", "password")
        yield from self.gestures.tap(self.screen, "sign_in")
        dev.user_id = dev.account_id
        method = "password" if rng.random() < 0.6 else rng.choice(("google", "apple"))
        yield "login", {"user_id": dev.user_id, "method": method, "is_new_user": False}

    def _signup(self) -> Iterator[Emit]:
        rng, dev = self.rng, self.device
        yield from self.gestures.tap(self.screen, "create_account")
        yield self.gestures.text_input(self.screen, "email", "email")
        yield self.gestures.text_input(self.screen, "password", "password")
        method = weighted(rng, [("email", 0.6), ("google", 0.25), ("apple", 0.15)])
        dev.account_id = dev.user_id = self.users.create()
        sources = [("organic", 0.5), ("friend_invite", 0.2), ("ad_campaign", 0.2), ("email", 0.1)]
        yield (
            "signup",
            {
                "user_id": dev.user_id,
                "method": method,
                "referral_source": weighted(rng, sources),
            },
        )
        yield "login", {"user_id": dev.user_id, "method": method, "is_new_user": True}

    # -- the device around the app ---------------------------------------------------------

    def _ambient(self) -> Iterator[Emit]:
        """System events that happen whatever the user does; a crash ends the visit."""
        rng, dev = self.rng, self.device
        if rng.random() < self.crash_rate:
            yield "app_crash", fake_crash(rng=rng, platform=dev.platform, screen=self.screen)
            raise _Crashed
        if self.web:
            if rng.random() < 0.004:
                current = rng.choice(("offline", "cellular_4g", "wifi"))
                yield from network_change(device=dev, current=current)
            return
        if rng.random() < 0.025:
            yield from network_change(device=dev, current=rng.choice(MOBILE_NETWORKS))
        if rng.random() < 0.03:
            yield battery_change(rng=rng, device=dev)
        if rng.random() < (0.025 if dev.memory_bytes <= 4 * 1024**3 else 0.006):
            yield memory_warning(rng=rng, device=dev)
        if rng.random() < 0.03:
            yield (
                "app_background",
                {
                    "foreground_duration_ms": self.foreground_ms,
                    "current_screen": self.screen,
                },
            )
            self.foreground_ms = 0
            yield (
                "app_foreground",
                {
                    "background_duration_ms": rng.randint(2_000, 120_000),
                    "resume_screen": self.screen,
                },
            )

    # -- helpers ---------------------------------------------------------------------------

    def _dwell(self) -> int:
        low, high = (6_000, 95_000) if self.screen == "product" else (2_000, 40_000)
        return self.rng.randint(low, high)

    def _class_of(self, screen: str) -> str:
        suffix = {"ios": "ViewController", "android": "Activity", "web": "Page"}
        return SCREENS[screen].class_stem + suffix[self.device.platform]

    def _params(self, screen: str) -> dict[str, Any]:
        if screen == "product":
            return {"product_id": self.product.product_id}
        if screen == "category":
            return {"category": self.category}
        if screen == "search_results":
            return {"query": self.rng.choice(SEARCH_TERMS)}
        return {}

    def _web_params(self, screen: str, *, landing: bool) -> dict[str, Any]:
        """URL, title, referrer and (on landing) UTM tags, as a browser SDK reports them."""
        rng, page = self.rng, SCREENS[screen]
        path, query = page.path, ""
        if screen == "product":
            path = f"/p/{self.product.product_id}"
        elif screen == "category":
            path = f"/c/{self.category}"
        elif screen == "search_results":
            query = "?q=" + rng.choice(SEARCH_TERMS).replace(" ", "+")
        params: dict[str, Any] = {"path": path, "title": f"{page.title} | Causality Shop"}
        referrer = self.url
        if landing:
            source, medium, referrer, _ = weighted(rng, [(c, c[3]) for c in CAMPAIGNS])
            if source is not None and medium is not None:
                params["utm_source"] = source
                params["utm_medium"] = medium
                params["utm_campaign"] = rng.choice(CAMPAIGN_NAMES)
                if medium == "cpc":
                    params["utm_term"] = rng.choice(SEARCH_TERMS)
                if rng.random() < 0.5:
                    params["utm_content"] = rng.choice(("banner_a", "banner_b", "text_link"))
                tags = [f"{k}={v}" for k, v in params.items() if k.startswith("utm_")]
                query = "?" + "&".join(tags).replace(" ", "+")
        if referrer is not None:
            params["referrer"] = referrer
        self.url = WEB_ORIGIN + path + query
        params["url"] = self.url
        return params
