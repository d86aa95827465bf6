"""The reaction configuration and firings as every part of the engine sees them.

The store loads rows into these frozen structs; the rule index, the detectors, the engine and
the dispatcher read them. Conditions stay the JSON tree the API validated
(``causality.reactions.conditions``); detector ``params`` are the normalized dict of
``causality.reactions.detectors.validate_params``.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

AuthType = Literal["none", "basic", "bearer", "hmac"]
DetectorKind = Literal["threshold", "rate", "count", "baseline"]
AlertSource = Literal["rule", "anomaly"]


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery target with its credentials (never sent back through the API)."""

    id: str
    name: str
    url: str
    auth_type: AuthType = "none"
    auth_username: str | None = None
    auth_secret: str | None = None
    headers: dict[str, str] = {}
    enabled: bool = True
    max_attempts: int = 8
    timeout_s: float = 10.0


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """Fires once for every event in its scope that satisfies its condition.

    Scope fields set to None match anything. ``condition`` None matches every event in scope.
    Higher ``priority`` is evaluated, recorded and delivered first.
    """

    id: str
    name: str
    app_id: str | None = None
    event_category: str | None = None
    event_type: str | None = None
    condition: Any = None
    priority: int = 0
    enabled: bool = True
    publish_alert: bool = False
    webhook_ids: tuple[str, ...] = ()


class Detector(msgspec.Struct, frozen=True, kw_only=True):
    """An anomaly detector over the events in its scope that satisfy its condition."""

    id: str
    name: str
    kind: DetectorKind
    app_id: str | None = None
    event_category: str | None = None
    event_type: str | None = None
    condition: Any = None
    params: dict[str, Any] = {}
    cooldown_s: int = 300
    enabled: bool = True
    publish_alert: bool = False
    webhook_ids: tuple[str, ...] = ()
    priority: int = 0


class ReactionConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything an engine evaluates, loaded at once so a change is applied atomically."""

    rules: tuple[Rule, ...] = ()
    detectors: tuple[Detector, ...] = ()
    webhooks: dict[str, Webhook] = {}


class AlertDraft(msgspec.Struct, frozen=True, kw_only=True):
    """A firing about to be recorded, with the targets its deliveries go to.

    ``details`` is JSON-able: for a rule, the event and the matched conditions; for an
    anomaly, what was observed against what was expected.
    """

    source: AlertSource
    name: str
    summary: str
    app_id: str | None = None
    rule_id: str | None = None
    detector_id: str | None = None
    event_id: str | None = None
    details: dict[str, Any] = {}
    webhook_ids: tuple[str, ...] = ()
    publish_alert: bool = False
    priority: int = 0
