"""Compaction: the small files of closed hours, merged per partition into files of a target size.

Sinks write one file per partition per flush, and every query pays per file (a listing entry,
a footer, a GET on S3).

What is merged: files whose rows all lie in closed hours, i.e. whose ``timestamp`` maximum (from
the Parquet statistics, never a scan) precedes the hour that ended ``closed_grace_s`` ago; only
small ones (under 3/4 of the target, so a full file is not rewritten to add a few rows), grouped
by the stream their footer names, packed in timestamp order into bins of at most
``target_file_bytes``, in partitions holding at least ``min_files`` of them. Temp names are
never read or deleted.

How a bin is replaced (the order is the guarantee):

1. publish the merged file, rows sorted by timestamp, whole (the sink's ``publish_parquet``:
   temp name, fsync, rename; one upload on S3) as ``compacted-<digest of source names>.parquet``.
   Its footer holds ``causality.stream``, the union of the sources' ``causality.stream_seqs``
   (the sink's CommittedIndex keeps recognising redeliveries) and ``causality.compacted_from``,
   the source names;
2. delete the sources (an unlink each, then a directory fsync; one bulk request on S3).

Crashes and re-runs: a crash before 1 leaves the sources (and maybe a temp file, which the same
bin's next attempt overwrites). A crash between 1 and 2 leaves a compacted file beside some of
its sources; planning reads ``compacted_from`` of the compacted files and only deletes those
"leftovers", never merging them again. A finished partition has fewer than ``min_files`` small
files, so a re-run plans nothing. At every instant each row is in at least one visible file;
once a run (or the re-run after a crash) has finished, in exactly one.

What concurrent queries see: readers list files (the ``events`` glob), then read them. A listing
taken before 1 or after 2 is exact. One taken between them (milliseconds locally, one request on
S3) holds the merged file and the sources not yet deleted: that query counts those sources' rows
twice. A query that listed a source and reads it after its deletion fails with "file not found"
(the DuckDB engine re-lists once). No row is ever silently missing, since the merged file is
visible before any source goes (for listings that are snapshots: one directory read, one S3
LIST page; merged names also sort after sink names, in S3's listing order). Closing the
double-count window needs readers that drop files named in a listed file's ``compacted_from``.

Run one compactor per warehouse at a time. Two that plan the same bin write the same name and
rows, so they converge; a partition where two live compacted files claim one source is logged
and left alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import fsspec
import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from causality.events.arrow import EVENTS_SCHEMA
from causality.warehouse.commits import SEQS_METADATA_KEY, STREAM_METADATA_KEY, union_ranges
from causality.warehouse.filesystem import is_local
from causality.warehouse.layout import EVENTS_DIR, PARQUET_SUFFIX, Partitioning
from causality.warehouse.writer import fsync_dir, publish_parquet

log = logging.getLogger(__name__)

COMPACTED_FROM_KEY = b"causality.compacted_from"
COMPACTED_PREFIX = "compacted-"
SMALL_FILE_FRACTION = 0.75

_PARTITION = re.compile(r"/app_id=[^/]+/year=(\d{4})/month=(\d{2})/day=(\d{2})(?:/hour=(\d{2}))?$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SourceFile(msgspec.Struct, frozen=True):
    """A file chosen for merging, with what its footer said at planning time."""

    path: str
    size: int
    rows: int
    min_ts_ms: int
    max_ts_ms: int


class CompactionTask(msgspec.Struct, frozen=True):
    """One bin of one partition: merge ``sources`` into one file, or delete ``leftovers``
    (sources of an earlier merge whose compacted file is already in place)."""

    partition: str
    sources: tuple[SourceFile, ...] = ()
    leftovers: tuple[str, ...] = ()
    stream: str | None = None

    @property
    def merged_path(self) -> str:
        """Derived from the source names: a retried or concurrent attempt reuses the name."""
        names = "\n".join(sorted(posixpath.basename(s.path) for s in self.sources))
        digest = hashlib.sha256(names.encode()).hexdigest()[:24]
        return f"{self.partition}/{COMPACTED_PREFIX}{digest}{PARQUET_SUFFIX}"


class CompactionResult(msgspec.Struct, frozen=True):
    """What one task did; ``skipped`` says why nothing was done (the next run retries)."""

    partition: str
    merged: str | None
    files_removed: int
    rows: int
    bytes_before: int
    bytes_after: int
    skipped: str | None = None


# -- planning --------------------------------------------------------------------------------


def plan_compaction(
    fs: fsspec.AbstractFileSystem,
    root: str,
    *,
    partitioning: Partitioning,
    now: datetime,
    target_file_bytes: int,
    min_files: int,
    closed_grace_s: float,
    app_id: str | None = None,
) -> list[CompactionTask]:
    """The tasks for every partition under ``root`` (or one app), reading only footers."""
    closed_before = _hour_floor(now - timedelta(seconds=closed_grace_s))
    cutoff_ms = _to_ms(closed_before)
    small = int(target_file_bytes * SMALL_FILE_FRACTION)
    base = f"{root}/{EVENTS_DIR}" + (f"/app_id={app_id}" if app_id else "")
    if not is_local(fs):
        fs.invalidate_cache()  # s3fs keeps listings; another process wrote since
    try:
        found = fs.find(base, detail=True)
    except FileNotFoundError:
        return []
    partitions: dict[str, dict[str, int]] = defaultdict(dict)
    for path, info in found.items():
        directory, name = path.rsplit("/", 1)
        if name.endswith(PARQUET_SUFFIX):  # temp names end in .tmp: someone is writing them
            partitions[directory][name] = int(info.get("size") or 0)
    tasks: list[CompactionTask] = []
    for directory in sorted(partitions):
        start = _partition_start(directory, partitioning)
        if start is None or start >= closed_before:
            continue  # not a partition of this layout, or no hour of it has closed
        tasks.extend(
            _plan_partition(
                fs,
                directory,
                partitions[directory],
                cutoff_ms=cutoff_ms,
                small=small,
                target=target_file_bytes,
                min_files=min_files,
            )
        )
    return tasks


def _plan_partition(
    fs: fsspec.AbstractFileSystem,
    directory: str,
    sizes: dict[str, int],
    *,
    cutoff_ms: int,
    small: int,
    target: int,
    min_files: int,
) -> list[CompactionTask]:
    tasks: list[CompactionTask] = []
    sources_of: dict[str, list[str]] = {}
    if len(sizes) > 1:
        for name in sorted(n for n in sizes if n.startswith(COMPACTED_PREFIX)):
            sources_of[name] = _compacted_from(_footer(fs, f"{directory}/{name}"))
    superseded = {source for sources in sources_of.values() for source in sources}
    live = [n for n in sources_of if n not in superseded]
    held = [source for name in live for source in sources_of[name]]
    if len(held) != len(set(held)):
        log.error("%s: two compacted files hold the same source; not touching it", directory)
        return []
    leftovers = tuple(f"{directory}/{n}" for n in sorted(superseded & sizes.keys()))
    if leftovers:
        tasks.append(CompactionTask(partition=directory, leftovers=leftovers))
    candidates = [n for n, size in sizes.items() if n not in superseded and size < small]
    if len(candidates) < min_files:
        return tasks
    by_stream: dict[str | None, list[SourceFile]] = defaultdict(list)
    eligible = 0
    for name in sorted(candidates):
        path = f"{directory}/{name}"
        meta = _footer(fs, path)
        span = _time_range_ms(meta)
        if span is None or span[1] >= cutoff_ms:
            continue  # rows of an open hour, or no statistics to prove otherwise
        stream = (meta.metadata or {}).get(STREAM_METADATA_KEY)
        key = stream.decode() if stream else None
        by_stream[key].append(SourceFile(path, sizes[name], meta.num_rows, span[0], span[1]))
        eligible += 1
    if eligible < min_files:
        return tasks
    for stream, files in sorted(by_stream.items(), key=lambda kv: kv[0] or ""):
        for group in _bins(files, target):
            tasks.append(CompactionTask(partition=directory, sources=group, stream=stream))
    return tasks


def _bins(files: list[SourceFile], target: int) -> list[tuple[SourceFile, ...]]:
    """Consecutive runs in timestamp order of at most ``target`` bytes, two files or more."""
    bins: list[list[SourceFile]] = [[]]
    total = 0
    for f in sorted(files, key=lambda f: (f.min_ts_ms, f.max_ts_ms, f.path)):
        if bins[-1] and total + f.size > target:
            bins.append([])
            total = 0
        bins[-1].append(f)
        total += f.size
    return [tuple(b) for b in bins if len(b) >= 2]


def _partition_start(directory: str, partitioning: Partitioning) -> datetime | None:
    match = _PARTITION.search(directory)
    if match is None or (match.group(4) is not None) != (partitioning == "hourly"):
        return None
    year, month, day, hour = match.groups()
    return datetime(int(year), int(month), int(day), int(hour or 0), tzinfo=UTC)


def _hour_floor(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _to_ms(t: datetime) -> int:
    aware = t if t.tzinfo else t.replace(tzinfo=UTC)  # Parquet UTC-adjusted values come naive
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def _time_range_ms(meta: pq.FileMetaData) -> tuple[int, int] | None:
    """Min and max ``timestamp`` over the row groups' statistics; None when not provable."""
    names = meta.schema.names
    if "timestamp" not in names or meta.num_row_groups == 0:
        return None
    column = names.index("timestamp")
    lows: list[int] = []
    highs: list[int] = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        if stats is None or not stats.has_min_max:
            return None
        if not isinstance(stats.min, datetime) or not isinstance(stats.max, datetime):
            return None
        lows.append(_to_ms(stats.min))
        highs.append(_to_ms(stats.max))
    return min(lows), max(highs)


