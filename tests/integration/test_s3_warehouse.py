"""The warehouse on S3, end to end, against a real S3 API.

The endpoint is moto's standalone server on a local port: s3fs/botocore speak HTTP to it as
they would to AWS or MinIO, and nothing is patched in-process. Each test uses its own prefix
in the session's bucket, and sinks use their own consumers filtered to their own apps.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import pytest_asyncio
import s3fs
from moto.server import ThreadedMotoServer
from nats.aio.client import Client as NATS

from causality.bus.connection import connect
from causality.bus.publisher import EventPublisher
from causality.bus.stream import ensure_consumer, ensure_topology, sink_consumer_config
from causality.config import Settings
from causality.events.arrow import EVENTS_SCHEMA, events_to_table
from causality.events.model import Event
from causality.events.validation import EventValidator
from causality.query.duckdb_engine import DuckDBEngine
from causality.query.engine import QueryError
from causality.status import collect_status
from causality.warehouse.commits import CommittedIndex
from causality.warehouse.filesystem import open_warehouse, storage_options
from causality.warehouse.sink import WarehouseSink
from causality.warehouse.writer import PartitionedWriter, WrittenFile
from tests.helpers import envelope, free_port, wait_for

pytestmark = [pytest.mark.integration]

ACCESS_KEY = "causality-test-key"
SECRET_KEY = "causality-test-secret"
# not us-east-1: a bucket elsewhere needs a LocationConstraint, so the region setting is used
REGION = "eu-west-1"
BUCKET = "causality-warehouse"
HIVE_FILE = re.compile(
    r"events/app_id=[^/]+/year=\d{4}/month=\d{2}/day=\d{2}/\d{20}-[0-9a-f]{12}\.parquet"
)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[tuple[str, str]]:
    """moto's S3 server on a free local port with one bucket: ``(endpoint_url, bucket)``."""
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
        fs.mkdir(BUCKET)
        yield endpoint, BUCKET
    finally:
        server.stop()


def s3_settings(endpoint: tuple[str, str], prefix: str, **changes: Any) -> Settings:
    url, bucket = endpoint
    return Settings(
        warehouse_uri=f"s3://{bucket}/{prefix}",
        s3_endpoint_url=url,
        s3_access_key_id=ACCESS_KEY,
        s3_secret_access_key=SECRET_KEY,
        s3_region=REGION,
        **changes,
    )


def other_client(settings: Settings) -> s3fs.S3FileSystem:
    """A second S3 client with its own listing cache, as another process would have."""
    return s3fs.S3FileSystem(skip_instance_cache=True, **storage_options(settings))


def make_events(app_id: str, n: int) -> list[Event]:
    validator = EventValidator(
        backfill_horizon_ms=10**12, max_future_ms=86_400_000, max_batch_events=10_000
    )
    body = json.dumps({"events": [envelope() for _ in range(n)]}).encode()
    result = validator.validate_batch(body, app_id=app_id, now_ms=int(time.time() * 1000))
    assert not result.rejected
    return list(result.accepted)


def write_events(
    fs: Any, root: str, events: list[Event], seqs: list[int], *, stream: str = "CAUSALITY_EVENTS"
) -> list[WrittenFile]:
    writer = PartitionedWriter(fs=fs, root=root, partitioning="daily", stream=stream)
    groups = writer.plan([e.app_id for e in events], [e.timestamp_ms for e in events])
    return writer.write(events_to_table(events), seqs=seqs, groups=groups)


def new_app() -> str:
    return f"s3-{uuid.uuid4().hex[:10]}"


