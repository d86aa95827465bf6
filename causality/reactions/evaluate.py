"""Judging a batch of events against the configuration, without any I/O.

The engine hands every fetched batch to ``evaluate``; what comes back is everything the batch
changes: rule alerts to record, detector counts to add, threshold breaches to judge, and which
events had any effect at all (only those need remembering for redelivery). Keeping this pure
makes the costly part testable and measurable without NATS or PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from causality.events.catalogue import CUSTOM_TYPE
from causality.events.model import Event, encode_event
from causality.reactions.detectors import bucket_of, threshold_breach
from causality.reactions.index import ScopeIndex
from causality.reactions.model import AlertDraft, Detector, ReactionConfig, Rule
from causality.reactions.paths import EventView, FieldPath, parse_path

_decode = msgspec.json.decode


class CompiledConfig:
    """A ReactionConfig with every condition compiled and every scope indexed, built once per
    configuration change and shared by all batches until the next one."""

    def __init__(self, config: ReactionConfig) -> None:
        self.config = config
        self.webhooks = config.webhooks
        self.rules: ScopeIndex[Rule] = ScopeIndex.build(config.rules)
        self.detectors: ScopeIndex[Detector] = ScopeIndex.build(config.detectors)
        enabled = [d for d in config.detectors if d.enabled]
        self.by_id = {d.id: d for d in enabled}
        self.threshold_paths: dict[str, FieldPath] = {
            d.id: parse_path(d.params["field"]) for d in enabled if d.kind == "threshold"
        }
        self.windows = tuple(d for d in enabled if d.kind in ("rate", "count"))
        self.baselines = tuple(d for d in enabled if d.kind == "baseline")

    @property
    def empty(self) -> bool:
        """Nothing to evaluate: the engine acks batches without looking at them."""
        return len(self.rules) == 0 and not self.by_id


class Effects(msgspec.Struct):
    """What one batch changes; ``affected`` are the positions of events with any effect."""

    drafts: list[AlertDraft] = msgspec.field(default_factory=list)
    counts: dict[tuple[str, int], int] = msgspec.field(default_factory=dict)
    touched: dict[str, int] = msgspec.field(default_factory=dict)
    breaches: list[tuple[Detector, int, dict[str, Any]]] = msgspec.field(default_factory=list)
    affected: list[int] = msgspec.field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to write: the batch can be acked straight away."""
        return not (self.drafts or self.counts or self.breaches)


def event_json(event: Event) -> dict[str, Any]:
    """The event as plain JSON (properties decoded), as webhooks and alert records carry it."""
    out: dict[str, Any] = _decode(encode_event(event))
    return out


def describe(event: Event) -> str:
    """``purchase_failed`` or the custom event's name, for one-line summaries."""
    if event.event_type == CUSTOM_TYPE and event.event_name:
        return event.event_name
    return event.event_type


def rule_draft(rule: Rule, event: Event) -> AlertDraft:
    """The alert a rule raises for one event."""
    who = f" by user {event.user_id}" if event.user_id else ""
    return AlertDraft(
        source="rule",
        name=rule.name,
        summary=f"{rule.name}: {describe(event)} in app {event.app_id}{who}",
        app_id=event.app_id,
        rule_id=rule.id,
        event_id=event.id,
        details={
            "rule": {"id": rule.id, "name": rule.name, "priority": rule.priority},
            "event": event_json(event),
        },
        webhook_ids=rule.webhook_ids,
        publish_alert=rule.publish_alert,
        priority=rule.priority,
    )


def evaluate(compiled: CompiledConfig, events: Sequence[Event]) -> Effects:
    """Everything ``events`` change under ``compiled``; see the module docstring."""
    effects = Effects()
    if compiled.empty:
        return effects
    rules_matching = compiled.rules.matching
    detectors_matching = compiled.detectors.matching
    counts = effects.counts
    touched = effects.touched
    for position, event in enumerate(events):
        view = EventView(event)
        hit = False
        for rule in rules_matching(view):
            effects.drafts.append(rule_draft(rule, event))
            hit = True
        for detector in detectors_matching(view):
            if detector.kind == "threshold":
                breach = threshold_breach(
                    detector.params, view.get(compiled.threshold_paths[detector.id])
                )
                if breach is not None:
                    breach = {**breach, "event_id": event.id, "app_id": event.app_id}
                    effects.breaches.append((detector, event.received_at_ms // 1000, breach))
                    hit = True
                continue
            bucket = bucket_of(detector, event.received_at_ms)
            key = (detector.id, bucket)
            counts[key] = counts.get(key, 0) + 1
            if detector.kind != "baseline":
                second = event.received_at_ms // 1000
                if second > touched.get(detector.id, -1):
                    touched[detector.id] = second
            hit = True
        if hit:
            effects.affected.append(position)
    return effects
