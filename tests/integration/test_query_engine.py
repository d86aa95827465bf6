"""The DuckDB engine over a real 30-day warehouse written by PartitionedWriter.

What is proven here: a one-day query reads only that day's files (DuckDB's own EXPLAIN
ANALYZE counts them), app scoping holds in the plan, the limits (memory, time, rows, result
bytes) fail one query and leave the engine answering, the lockdown holds even for SQL that
skipped the first wall, and a file deleted between listing and reading is retried once.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
import pytest_asyncio
from fsspec.implementations.memory import MemoryFileSystem

from causality.config import Settings
from causality.events.arrow import EVENTS_SCHEMA, events_to_table
from causality.events.model import Event
from causality.events.validation import EventValidator
from causality.query.duckdb_engine import DuckDBEngine
from causality.query.errors import (
    QueryError,
    QueryMemoryExceeded,
    QueryTimeout,
    ResultTooLarge,
    UnsafeQuery,
    WarehouseChanged,
)
from causality.query.prepare import PreparedQuery
from causality.warehouse.filesystem import open_warehouse
from causality.warehouse.writer import PartitionedWriter
from tests.helpers import envelope

pytestmark = [pytest.mark.integration]

START = datetime(2024, 1, 20, tzinfo=UTC)  # 30 days: 2024-01-20 .. 2024-02-18
DAYS = 30
APPS = ("shop", "news")
HOURS = (1, 13)
TOTAL = len(APPS) * (DAYS * len(HOURS) + 1)
SLOW_SQL = (  # ~200 M hashes of concatenated ids: about a minute on two cores
    "SELECT count(*) FROM events a, events b, events c, events d "
    "WHERE hash(a.id || b.id || c.id || d.id) % 7 = 0"
)


def make_events(app_id: str, days: range, *, hours: tuple[int, ...] = HOURS) -> list[Event]:
    validator = EventValidator(
        backfill_horizon_ms=10**13, max_future_ms=86_400_000, max_batch_events=10_000
    )
    stamps = [START + timedelta(days=d, hours=h) for d in days for h in hours]
    body = json.dumps(
        {"events": [envelope(timestamp_ms=int(t.timestamp() * 1000)) for t in stamps]}
    ).encode()
    result = validator.validate_batch(body, app_id=app_id, now_ms=int(time.time() * 1000))
    assert not result.rejected
    return list(result.accepted)


def write(fs: Any, root: str, events: list[Event]) -> None:
    writer = PartitionedWriter(fs=fs, root=root, partitioning="daily", stream="TEST")
    groups = writer.plan([e.app_id for e in events], [e.timestamp_ms for e in events])
    writer.write(events_to_table(events), seqs=list(range(len(events))), groups=groups)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Two apps, two events a day for 30 days, one file per app and day; day 10 has two."""
    data = tmp_path_factory.mktemp("query-engine")
    settings = Settings(data_dir=str(data), warehouse_uri=str(Path(data) / "warehouse"))
    fs, root = open_warehouse(settings)
    for app in APPS:
        write(fs, root, make_events(app, range(DAYS)))
        write(fs, root, make_events(app, range(10, 11), hours=(20,)))
    return settings


@pytest_asyncio.fixture(loop_scope="session")
async def engine(warehouse: Settings) -> AsyncIterator[DuckDBEngine]:
    engine = DuckDBEngine(settings=warehouse)
    yield engine
    await engine.close()


def files_read(plan: str) -> int:
    found = re.findall(r"Total Files Read:\s*(\d+)", plan)
    assert found, plan
    return sum(int(n) for n in found)


def day_dirs(plan: str) -> set[str]:
    return set(re.findall(r"year=\d{4}/month=\d{2}/day=\d{2}", plan))


def files_on_disk(settings: Settings, pattern: str) -> int:
    return len(list(Path(settings.warehouse).glob(f"events/{pattern}/*.parquet")))


