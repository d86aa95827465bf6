"""Loading everything the engines evaluate, as one consistent snapshot.

Rules, detectors, their webhook links and the webhooks are read in a single REPEATABLE READ,
read-only transaction: a change committed while we read (a rule and its new webhook, say) is
seen whole or not at all, so an engine never runs a half-applied edit.
"""

from __future__ import annotations

import asyncpg
import msgspec

from causality.reactions.model import Detector, ReactionConfig, Rule
from causality.store.webhooks import links_column, webhook_from_row

_decode = msgspec.json.decode

_RULES = (
    "SELECT r.id, r.name, r.app_id, r.event_category, r.event_type, "
    "r.condition::text AS condition, r.priority, r.enabled, r.publish_alert, "
    + links_column("rule", "r")
    + " FROM reaction_rules r WHERE r.enabled ORDER BY r.priority DESC, r.created_at, r.id"
)
_DETECTORS = (
    "SELECT d.id, d.name, d.kind, d.app_id, d.event_category, d.event_type, "
    "d.condition::text AS condition, d.params::text AS params, d.cooldown_s, d.enabled, "
    "d.publish_alert, "
    + links_column("detector", "d")
    + " FROM anomaly_detectors d WHERE d.enabled ORDER BY d.created_at, d.id"
)
_WEBHOOKS = (
    "SELECT id, name, url, auth_type, auth_username, auth_secret, headers::text AS headers, "
    "enabled, max_attempts, timeout_s FROM webhooks ORDER BY id"
)


def _condition(text: str | None) -> object:
    return None if text is None else _decode(text)


async def load_reaction_config(pool: asyncpg.Pool) -> ReactionConfig:
    """Every enabled rule and detector (webhook ids sorted) and every webhook, secrets
    included: for the engines and dispatchers only, never for an API response."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        rule_rows = await conn.fetch(_RULES)
        detector_rows = await conn.fetch(_DETECTORS)
        webhook_rows = await conn.fetch(_WEBHOOKS)
    rules = tuple(
        Rule(
            id=str(r["id"]),
            name=r["name"],
            app_id=r["app_id"],
            event_category=r["event_category"],
            event_type=r["event_type"],
            condition=_condition(r["condition"]),
            priority=r["priority"],
            enabled=r["enabled"],
            publish_alert=r["publish_alert"],
            webhook_ids=tuple(r["webhook_ids"]),
        )
        for r in rule_rows
    )
    detectors = tuple(
        Detector(
            id=str(d["id"]),
            name=d["name"],
            kind=d["kind"],
            app_id=d["app_id"],
            event_category=d["event_category"],
            event_type=d["event_type"],
            condition=_condition(d["condition"]),
            params=_decode(d["params"]),
            cooldown_s=d["cooldown_s"],
            enabled=d["enabled"],
            publish_alert=d["publish_alert"],
            webhook_ids=tuple(d["webhook_ids"]),
        )
        for d in detector_rows
    )
    webhooks = {w.id: w for w in map(webhook_from_row, webhook_rows)}
    return ReactionConfig(rules=rules, detectors=detectors, webhooks=webhooks)
