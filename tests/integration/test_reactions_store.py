"""The reaction configuration as engines load it, from the real PostgreSQL: what is in it,
and that a change committed while it loads is seen whole or not at all."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest

from causality.reactions.model import Webhook
from causality.store import detectors, rules, webhooks
from causality.store.detectors import DetectorFields
from causality.store.reaction_config import load_reaction_config
from causality.store.rules import RuleFields
from tests.helpers import wait_for

pytestmark = [pytest.mark.integration]


async def _webhook(pool: asyncpg.Pool, **fields: Any) -> str:
    hook = Webhook(id=str(uuid.uuid4()), name="h", url="https://93.184.215.14/", **fields)
    await webhooks.create(pool, hook, created_by=None)
    return hook.id


async def test_load_reaction_config(pg_pool: asyncpg.Pool) -> None:
    a = await _webhook(pg_pool, auth_type="bearer", auth_secret="the-token")
    b = await _webhook(pg_pool, headers={"X-Team": "t"}, enabled=False)
    condition = {"field": "user_id", "op": "exists"}
    on = await rules.create(
        pg_pool,
        RuleFields(name="on", condition=condition, priority=3, webhook_ids=(b, a)),
        created_by=None,
    )
    off = await rules.create(pg_pool, RuleFields(name="off", enabled=False), created_by=None)
    det = await detectors.create(
        pg_pool,
        DetectorFields(
            name="d", kind="rate", params={"max_per_minute": 5}, webhook_ids=(a,), cooldown_s=9
        ),
        created_by=None,
    )
    det_off = await detectors.create(
        pg_pool,
        DetectorFields(name="d-off", kind="rate", params={"max_per_minute": 5}, enabled=False),
        created_by=None,
    )

    config = await load_reaction_config(pg_pool)
    by_id = {r.id: r for r in config.rules}
    assert on.id in by_id and off.id not in by_id  # enabled only
    rule = by_id[on.id]
    assert rule.condition == condition and rule.priority == 3 and rule.enabled
    assert rule.webhook_ids == tuple(sorted((a, b)))
    detectors_by_id = {d.id: d for d in config.detectors}
    assert det_off.id not in detectors_by_id
    loaded = detectors_by_id[det.id]
    assert loaded.params == {"max_per_minute": 5} and loaded.webhook_ids == (a,)
    assert loaded.kind == "rate" and loaded.cooldown_s == 9
    # every webhook (disabled ones too), with the secrets the dispatcher needs
    assert config.webhooks[a].auth_secret == "the-token"
    assert config.webhooks[b].headers == {"X-Team": "t"} and config.webhooks[b].enabled is False
    priorities = [r.priority for r in config.rules]
    assert priorities == sorted(priorities, reverse=True)


async def test_a_change_committed_mid_load_is_seen_whole_or_not_at_all(
    pg_pool: asyncpg.Pool, pg_dsn: str
) -> None:
    """Hold the load just before it reads the webhooks, commit a new webhook and a rule using
    it meanwhile: the load must see neither (a READ COMMITTED load would return the webhook
    without the rule)."""
    writer = await asyncpg.connect(pg_dsn)
    try:
        tx = writer.transaction()
        await tx.start()
        await writer.execute("LOCK TABLE webhooks IN ACCESS EXCLUSIVE MODE")
        load = asyncio.create_task(load_reaction_config(pg_pool))

        async def load_waits_for_the_lock() -> bool:
            return bool(
                await writer.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE '%FROM webhooks ORDER BY id%'"
                )
            )

        await wait_for(load_waits_for_the_lock, timeout=30, interval=0.05)
        hook_id, rule_id = uuid.uuid4(), uuid.uuid4()
        await writer.execute(
            "INSERT INTO webhooks (id, name, url) VALUES ($1, 'new', 'https://93.184.215.14/')",
            hook_id,
        )
        await writer.execute(
            "INSERT INTO reaction_rules (id, name) VALUES ($1, 'new rule')", rule_id
        )
        await writer.execute(
            "INSERT INTO rule_webhooks (rule_id, webhook_id) VALUES ($1, $2)", rule_id, hook_id
        )
        await tx.commit()
        config = await asyncio.wait_for(load, timeout=30)
    finally:
        await writer.close()
    assert str(hook_id) not in config.webhooks
    assert str(rule_id) not in {r.id for r in config.rules}
    after = await load_reaction_config(pg_pool)
    assert str(hook_id) in after.webhooks
    [rule] = [r for r in after.rules if r.id == str(rule_id)]
    assert rule.webhook_ids == (str(hook_id),)
