"""The Trino engine against a real Trino cluster, when one is named.

Set ``CAUSALITY_TRINO_URL`` (and ``CAUSALITY_TRINO_CATALOG`` / ``CAUSALITY_TRINO_SCHEMA``
/ ``CAUSALITY_TRINO_USER`` when they are not ``hive`` / ``causality`` / ``causality``) to a
Trino whose ``events`` table is defined as in docs/trino.md. The table may be empty: these
tests check that what we send is accepted and scoped, not what a particular warehouse holds.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from causality.config import Settings
from causality.query.errors import QueryTimeout, UnsafeQuery
from causality.query.trino_engine import TrinoEngine
from tests.unit.test_trino_dialect import REPRESENTATIVE

TRINO_URL = os.environ.get("CAUSALITY_TRINO_URL", "")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not TRINO_URL,
        reason="CAUSALITY_TRINO_URL is not set, so there is no Trino to run against "
        "(set it, plus CAUSALITY_TRINO_CATALOG/SCHEMA/USER if not the defaults)",
    ),
]


def trino_settings(**changes: Any) -> Settings:
    return Settings(
        trino_url=TRINO_URL,
        trino_catalog=os.environ.get("CAUSALITY_TRINO_CATALOG", "hive"),
        trino_schema=os.environ.get("CAUSALITY_TRINO_SCHEMA", "causality"),
        trino_user=os.environ.get("CAUSALITY_TRINO_USER", "causality"),
        query_engine="trino",
        **changes,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def engine() -> AsyncIterator[TrinoEngine]:
    engine = TrinoEngine(settings=trino_settings())
    yield engine
    await engine.close()


@pytest.mark.parametrize("name", sorted(REPRESENTATIVE))
async def test_representative_sql_runs_on_trino(engine: TrinoEngine, name: str) -> None:
    result = await engine.query(REPRESENTATIVE[name])
    assert result.columns
    assert len(result.rows) <= 10_000


async def test_scoping_holds_on_trino(engine: TrinoEngine) -> None:
    nobody = frozenset({f"no-such-app-{uuid.uuid4().hex[:8]}"})
    for sql in (
        "SELECT count(*) FROM events",
        "SELECT count(*) FROM events WHERE app_id <> 'x' OR true",
        "SELECT count(*) FROM (SELECT app_id FROM events UNION ALL SELECT app_id FROM events)",
    ):
        result = await engine.query(sql, app_ids=nobody)
        assert result.rows == [[0]], sql


async def test_unsafe_sql_never_reaches_trino(engine: TrinoEngine) -> None:
    for sql in (
        "SELECT * FROM system.runtime.queries",
        f"SELECT * FROM {engine.raw_table}",
        "SELECT * FROM information_schema.tables",
        "CALL system.sync_partition_metadata('causality', 'events', 'FULL')",
    ):
        with pytest.raises(UnsafeQuery):
            await engine.query(sql)


async def test_trino_enforces_the_timeout() -> None:
    engine = TrinoEngine(settings=trino_settings(query_timeout_s=2.0))
    try:
        with pytest.raises(QueryTimeout):
            await engine.query(
                "SELECT count(*) FROM unnest(generate_series(1, 10000)) AS a(x), "
                "unnest(generate_series(1, 10000)) AS b(y), "
                "unnest(generate_series(1, 10000)) AS c(z) WHERE (a.x * b.y + c.z) % 7 = 3"
            )
    finally:
        await engine.close()
