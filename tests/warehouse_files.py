"""Small warehouses for compaction tests: real files written by the sink's PartitionedWriter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import fsspec
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from causality.events.arrow import events_to_table
from causality.events.model import DeviceContext, Event
from causality.warehouse.commits import SEQS_METADATA_KEY, decode_ranges
from causality.warehouse.layout import Partitioning
from causality.warehouse.writer import PartitionedWriter, WrittenFile

STREAM = "CAUSALITY_EVENTS"


def ms(t: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    return int(t.timestamp() * 1000)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def make_events(app_id: str, timestamps_ms: list[int]) -> list[Event]:
    """Events with varied optional columns, so every column of the schema carries data."""
    events: list[Event] = []
    for i, ts in enumerate(timestamps_ms):
        key = str(uuid.uuid4())
        events.append(
            Event(
                id=key,
                idempotency_key=key,
                app_id=app_id,
                device_id=f"dev-{i % 7}",
                event_category="screen",
                event_type="screen_view",
                timestamp_ms=ts,
                received_at_ms=ts + 250,
                user_id=f"user-{i % 3}" if i % 2 else None,
                session_id=f"s-{i % 5}",
                device_context=DeviceContext(platform="ios", screen_width=390 + i % 2)
                if i % 3
                else None,
                properties=msgspec.Raw(msgspec.json.encode({"screen_name": f"screen-{i % 4}"})),
            )
        )
    return events


def write_files(
    fs: fsspec.AbstractFileSystem,
    root: str,
    *,
    app_id: str,
    start: datetime,
    files: int,
    rows: int,
    step_ms: int = 1000,
    first_seq: int = 1,
    stream: str = STREAM,
    partitioning: Partitioning = "daily",
) -> list[WrittenFile]:
    """``files`` sink-style files of ``rows`` events each, timestamps ``step_ms`` apart."""
    writer = PartitionedWriter(fs=fs, root=root, partitioning=partitioning, stream=stream)
    written: list[WrittenFile] = []
    t = ms(start)
    seq = first_seq
    for _ in range(files):
        events = make_events(app_id, [t + i * step_ms for i in range(rows)])
        t += rows * step_ms
        seqs = list(range(seq, seq + rows))
        seq += rows
        groups = writer.plan([e.app_id for e in events], [e.timestamp_ms for e in events])
        written.extend(writer.write(events_to_table(events), seqs=seqs, groups=groups))
    return written


def parquet_files(fs: fsspec.AbstractFileSystem, root: str) -> dict[str, Any]:
    """Every visible event file under the root with its listing details."""
    try:
        found = fs.find(f"{root}/events", detail=True)
    except FileNotFoundError:
        return {}
    return {p: info for p, info in found.items() if p.endswith(".parquet")}


def all_rows(fs: fsspec.AbstractFileSystem, root: str) -> list[tuple[Any, ...]]:
    """The multiset of rows (every column) of every visible file, sorted."""
    rows: list[tuple[Any, ...]] = []
    for path in parquet_files(fs, root):
        table = pq.read_table(pa.BufferReader(fs.cat_file(path)))
        columns = [table.column(n).to_pylist() for n in sorted(table.column_names)]
        rows.extend(zip(*columns, strict=True))
    return sorted(rows, key=repr)


def stored_seqs(fs: fsspec.AbstractFileSystem, path: str) -> set[int]:
    """The stream sequences a file's footer says it holds."""
    with fs.open(path, "rb") as fh:
        encoded = (pq.read_metadata(fh).metadata or {}).get(SEQS_METADATA_KEY, b"")
    return {s for a, b in decode_ranges(encoded) for s in range(a, b + 1)}
