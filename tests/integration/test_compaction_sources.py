"""Compaction against its neighbours: the sink's redelivery check, and a warehouse on S3.

A sink that wrote a file and died before acking gets those messages again; if compaction
merged that file meanwhile, the compacted file's footer (the union of the sequences) must
still mark them as stored. On S3 (moto's server, as in test_s3_warehouse.py) the merged file
is one upload and the sources go in one bulk delete.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsspec
import pytest
import pytest_asyncio
import s3fs
from moto.server import ThreadedMotoServer
from nats.aio.client import Client as NATS

from causality.bus.connection import connect
from causality.bus.publisher import EventPublisher
from causality.bus.stream import ensure_consumer, ensure_topology, sink_consumer_config
from causality.config import Settings
from causality.events.validation import EventValidator
from causality.query.duckdb_engine import DuckDBEngine
from causality.warehouse.commits import CommittedIndex
from causality.warehouse.compactor import run_compaction
from causality.warehouse.filesystem import open_warehouse
from causality.warehouse.layout import partition_dir
from causality.warehouse.sink import WarehouseSink
from causality.warehouse.writer import WrittenFile
from tests.helpers import envelope, free_port, wait_for
from tests.integration.test_s3_warehouse import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    other_client,
    s3_settings,
)
from tests.warehouse_files import STREAM, all_rows, at, ms, parquet_files, write_files

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[tuple[str, str]]:
    """moto's S3 server with a bucket of this module's own (moto's state is per process, so
    test_s3_warehouse.py's bucket may exist already): ``(endpoint_url, bucket)``."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        fs = s3fs.S3FileSystem(
            key=ACCESS_KEY,
            secret=SECRET_KEY,
            client_kwargs={"endpoint_url": endpoint, "region_name": REGION},
            skip_instance_cache=True,
        )
        fs.mkdir("causality-compaction")
        yield endpoint, "causality-compaction"
    finally:
        server.stop()


def test_the_index_still_knows_sequences_whose_file_was_compacted(tmp_path: Path) -> None:
    fs, root = fsspec.filesystem("file"), str(tmp_path / "warehouse")
    written = write_files(fs, root, app_id="a", start=at(2025, 6, 1, 3), files=20, rows=5)
    partition = written[0].partition
    warm = CommittedIndex(fs=fs, root=root, stream=STREAM)
    assert warm.stored(partition, range(1, 101)) == set(range(1, 101))

    summary = run_compaction(
        Settings(warehouse_uri=root), now=at(2025, 6, 3), min_files=10, echo=print
    )
    assert summary.files_after == 1 and len(parquet_files(fs, root)) == 1

    cold = CommittedIndex(fs=fs, root=root, stream=STREAM)  # a sink process started since
    for index in (warm, cold):
        assert index.stored(partition, range(0, 150)) == set(range(1, 101))
    assert CommittedIndex(fs=fs, root=root, stream="OTHER").stored(partition, [1, 2]) == set()


@pytest_asyncio.fixture(loop_scope="session")
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    conn = await connect(nats_url, name="test-compaction")
    yield conn
    await conn.close()