def test_writer_and_commit_index_on_s3(s3_endpoint: tuple[str, str]) -> None:
    prefix = f"writer-{uuid.uuid4().hex[:8]}"
    settings = s3_settings(s3_endpoint, prefix)
    fs, root = open_warehouse(settings)
    app_a, app_b = new_app(), new_app()
    events = make_events(app_a, 30) + make_events(app_b, 20)
    seqs = list(range(101, 151))

    written = write_events(fs, root, events, seqs)

    assert sorted(f.rows for f in written) == [20, 30]
    listed = other_client(settings).find(f"{s3_endpoint[1]}/{prefix}", detail=True)
    names = sorted(name.removeprefix(f"{s3_endpoint[1]}/{prefix}/") for name in listed)
    assert len(names) == 2, names  # no temporary objects left behind
    assert all(HIVE_FILE.fullmatch(name) for name in names), names
    assert {n.split("/")[1] for n in names} == {f"app_id={app_a}", f"app_id={app_b}"}
    assert sorted(listed) == sorted(f.path for f in written)
    for f in written:
        with other_client(settings).open(f.path, "rb") as fh:
            assert pq.read_metadata(fh).num_rows == f.rows

    # a fresh index (a new sink process) finds the sequences in the footers on S3
    index = CommittedIndex(fs=other_client(settings), root=root, stream=settings.stream_name)
    by_app = {f.partition.split("/")[1]: f for f in written}
    file_a = by_app[f"app_id={app_a}"]
    assert index.stored(file_a.partition, [*file_a.seqs, 99, 151, 500]) == set(file_a.seqs)
    file_b = by_app[f"app_id={app_b}"]
    assert index.stored(file_b.partition, range(1, 1000)) == set(range(131, 151))
    assert index.stored(file_b.partition.replace("day=", "day=0"), [131]) == set()
    # files of another stream are not ours to dedup against
    other = CommittedIndex(fs=other_client(settings), root=root, stream="OTHER")
    assert other.stored(file_a.partition, file_a.seqs) == set()


@pytest_asyncio.fixture(loop_scope="session")
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    conn = await connect(nats_url, name="test-s3-warehouse")
    yield conn
    await conn.close()


async def publish(nc: NATS, settings: Settings, events: list[Event]) -> None:
    js = nc.jetstream()
    await ensure_topology(js, settings)
    publisher = EventPublisher(nc=nc, stream=settings.stream_name, timeout_s=10)
    flags = await publisher.publish(events)
    assert not any(flags)


async def consumer_settled(nc: NATS, settings: Settings) -> bool:
    info = await nc.jetstream().consumer_info(settings.stream_name, settings.sink_consumer)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def run_sink_until_settled(nc: NATS, settings: Settings, name: str) -> WarehouseSink:
    conn = await connect(settings.nats_url or "", name=name)
    stop = asyncio.Event()
    sink = WarehouseSink(nc=conn, settings=settings, name=name)
    task = asyncio.create_task(sink.run(stop))
    try:
        await wait_for(lambda: consumer_settled(nc, settings), timeout=60)
    finally:
        stop.set()
        await task
        await conn.close()
    return sink