async def test_a_one_day_query_reads_only_that_days_files(
    engine: DuckDBEngine, warehouse: Settings
) -> None:
    everything = await engine.explain("SELECT count(*) FROM events", analyze=True)
    assert files_read(everything) == files_on_disk(warehouse, "*/*/*/*") == 62

    one_day = (
        "SELECT count(*) FROM events "
        "WHERE timestamp >= TIMESTAMP '2024-02-01' AND timestamp < TIMESTAMP '2024-02-02'"
    )
    plan = await engine.explain(one_day, analyze=True)
    assert files_read(plan) == files_on_disk(warehouse, "*/year=2024/month=02/day=01") == 2
    assert day_dirs(plan) == {"year=2024/month=02/day=01"}
    assert (await engine.query(one_day)).rows == [[len(APPS) * len(HOURS)]]

    # the day with two files per app, scoped to one app: that app's two files
    plan = await engine.explain(
        "SELECT count(*) FROM events WHERE CAST(timestamp AS DATE) = DATE '2024-01-30'",
        app_ids=frozenset({"shop"}),
        analyze=True,
    )
    assert files_read(plan) == 2 and day_dirs(plan) == {"year=2024/month=01/day=30"}


async def test_a_range_across_a_month_end_reads_only_its_days(engine: DuckDBEngine) -> None:
    sql = (
        "SELECT count(*) FROM events WHERE timestamp BETWEEN '2024-01-31 12:00' "
        "AND '2024-02-01 02:00'"
    )
    plan = await engine.explain(sql, analyze=True)
    assert day_dirs(plan) == {"year=2024/month=01/day=31", "year=2024/month=02/day=01"}
    assert files_read(plan) == 4
    assert (await engine.query(sql)).rows == [[4]]  # 13:00 on the 31st, 01:00 on the 1st


async def test_relative_ranges_prune_too(engine: DuckDBEngine) -> None:
    # the warehouse ends long before now(): a last-7-days query touches no file at all
    plan = await engine.explain(
        "SELECT count(*) FROM events WHERE timestamp >= now() - INTERVAL 7 DAY", analyze=True
    )
    assert files_read(plan) == 0


async def test_analysts_see_exactly_the_event_columns(engine: DuckDBEngine) -> None:
    result = await engine.query("SELECT * FROM events", limit=1)
    assert result.columns == EVENTS_SCHEMA.names
    result = await engine.query(
        "SELECT date_trunc('day', timestamp) AS day, count(*) AS n FROM events "
        "WHERE app_id = 'shop' GROUP BY day ORDER BY day"
    )
    assert len(result.rows) == DAYS and result.rows[0][0].startswith("2024-01-20")
    with pytest.raises(QueryError, match="year"):
        await engine.query("SELECT year FROM events")


async def test_app_scoping_is_enforced_by_the_engine(engine: DuckDBEngine) -> None:
    only_shop = frozenset({"shop"})
    for sql in (
        "SELECT DISTINCT app_id FROM events WHERE app_id = 'news' OR true",
        "SELECT app_id FROM events UNION SELECT app_id FROM events WHERE app_id = 'news'",
        "SELECT DISTINCT e.app_id FROM (SELECT * FROM events) e",
    ):
        result = await engine.query(sql, app_ids=only_shop)
        assert {row[0] for row in result.rows} == {"shop"}, sql
    result = await engine.query("SELECT count(*) FROM events", app_ids=frozenset())
    assert result.rows == [[0]]


async def test_rows_are_limited_paged_and_marked_truncated(engine: DuckDBEngine) -> None:
    result = await engine.query("SELECT id FROM events ORDER BY id", limit=10)
    assert len(result.rows) == 10 and result.truncated
    page = await engine.query("SELECT id FROM events ORDER BY id", limit=10, offset=5)
    assert page.rows[:5] == result.rows[5:]
    result = await engine.query("SELECT id FROM events LIMIT 5", limit=10)
    assert len(result.rows) == 5 and not result.truncated


async def test_a_huge_value_fails_alone(warehouse: Settings) -> None:
    engine = DuckDBEngine(settings=warehouse.replace(query_memory_limit="64MB"))
    try:
        with pytest.raises(QueryMemoryExceeded, match="64MB"):
            await engine.query(
                "SELECT length(string_agg(repeat(properties, 200000), '')) FROM events"
            )
        assert (await engine.query("SELECT count(*) FROM events")).rows == [[TOTAL]]
    finally:
        await engine.close()