async def consumer_settled(nc: NATS, settings: Settings) -> bool:
    info = await nc.jetstream().consumer_info(settings.stream_name, settings.sink_consumer)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_redelivery_after_its_file_was_compacted_is_not_stored_twice(
    nc: NATS, nats_url: str, tmp_path: Path
) -> None:
    app_id = f"cmp-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=str(tmp_path),
        warehouse_uri=str(tmp_path / "warehouse"),
        nats_url=nats_url,
        sink_consumer=f"test-compact-{uuid.uuid4().hex[:8]}",
        sink_filter_subject=f"events.{app_id}.>",
        sink_ack_wait_s=2.0,
        sink_flush_interval_s=0.5,
    )
    js = nc.jetstream()
    await ensure_topology(js, settings)
    await ensure_consumer(js, settings.stream_name, sink_consumer_config(settings))
    # events of a day that has closed, so compaction may merge their file
    day = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=2)
    validator = EventValidator(
        backfill_horizon_ms=10**12, max_future_ms=86_400_000, max_batch_events=10_000
    )
    body = json.dumps({"events": [envelope(timestamp_ms=ms(day) + i) for i in range(300)]}).encode()
    batch = validator.validate_batch(body, app_id=app_id, now_ms=int(time.time() * 1000))
    publisher = EventPublisher(nc=nc, stream=settings.stream_name, timeout_s=10)
    assert not any(await publisher.publish(batch.accepted))

    # sink A writes the 300 events, then dies before acking
    wrote = asyncio.Event()
    written: list[WrittenFile] = []

    async def hang_after_write(files: list[WrittenFile]) -> None:
        written.extend(files)
        wrote.set()
        await asyncio.Event().wait()

    conn_a = await connect(nats_url, name="compaction-sink-a")
    sink_a = WarehouseSink(nc=conn_a, settings=settings, name="a", after_write=hang_after_write)
    task_a = asyncio.create_task(sink_a.run(asyncio.Event()))
    await asyncio.wait_for(wrote.wait(), 30)
    await conn_a.close()
    task_a.cancel()
    with pytest.raises(BaseException):  # noqa: B017 - cancelled or connection closed
        await task_a
    assert [f.rows for f in written] == [300]

    # earlier batches of that day sit beside it; compaction merges all 16 files into one
    fs, root = open_warehouse(settings)
    assert written[0].partition == partition_dir(app_id, ms(day), partitioning="daily")
    write_files(fs, root, app_id=app_id, start=day, files=15, rows=4, first_seq=10**9)
    summary = await asyncio.to_thread(run_compaction, settings, app_id=app_id)
    assert (summary.files_before, summary.files_after, summary.rows) == (16, 1, 360)
    assert not fs.exists(written[0].path)

    # sink B gets the 300 messages again and finds them in the compacted file
    conn_b = await connect(nats_url, name="compaction-sink-b")
    stop_b = asyncio.Event()
    sink_b = WarehouseSink(nc=conn_b, settings=settings, name="b")
    task_b = asyncio.create_task(sink_b.run(stop_b))
    try:
        await wait_for(lambda: consumer_settled(nc, settings), timeout=60)
    finally:
        stop_b.set()
        await task_b
        await conn_b.close()
    assert sink_b.stats.redelivered_skipped == 300
    assert sink_b.stats.rows_written == 0
    engine = DuckDBEngine(settings=settings)
    try:
        result = await engine.query("SELECT count(*), count(DISTINCT id) FROM events")
    finally:
        await engine.close()
    assert result.rows == [[360, 360]]


def test_compaction_on_s3_with_a_leftover_of_an_interrupted_run(
    s3_endpoint: tuple[str, str],
) -> None:
    prefix = f"compact-{uuid.uuid4().hex[:8]}"
    settings = s3_settings(s3_endpoint, prefix)
    fs, root = open_warehouse(settings)
    written = write_files(fs, root, app_id="s3app", start=at(2025, 6, 1, 3), files=30, rows=4)
    reader = other_client(settings)  # another process, with its own listing cache
    rows_before = all_rows(reader, root)
    sources = {f.path: reader.cat_file(f.path) for f in written}

    summary = run_compaction(settings, now=at(2025, 6, 3))
    assert (summary.files_before, summary.files_after, summary.rows) == (30, 1, 120)
    reader.invalidate_cache()
    [merged] = parquet_files(reader, root)
    assert merged.rsplit("/", 1)[1].startswith("compacted-")
    assert all_rows(reader, root) == rows_before
    assert CommittedIndex(fs=reader, root=root, stream=STREAM).stored(
        written[0].partition, range(1, 200)
    ) == set(range(1, 121))

    # the state a crash between the upload and the bulk delete leaves: sources back in place
    for path, data in list(sources.items())[:12]:
        reader.pipe_file(path, data)
    summary = run_compaction(settings, now=at(2025, 6, 3))
    assert (summary.tasks, summary.files_before, summary.files_after) == (1, 12, 0)
    reader.invalidate_cache()
    assert list(parquet_files(reader, root)) == [merged]
    assert all_rows(reader, root) == rows_before
    assert run_compaction(settings, now=at(2025, 6, 3)).tasks == 0

    async def count() -> list[list[int]]:
        engine = DuckDBEngine(settings=settings)
        try:
            return (await engine.query("SELECT count(*), count(DISTINCT id) FROM events")).rows
        finally:
            await engine.close()

    assert asyncio.run(count()) == [[120, 120]]