def _footer(fs: fsspec.AbstractFileSystem, path: str) -> pq.FileMetaData:
    with fs.open(path, "rb") as fh:
        return pq.read_metadata(fh)


def _compacted_from(meta: pq.FileMetaData) -> list[str]:
    raw = (meta.metadata or {}).get(COMPACTED_FROM_KEY)
    return list(json.loads(raw)) if raw else []


# -- merging ---------------------------------------------------------------------------------


def compact(
    task: CompactionTask, *, fs: fsspec.AbstractFileSystem, compression_level: int = 3
) -> CompactionResult:
    """Do one task: publish the merged file, then delete its sources (see the module doc)."""
    local = is_local(fs)
    if not local:
        fs.invalidate_cache(task.partition)
    if not task.sources:
        _delete(fs, task.leftovers, local=local)
        return CompactionResult(task.partition, None, len(task.leftovers), 0, 0, 0)
    paths = [s.path for s in task.sources]
    before = sum(s.size for s in task.sources)
    merged_path = task.merged_path
    names = sorted(posixpath.basename(p) for p in paths)
    if fs.exists(merged_path):  # an earlier attempt published it, then died
        meta = _footer(fs, merged_path)
        if sorted(_compacted_from(meta)) != names:
            return _skipped(task, before, f"{merged_path} exists with other sources")
        _delete(fs, paths, local=local)
        size = int(fs.size(merged_path))
        return CompactionResult(
            task.partition, merged_path, len(paths), meta.num_rows, before, size
        )
    try:
        tables = [pq.read_table(pa.BufferReader(fs.cat_file(p))) for p in paths]
    except FileNotFoundError as exc:
        return _skipped(task, before, f"source vanished (another compactor?): {exc}")
    streams = {(t.schema.metadata or {}).get(STREAM_METADATA_KEY) or None for t in tables}
    if len(streams) != 1:
        return _skipped(task, before, "sources of different streams")
    merged = merge_tables(tables)
    if merged.num_rows != sum(t.num_rows for t in tables):
        raise AssertionError(f"{task.partition}: merged row count differs from the sources'")
    metadata = {COMPACTED_FROM_KEY: json.dumps(names).encode()}
    stream = streams.pop()
    if stream:
        metadata[STREAM_METADATA_KEY] = stream
        seqs = [(t.schema.metadata or {}).get(SEQS_METADATA_KEY) for t in tables]
        metadata[SEQS_METADATA_KEY] = union_ranges(s for s in seqs if s)
    merged = merged.replace_schema_metadata(metadata)
    publish_parquet(fs, merged_path, merged, local=local, compression_level=compression_level)
    _delete(fs, paths, local=local)
    size = int(fs.size(merged_path))
    return CompactionResult(task.partition, merged_path, len(paths), merged.num_rows, before, size)