async def test_a_slow_query_times_out_and_others_keep_running(warehouse: Settings) -> None:
    engine = DuckDBEngine(settings=warehouse.replace(query_timeout_s=1.0))
    try:
        started = time.monotonic()
        slow, fast = await asyncio.gather(
            engine.query(SLOW_SQL),
            engine.query("SELECT count(*) FROM events"),
            return_exceptions=True,
        )
        assert isinstance(slow, QueryTimeout), slow
        assert time.monotonic() - started < 10
        assert not isinstance(fast, BaseException) and fast.rows == [[TOTAL]]
        assert (await engine.query("SELECT count(*) FROM events")).rows == [[TOTAL]]
    finally:
        await engine.close()


async def test_results_larger_than_the_cap_are_refused(warehouse: Settings) -> None:
    engine = DuckDBEngine(settings=warehouse.replace(query_max_result_bytes=20_000))
    try:
        with pytest.raises(ResultTooLarge, match="20,000 bytes"):
            await engine.query("SELECT * FROM events")
        assert (await engine.query("SELECT count(*) FROM events")).rows == [[TOTAL]]
    finally:
        await engine.close()


async def test_unsafe_sql_never_reaches_duckdb(engine: DuckDBEngine, warehouse: Settings) -> None:
    for sql in (
        f"SELECT * FROM read_parquet('{warehouse.warehouse}/events/**/*.parquet')",
        "SELECT * FROM causality_internal.events_raw",
        "SELECT current_setting('allowed_directories')",
        "SELECT * FROM duckdb_settings()",
    ):
        with pytest.raises(UnsafeQuery):
            await engine.query(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SET enable_external_access = true",
        "SET memory_limit = '100GB'",
        "ATTACH '/tmp/causality-attach.db' AS other",
        "INSTALL httpfs",
    ],
)
async def test_the_lockdown_holds_for_sql_that_skipped_the_first_wall(
    engine: DuckDBEngine, sql: str
) -> None:
    # a PreparedQuery forged by hand stands in for a hole in safety.py
    with pytest.raises(QueryError):
        await engine.run(PreparedQuery(sql=sql, limit=10))
    assert (await engine.query("SELECT count(*) FROM events")).rows == [[TOTAL]]


# -- a file deleted between listing and reading (compaction merging it)


class VanishingFS(MemoryFileSystem):
    """In-memory files where chosen paths disappear at the moment a reader opens them."""

    protocol = ("vanish",)
    store: ClassVar[dict[str, Any]] = {}
    pseudo_dirs: ClassVar[list[str]] = [""]
    doomed: ClassVar[list[str]] = []

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, str):
            path = path.removeprefix("vanish://")
        return super()._strip_protocol(path)

    def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        path = self._strip_protocol(path)
        if "r" in mode and path in self.doomed:
            self.doomed.remove(path)
            self.rm(path)  # compaction deleted it after the reader listed it
            raise FileNotFoundError(path)
        return super()._open(path, mode, **kwargs)


@pytest.fixture
def vanishing_warehouse() -> Iterator[tuple[Settings, list[str]]]:
    fsspec.register_implementation("vanish", VanishingFS, clobber=True)
    root = f"/wh-{uuid.uuid4().hex[:8]}"
    fs = VanishingFS()
    write(fs, root, make_events("shop", range(3)))
    files = sorted(fs.find(f"{root}/events"))
    assert len(files) == 3
    yield Settings(warehouse_uri=f"vanish://{root}"), files
    VanishingFS.doomed.clear()
    fs.rm(root, recursive=True)


async def test_a_vanished_file_is_retried_once(
    vanishing_warehouse: tuple[Settings, list[str]],
) -> None:
    settings, files = vanishing_warehouse
    engine = DuckDBEngine(settings=settings, threads=1)
    try:
        assert (await engine.query("SELECT count(*) FROM events")).rows == [[6]]
        VanishingFS.doomed.append(files[0])
        assert (await engine.query("SELECT count(*) FROM events")).rows == [[4]]
        assert VanishingFS.doomed == []
    finally:
        await engine.close()


async def test_files_vanishing_twice_give_a_clear_error(
    vanishing_warehouse: tuple[Settings, list[str]],
) -> None:
    settings, files = vanishing_warehouse
    engine = DuckDBEngine(settings=settings, threads=1)
    try:
        VanishingFS.doomed.extend(files[:2])
        with pytest.raises(WarehouseChanged, match="retry") as info:
            await engine.query("SELECT count(*) FROM events")
        assert info.value.transient
        assert (await engine.query("SELECT count(*) FROM events")).rows == [[2]]
    finally:
        await engine.close()
