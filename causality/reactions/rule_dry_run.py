"""Trying a rule on a sample event without firing it: "would this rule match, and why?".

The sample is the envelope a client would ingest, normalized by the gateway's own
``EventValidator`` (so it gets the same category, ids and checks as a real event), then run
through the same scope test and compiled condition leaves the engine uses. Nothing is recorded
or delivered.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import msgspec

from causality.events.errors import InvalidRequest
from causality.events.validation import EventValidator
from causality.reactions.alerts import alert_subject
from causality.reactions.conditions import explain_condition
from causality.reactions.evaluate import event_json, rule_draft
from causality.reactions.index import scope_matches
from causality.reactions.model import Rule
from causality.reactions.paths import EventView
from causality.reactions.service import AppId, Caller, get_rule, invalid
from causality.store.rules import RuleInfo


class RuleTestBody(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A sample event (an ingest envelope) and, for a rule not scoped to one, its app."""

    event: msgspec.Raw
    app_id: AppId | None = None


def _rule(info: RuleInfo) -> Rule:
    return Rule(
        id=info.id,
        name=info.name,
        app_id=info.app_id,
        event_category=info.event_category,
        event_type=info.event_type,
        condition=info.condition,
        priority=info.priority,
        enabled=info.enabled,
        publish_alert=info.publish_alert,
        webhook_ids=info.webhook_ids,
    )


async def dry_run(
    pool: asyncpg.Pool,
    validator: EventValidator,
    caller: Caller,
    rule_id: str,
    body: RuleTestBody,
    *,
    now_ms: int | None = None,
) -> dict[str, Any]:
    """Whether the rule would fire for the sample, with a trace of every condition node.

    The event's app is ``body.app_id``, else the rule's app (422 naming ``app_id`` when
    neither gives one, 403 when the caller may not see that app); an invalid event is a 422
    naming ``event.<field>``.
    """
    info = await get_rule(pool, caller, rule_id)
    app_id = body.app_id or info.app_id
    if app_id is None:
        raise invalid("app_id", "the rule is not limited to an app: say which app the event is of")
    caller.check_app(app_id, "rule")
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    try:
        result = validator.validate_single(bytes(body.event), app_id=app_id, now_ms=now)
    except InvalidRequest as exc:
        field = "event" if exc.field == "body" else f"event.{exc.field}"
        raise invalid(field, exc.reason, code="invalid_event") from None
    if result.rejected:
        rejection = result.rejected[0]
        field = "event" if rejection.field == "event" else f"event.{rejection.field}"
        raise invalid(field, rejection.reason, code="invalid_event")
    event = result.accepted[0]
    rule = _rule(info)
    in_scope = scope_matches(rule, event)
    trace = explain_condition(rule.condition, EventView(event))
    matched = in_scope and bool(trace["matched"])
    return {
        "matched": matched,
        "scope_matched": in_scope,
        "condition": trace,
        "enabled": rule.enabled,
        "actions": {
            "webhook_ids": list(rule.webhook_ids),
            "publish_alert": rule.publish_alert,
            "subject": alert_subject(event.app_id, rule.id) if rule.publish_alert else None,
            "summary": rule_draft(rule, event).summary,
        },
        "event": event_json(event),
    }
