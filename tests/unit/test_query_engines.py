"""Choosing an engine from settings, the Trino engine without a Trino, and docs/trino.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot

from causality.config import Settings
from causality.query.duckdb_engine import DuckDBEngine
from causality.query.errors import QueryUnavailable, UnsafeQuery
from causality.query.factory import open_engine, query_engine
from causality.query.trino_ddl import events_table_ddl, sync_partitions_sql
from causality.query.trino_engine import TrinoEngine, data_size_bytes
from tests.helpers import free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "trino.md"


async def test_duckdb_is_the_default_engine(tmp_path: Path) -> None:
    async with query_engine(Settings(warehouse_uri=str(tmp_path / "wh"))) as engine:
        assert isinstance(engine, DuckDBEngine) and engine.dialect == "duckdb"
        result = await engine.query("SELECT count(*) FROM events")
        assert result.rows == [[0]]


def test_trino_is_chosen_by_settings_and_needs_a_url() -> None:
    engine = open_engine(Settings(query_engine="trino", trino_url="http://trino:8080"))
    assert isinstance(engine, TrinoEngine) and engine.dialect == "trino"
    with pytest.raises(ValueError, match="trino_url"):
        open_engine(Settings(query_engine="trino"))


def test_trino_prepares_against_its_catalog_table() -> None:
    engine = TrinoEngine(
        settings=Settings(trino_url="http://trino:8080", trino_catalog="lake", trino_schema="a")
    )
    prepared = engine.prepare("SELECT count(*) FROM events", app_ids=frozenset({"x"}))
    assert prepared.dialect == "trino"
    assert 'FROM "lake"."a"."events" WHERE app_id IN (\'x\')' in prepared.sql
    with pytest.raises(UnsafeQuery):
        engine.prepare("SELECT * FROM lake.a.events")


async def test_an_unreachable_trino_is_reported_as_unavailable() -> None:
    engine = TrinoEngine(
        settings=Settings(trino_url=f"http://127.0.0.1:{free_port()}", query_timeout_s=5)
    )
    with pytest.raises(QueryUnavailable) as info:
        await engine.query("SELECT count(*) FROM events")
    assert info.value.transient


@pytest.mark.parametrize(
    ("text", "size"),
    [("1GB", 10**9), ("512MiB", 512 * 1024**2), ("64 mb", 64 * 10**6), ("100B", 100)],
)
def test_memory_limits_translate_to_trino_data_sizes(text: str, size: int) -> None:
    assert data_size_bytes(text) == size


def sql_blocks() -> list[str]:
    return re.findall(r"```sql\n(.*?)\n```", DOC.read_text(), flags=re.DOTALL)


def test_the_documented_ddl_is_the_generated_one() -> None:
    blocks = sql_blocks()
    ddl = events_table_ddl(
        catalog="hive", schema="causality", warehouse="s3://causality-warehouse/wh"
    )
    assert ddl in blocks
    assert sync_partitions_sql(catalog="hive", schema="causality") in blocks


def test_the_documented_sql_parses_in_trinos_dialect() -> None:
    blocks = sql_blocks()
    assert len(blocks) == 3
    for block in blocks:
        tree = sqlglot.parse_one(block, read="trino")
        again = tree.sql(dialect="trino")
        assert sqlglot.parse_one(again, read="trino").sql(dialect="trino") == again
    hourly = events_table_ddl(
        catalog="hive", schema="causality", warehouse="s3://b/wh", partitioning="hourly"
    )
    assert "'day', 'hour']" in hourly
    sqlglot.parse_one(hourly, read="trino")
