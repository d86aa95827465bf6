"""A backend host's event stream: auth, payments, emails, jobs, and the odd crash.

Server events have no session; they carry a ``correlation_id`` per request instead, and act
for users of the shared directory so user-level queries can join client and server events.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from causality.demo.catalog import (
    EMAIL_TEMPLATES,
    PAYMENT_METHODS,
    PRODUCTS,
    REGIONS,
    SERVER_JOBS,
    local_price_cents,
)
from causality.demo.crashes import fake_crash
from causality.demo.population import Device, Emit, UserDirectory, rng_uuid, weighted
from causality.demo.system import memory_warning


class ServerScript:
    """An endless stream for one host; it restarts (``app_start``) after each crash."""

    def __init__(self, *, rng: random.Random, device: Device, users: UserDirectory) -> None:
        self.rng = rng
        self.device = device
        self.users = users
        self.session_id: str | None = None
        self.correlation_id: str | None = None

    def run(self) -> Iterator[Emit]:
        rng, dev = self.rng, self.device
        source = "deploy"
        while True:
            dev.user_id = None
            self.correlation_id = None
            yield (
                "app_start",
                {
                    "is_cold_start": True,
                    "launch_duration_ms": rng.randint(1_800, 7_000),
                    "launch_source": source,
                },
            )
            while True:
                self.correlation_id = rng_uuid(rng)
                dev.user_id = None
                if rng.random() < 0.002:
                    yield "app_crash", fake_crash(rng=rng, platform="server", screen="/api")
                    source = "crash_restart"
                    break
                yield from self._request()

    def _request(self) -> Iterator[Emit]:
        rng, dev = self.rng, self.device
        kind = weighted(
            rng,
            [
                ("login", 0.24),
                ("signup", 0.04),
                ("logout", 0.1),
                ("profile", 0.04),
                ("payment", 0.2),
                ("email", 0.16),
                ("webhook", 0.12),
                ("job", 0.06),
                ("memory", 0.04),
            ],
        )
        if kind == "signup":
            dev.user_id = self.users.create()
            method = weighted(rng, [("email", 0.6), ("google", 0.25), ("apple", 0.15)])
            yield "signup", {"user_id": dev.user_id, "method": method, "referral_source": "api"}
            yield "login", {"user_id": dev.user_id, "method": method, "is_new_user": True}
        elif kind == "login":
            dev.user_id = self.users.existing()
            method = weighted(rng, [("password", 0.55), ("oauth", 0.3), ("refresh_token", 0.15)])
            yield "login", {"user_id": dev.user_id, "method": method, "is_new_user": False}
        elif kind == "logout":
            dev.user_id = self.users.existing()
            reason = weighted(
                rng, [("token_expired", 0.6), ("user_initiated", 0.3), ("revoked", 0.1)]
            )
            yield "logout", {"user_id": dev.user_id, "reason": reason}
        elif kind == "profile":
            dev.user_id = self.users.existing()
            yield "profile_update", {"user_id": dev.user_id, "fields_updated": ["email_verified"]}
        elif kind == "payment":
            dev.user_id = self.users.existing()
            region = weighted(rng, [(r, r.weight) for r in REGIONS])
            amount = sum(
                local_price_cents(rng.choice(PRODUCTS), region) for _ in range(rng.randint(1, 3))
            )
            yield (
                "custom",
                {
                    "event_name": "payment_captured",
                    "order_id": f"ord_{rng.getrandbits(48):012x}",
                    "amount_cents": amount,
                    "currency": region.currency,
                    "payment_method": weighted(rng, PAYMENT_METHODS),
                    "provider_latency_ms": rng.randint(180, 2_400),
                },
            )
        elif kind == "email":
            dev.user_id = self.users.existing()
            yield (
                "custom",
                {
                    "event_name": "email_sent",
                    "template": rng.choice(EMAIL_TEMPLATES),
                    "provider": "ses",
                    "bounced": rng.random() < 0.02,
                },
            )
        elif kind == "webhook":
            status = weighted(rng, [(200, 0.9), (500, 0.04), (502, 0.03), (410, 0.03)])
            yield (
                "custom",
                {
                    "event_name": "webhook_delivered",
                    "endpoint": rng.choice(("erp.orders", "crm.contacts", "slack.alerts")),
                    "status_code": status,
                    "latency_ms": rng.randint(40, 1_500),
                    "attempt": 1 if status == 200 else rng.randint(1, 5),
                },
            )
        elif kind == "job":
            yield (
                "custom",
                {
                    "event_name": "job_completed",
                    "job": rng.choice(SERVER_JOBS),
                    "duration_ms": rng.randint(2_000, 240_000),
                    "items_processed": rng.randint(10, 50_000),
                },
            )
        else:
            yield memory_warning(rng=rng, device=dev)
