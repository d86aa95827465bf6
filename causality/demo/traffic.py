"""The demo traffic generator: many concurrent visits interleaved into event batches.

Each app keeps a population of devices and a fixed number of visits in flight; every event
is pulled from a random in-flight visit, so sessions overlap the way real traffic does and a
finished visit is replaced by a new one on an idle (or brand-new) device.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from causality.demo.backend import ServerScript
from causality.demo.catalog import AppKind
from causality.demo.population import (
    Device,
    Emit,
    UserDirectory,
    make_client,
    make_server,
    rng_uuid,
    weighted,
)
from causality.demo.sessions import ClientSession

APP_WEIGHTS: Final[dict[str, float]] = {"mobile": 1.0, "web": 0.7, "server": 0.25}
CONCURRENT_VISITS: Final[dict[str, int]] = {"mobile": 24, "web": 16, "server": 3}
INITIAL_DEVICES: Final = 200
MAX_DEVICES: Final = 5_000
NEW_DEVICE_RATE: Final = 0.08
MAX_JITTER_MS: Final = 2_000

_KEYWORDS: Final[tuple[tuple[AppKind, tuple[str, ...]], ...]] = (
    ("web", ("web", "site", "www", "browser")),
    ("server", ("api", "backend", "server", "svc", "service")),
    ("mobile", ("ios", "android", "mobile", "app", "phone")),
)


def _mentions(app_id: str, words: Sequence[str]) -> bool:
    # Affixes of words, not substrings: "webshop" is web and "myapi" a backend, "rapid" neither.
    tokens = [t for t in re.split(r"[^a-z0-9]+", app_id.lower()) if t]
    return any(t.startswith(w) or t.endswith(w) for t in tokens for w in words)


def infer_kind(app_id: str, *, index: int) -> AppKind:
    """Guess an app's kind from its id; unrecognised ids cycle so a demo shows every kind."""
    for kind, words in _KEYWORDS:
        if _mentions(app_id, words):
            return kind
    kinds: tuple[AppKind, ...] = ("mobile", "web", "server")
    return kinds[index % len(kinds)]


def _platforms(app_id: str, kind: AppKind) -> tuple[tuple[str, float], ...]:
    if kind != "mobile":
        return ((kind, 1.0),)
    if _mentions(app_id, ("ios",)):
        return (("ios", 1.0),)
    if _mentions(app_id, ("android",)):
        return (("android", 1.0),)
    return (("ios", 0.55), ("android", 0.45))


class _Script(Protocol):
    device: Device
    session_id: str | None
    correlation_id: str | None

    def run(self) -> Iterator[Emit]: ...


@dataclass(slots=True)
class _Visit:
    script: _Script
    events: Iterator[Emit]


@dataclass(slots=True)
class _App:
    kind: AppKind
    platforms: tuple[tuple[str, float], ...]
    devices: list[Device] = field(default_factory=list)
    visits: list[_Visit] = field(default_factory=list)


class TrafficGenerator:
    """Believable synthetic events for ``causality up --demo``, reproducible from a seed.

    Kinds are inferred from the app ids (``kinds`` overrides): a ``mobile`` shop app (ios and
    android), a ``web`` store, or a ``server`` backend. Everything except timestamps depends
    only on ``seed``; timestamps come from ``clock`` (seconds), jittered up to 2 s into the
    past and never after it.
    """

    def __init__(
        self,
        *,
        app_ids: Sequence[str],
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        kinds: Mapping[str, AppKind] | None = None,
    ) -> None:
        if not app_ids:
            raise ValueError("app_ids must name at least one app")
        self._rng = random.Random(seed)
        self._clock = clock
        self._users = UserDirectory(rng=self._rng)
        self._apps: dict[str, _App] = {}
        for index, app_id in enumerate(dict.fromkeys(app_ids)):
            kind = (kinds or {}).get(app_id) or infer_kind(app_id, index=index)
            app = _App(kind=kind, platforms=_platforms(app_id, kind))
            if kind == "server":
                app.devices = [
                    make_server(rng=self._rng, index=i) for i in range(CONCURRENT_VISITS[kind])
                ]
            else:
                for _ in range(INITIAL_DEVICES):
                    device = self._new_client(app)
                    # Most of the population installed the app before the demo started.
                    device.first_run = self._rng.random() < 0.1
                    device.process_alive = self._rng.random() < 0.3
            self._apps[app_id] = app
        self._app_ids = list(self._apps)
        self._weights = [APP_WEIGHTS[self._apps[a].kind] for a in self._app_ids]

    @property
    def app_kinds(self) -> dict[str, AppKind]:
        """The kind each app simulates, for logs and the CLI banner."""
        return {app_id: app.kind for app_id, app in self._apps.items()}

    def next_batch(self, *, size: int) -> dict[str, list[dict[str, Any]]]:
        """``size`` envelopes in total, grouped by app id (every app present, maybe empty)."""
        if size < 0:
            raise ValueError("size must not be negative")
        now_ms = int(self._clock() * 1000)
        batch: dict[str, list[dict[str, Any]]] = {app_id: [] for app_id in self._app_ids}
        for app_id in self._rng.choices(self._app_ids, weights=self._weights, k=size):
            batch[app_id].append(self._next_event(self._apps[app_id], now_ms))
        return batch

    def _next_event(self, app: _App, now_ms: int) -> dict[str, Any]:
        while True:
            self._top_up(app)
            index = self._rng.randrange(len(app.visits))
            visit = app.visits[index]
            try:
                event_type, properties = next(visit.events)
            except StopIteration:
                app.visits.pop(index)
                visit.script.device.busy = False
                continue
            return self._envelope(visit.script, event_type, properties, now_ms)

    def _top_up(self, app: _App) -> None:
        while len(app.visits) < CONCURRENT_VISITS[app.kind]:
            script: _Script
            if app.kind == "server":
                device = next(d for d in app.devices if not d.busy)
                script = ServerScript(rng=self._rng, device=device, users=self._users)
            else:
                device = self._idle_client(app)
                script = ClientSession(rng=self._rng, device=device, users=self._users)
            device.busy = True
            app.visits.append(_Visit(script=script, events=script.run()))

    def _idle_client(self, app: _App) -> Device:
        if len(app.devices) < MAX_DEVICES and self._rng.random() < NEW_DEVICE_RATE:
            return self._new_client(app)
        for _ in range(32):
            device = self._rng.choice(app.devices)
            if not device.busy:
                return device
        return self._new_client(app)

    def _new_client(self, app: _App) -> Device:
        platform = weighted(self._rng, app.platforms)
        device = make_client(rng=self._rng, platform=platform, users=self._users)
        app.devices.append(device)
        return device

    def _envelope(
        self, script: _Script, event_type: str, properties: dict[str, Any], now_ms: int
    ) -> dict[str, Any]:
        device = script.device
        # Per-device timestamps never go backwards and never pass the clock.
        jittered = now_ms - self._rng.randint(0, MAX_JITTER_MS)
        timestamp_ms = min(now_ms, max(jittered, device.last_ts_ms + 1))
        device.last_ts_ms = timestamp_ms
        envelope: dict[str, Any] = {
            "type": event_type,
            "idempotency_key": rng_uuid(self._rng),
            "device_id": device.device_id,
            "timestamp_ms": timestamp_ms,
            "device_context": dict(device.context),
            "properties": properties,
        }
        if device.user_id is not None:
            envelope["user_id"] = device.user_id
        if script.session_id is not None:
            envelope["session_id"] = script.session_id
        if script.correlation_id is not None:
            envelope["correlation_id"] = script.correlation_id
        return envelope
