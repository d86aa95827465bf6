"""Which idempotency keys a warehouse partition already holds, and storing one partition.

A backfill writes each partition from exactly one Ray task (the rows are grouped by
partition first), so the check "already stored?" and the write never race with another
task of the same backfill. The check reads only the ``idempotency_key`` column of the
partition's files, whoever wrote them (the sink, compaction, an earlier backfill).
"""

from __future__ import annotations

from collections.abc import Sequence

import fsspec
import msgspec
import pyarrow.parquet as pq

from causality.events.arrow import events_to_table
from causality.events.model import Event
from causality.warehouse.layout import PARQUET_SUFFIX, Partitioning
from causality.warehouse.writer import PartitionedWriter

BACKFILL_STREAM = "backfill"
"""The footer's ``causality.stream`` for backfilled files: the sink's redelivery check and
compaction treat them apart from the files of a live stream (see warehouse/commits.py)."""
_PASSES = 5


class PartitionResult(msgspec.Struct, frozen=True):
    """What happened to one partition's rows."""

    partition: str
    rows: int
    already_stored: int
    duplicates_in_run: int
    written: int
    files: int


def stored_keys(fs: fsspec.AbstractFileSystem, root: str, partition: str) -> set[str]:
    """The idempotency keys of every file in ``root/partition`` (empty when it is new).

    Compaction may replace files between the listing and their read; its merged file is
    published before the sources go, so listing again finds every key.
    """
    directory = f"{root}/{partition}"
    for _ in range(_PASSES):
        try:
            paths = fs.ls(directory, detail=False, refresh=True)
        except FileNotFoundError:
            return set()
        keys: set[str] = set()
        try:
            for path in paths:
                if path.endswith(PARQUET_SUFFIX):
                    with fs.open(path, "rb") as fh:
                        column = pq.read_table(fh, columns=["idempotency_key"]).column(0)
                    keys.update(column.to_pylist())
        except FileNotFoundError:
            continue
        return keys
    raise FileNotFoundError(f"files in {partition} kept vanishing while being read")


def store_partition(
    partition: str,
    events: Sequence[Event],
    *,
    fs: fsspec.AbstractFileSystem,
    root: str,
    partitioning: Partitioning,
    dry_run: bool,
) -> PartitionResult:
    """Drop events already stored or repeated in this run, write the rest as one file."""
    existing = stored_keys(fs, root, partition)
    seen: set[str] = set()
    fresh: list[Event] = []
    already = repeated = 0
    for event in events:
        key = event.idempotency_key
        if key in existing:
            already += 1
        elif key in seen:
            repeated += 1
        else:
            seen.add(key)
            fresh.append(event)
    files = 0
    if fresh and not dry_run:
        writer = PartitionedWriter(
            fs=fs, root=root, partitioning=partitioning, stream=BACKFILL_STREAM
        )
        # backfilled rows have no stream sequence; 0 marks "none" in the footer
        table = events_to_table(fresh)
        files = len(
            writer.write(table, seqs=[0] * len(fresh), groups={partition: list(range(len(fresh)))})
        )
    return PartitionResult(
        partition=partition,
        rows=len(events),
        already_stored=already,
        duplicates_in_run=repeated,
        written=len(fresh),
        files=files,
    )