async def test_sink_writes_to_s3_and_duckdb_reads_it_back(
    s3_endpoint: tuple[str, str], nats_url: str, nc: NATS, tmp_path: Path
) -> None:
    base = s3_settings(
        s3_endpoint,
        "wh",
        data_dir=str(tmp_path),
        nats_url=nats_url,
        sink_ack_wait_s=2.0,
        sink_flush_interval_s=0.5,
    )
    js = nc.jetstream()
    await ensure_topology(js, base)
    app_a, app_b = new_app(), new_app()
    per_app: dict[str, Settings] = {}
    for app_id in (app_a, app_b):
        per_app[app_id] = base.replace(
            sink_consumer=f"test-s3-sink-{uuid.uuid4().hex[:8]}",
            sink_filter_subject=f"events.{app_id}.>",
        )
        await ensure_consumer(js, base.stream_name, sink_consumer_config(per_app[app_id]))
    events_a, events_b = make_events(app_a, 300), make_events(app_b, 200)
    await publish(nc, base, events_a)
    await publish(nc, base, events_b)

    # app A's first sink puts its file on S3, then dies before acking
    wrote = asyncio.Event()

    async def hang_after_write(files: list[WrittenFile]) -> None:
        wrote.set()
        await asyncio.Event().wait()

    conn = await connect(nats_url, name="s3-sink-a1")
    dying = WarehouseSink(nc=conn, settings=per_app[app_a], name="a1", after_write=hang_after_write)
    task = asyncio.create_task(dying.run(asyncio.Event()))
    await asyncio.wait_for(wrote.wait(), 30)
    await conn.close()
    task.cancel()
    with pytest.raises(BaseException):  # noqa: B017 - cancelled or connection closed
        await task

    # its successor reads the sequences back from the footers on S3 and writes nothing twice
    sink_a = await run_sink_until_settled(nc, per_app[app_a], "a2")
    assert sink_a.stats.redelivered_skipped == 300
    assert sink_a.stats.rows_written == 0
    sink_b = await run_sink_until_settled(nc, per_app[app_b], "b")
    assert sink_b.stats.rows_written == 200

    bucket = s3_endpoint[1]
    listed = other_client(base).find(f"{bucket}/wh/events", detail=True)
    assert listed and all(HIVE_FILE.fullmatch(n.removeprefix(f"{bucket}/wh/")) for n in listed)

    engine = DuckDBEngine(settings=base)
    try:
        result = await engine.query("SELECT count(*), count(DISTINCT id) FROM events")
        assert result.rows == [[500, 500]]
        result = await engine.query(
            f"SELECT app_id, count(*) FROM events WHERE app_id IN ('{app_a}', '{app_b}') "
            "GROUP BY app_id ORDER BY count(*) DESC"
        )
        assert result.rows == [[app_a, 300], [app_b, 200]]
        result = await engine.query(f"SELECT id FROM events WHERE app_id = '{app_b}'")
        assert {row[0] for row in result.rows} == {e.id for e in events_b}
        # the warehouse is readable, nothing else is: not local files, not the rest of the bucket
        with pytest.raises(QueryError):
            await engine.query("SELECT * FROM read_csv('/etc/passwd')")
        with pytest.raises(QueryError):
            await engine.query(f"SELECT * FROM read_parquet('s3://{bucket}/writer-*/**/*.parquet')")
        result = await engine.query("SELECT count(*) FROM events")
        assert result.rows == [[500]]
    finally:
        await engine.close()

    report = await collect_status(per_app[app_a])
    assert report["warehouse"] == {
        "uri": f"s3://{bucket}/wh",
        "files": len(listed),
        "bytes": sum(int(info["size"]) for info in listed.values()),
    }
    assert report["consumer"]["lag (pending)"] == 0


async def test_empty_s3_warehouse_then_files_from_another_writer(
    s3_endpoint: tuple[str, str],
) -> None:
    prefix = f"empty-{uuid.uuid4().hex[:8]}"
    settings = s3_settings(s3_endpoint, prefix)
    engine = DuckDBEngine(settings=settings)
    try:
        result = await engine.query("SELECT * FROM events")
        assert result.rows == []
        assert result.columns == EVENTS_SCHEMA.names
        types = dict(zip(result.columns, result.types, strict=True))
        assert types["timestamp"].startswith("timestamp") and types["screen_width"] == "int32"

        # files written by another process (its own client and listing cache) show up...
        root = f"{s3_endpoint[1]}/{prefix}"
        app_id = new_app()
        write_events(other_client(settings), root, make_events(app_id, 10), list(range(10)))
        result = await engine.query(f"SELECT count(*) FROM events WHERE app_id = '{app_id}'")
        assert result.rows == [[10]]
        # ...including a second file in a partition whose listing this engine has seen
        write_events(other_client(settings), root, make_events(app_id, 5), list(range(10, 15)))
        result = await engine.query(f"SELECT count(*) FROM events WHERE app_id = '{app_id}'")
        assert result.rows == [[15]]
        with pytest.raises(QueryError):
            await engine.query("SELECT * FROM read_csv('/etc/passwd')")
    finally:
        await engine.close()