def merge_tables(tables: Sequence[pa.Table]) -> pa.Table:
    """Concatenate files of possibly older schemas: EVENTS_SCHEMA's columns first in its order
    (with its descriptions), any other column after; rows sorted by timestamp, then id."""
    combined = pa.concat_tables(
        [t.replace_schema_metadata(None) for t in tables], promote_options="permissive"
    )
    known = [n for n in EVENTS_SCHEMA.names if n in combined.column_names]
    names = known + [n for n in combined.column_names if n not in EVENTS_SCHEMA.names]
    fields: list[pa.Field] = []
    for name in names:
        field = combined.schema.field(name)
        if name in EVENTS_SCHEMA.names and EVENTS_SCHEMA.field(name).type == field.type:
            field = EVENTS_SCHEMA.field(name)
        if not field.nullable and combined.column(name).null_count:
            field = field.with_nullable(True)  # an older file lacked the column
        fields.append(field)
    table = pa.Table.from_arrays([combined.column(n) for n in names], schema=pa.schema(fields))
    keys = [(n, "ascending") for n in ("timestamp", "id") if n in names]
    return table.sort_by(keys) if keys else table


def _delete(fs: fsspec.AbstractFileSystem, paths: Sequence[str], *, local: bool) -> None:
    """Remove files; already gone is fine (a retried task, another compactor)."""
    if not paths:
        return
    if not local:
        fs.rm(list(paths))  # one DeleteObjects request per 1000 keys
        return
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    fsync_dir(os.path.dirname(paths[0]))


def _skipped(task: CompactionTask, before: int, reason: str) -> CompactionResult:
    log.warning("compaction of %s skipped: %s", task.partition, reason)
    return CompactionResult(task.partition, None, 0, 0, before, 0, skipped=reason)
