"""The backfill as a Ray Data pipeline: files -> normalize (parallel) -> group by partition
-> dedup and write (one task per partition).

Stage one reads and validates each file in its own task and keeps every outcome, valid or
rejected, with the file and row it came from. Stage two groups the valid rows by warehouse
partition, so each partition is checked against its stored keys and written by one task:
two tasks never race on the same partition, and a re-run finds everything already stored.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from causality.backfill.dedup import PartitionResult, store_partition
from causality.backfill.normalize import Normalizer
from causality.backfill.report import RejectsWriter
from causality.backfill.sources import SourceFile, read_records, source_options
from causality.config import Settings
from causality.events.model import decode_event, encode_event
from causality.warehouse.filesystem import open_warehouse
from causality.warehouse.layout import partition_dir

Echo = Callable[[str], None]

NORMALIZED_SCHEMA: Final = pa.schema(
    [
        ("status", pa.string()),  # "ok" or "rejected"
        ("partition", pa.string()),
        ("event", pa.binary()),  # the Event as the bus carries it (encode_event)
        ("source", pa.string()),
        ("row", pa.int64()),
        ("field", pa.string()),
        ("reason", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    """What one backfill run does (the job's command line)."""

    app_id: str
    horizon_days: int
    rejects_uri: str | None = None
    dry_run: bool = False


@dataclass(slots=True)
class BackfillSummary:
    """Counts per outcome and per partition, for the final report and the tests."""

    files: int = 0
    records: int = 0
    valid: int = 0
    rejected: int = 0
    already_stored: int = 0
    duplicates_in_run: int = 0
    written: int = 0
    files_written: int = 0
    partitions: list[PartitionResult] = field(default_factory=list)
    seconds: float = 0.0


def _normalize_batch(
    batch: dict[str, Any], *, settings: Settings, options: BackfillOptions, now_ms: int
) -> pa.Table:
    """Ray Data stage one: read and validate the files of ``batch`` (one file per batch)."""
    normalizer = Normalizer(
        app_id=options.app_id,
        horizon_days=options.horizon_days,
        max_future_s=settings.max_future_skew_s,
        now_ms=now_ms,
    )
    columns: dict[str, list[Any]] = {name: [] for name in NORMALIZED_SCHEMA.names}
    for uri, fmt, size in zip(batch["uri"], batch["format"], batch["size"], strict=True):
        file = SourceFile(uri=str(uri), format=str(fmt), size=int(size))
        records = read_records(file, options=source_options(settings, file.uri))
        events, rejects = normalizer.run(file.uri, file.format, records)
        for row, event in events:
            _append(columns, "ok", file.uri, row)
            columns["partition"].append(
                partition_dir(event.app_id, event.timestamp_ms, partitioning=settings.partitioning)
            )
            columns["event"].append(encode_event(event))
        for reject in rejects:
            _append(columns, "rejected", reject.source, reject.row, reject.field, reject.reason)
            columns["partition"].append(None)
            columns["event"].append(None)
    return pa.Table.from_pydict(columns, schema=NORMALIZED_SCHEMA)


def _append(
    columns: dict[str, list[Any]],
    status: str,
    source: str,
    row: int,
    field_name: str | None = None,
    reason: str | None = None,
) -> None:
    columns["status"].append(status)
    columns["source"].append(source)
    columns["row"].append(row)
    columns["field"].append(field_name)
    columns["reason"].append(reason)


def _store_group(group: pa.Table, *, settings: Settings, dry_run: bool) -> pa.Table:
    """Ray Data stage two: one partition's valid rows -> dedup -> one Parquet file."""
    partition = group.column("partition")[0].as_py()
    events = [decode_event(payload) for payload in group.column("event").to_pylist()]
    fs, root = open_warehouse(settings)
    result = store_partition(
        partition, events, fs=fs, root=root, partitioning=settings.partitioning, dry_run=dry_run
    )
    return pa.Table.from_pylist([msgspec.structs.asdict(result)])


def _only(status: str) -> Callable[[pa.Table], pa.Table]:
    def keep(batch: pa.Table) -> pa.Table:
        return batch.filter(pc.equal(batch.column("status"), status))

    return keep


def run_backfill(
    files: Sequence[SourceFile],
    *,
    settings: Settings,
    options: BackfillOptions,
    echo: Echo,
    now_ms: int | None = None,
) -> BackfillSummary:
    """Run the pipeline on the current Ray cluster (``ray.init`` must have been called)."""
    import ray
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = sys.stderr.isatty()
    started = time.monotonic()
    now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    summary = BackfillSummary(files=len(files))
    total_mb = sum(f.size for f in files) / 1e6
    echo(f"backfill: {len(files)} files ({total_mb:.1f} MB) for app {options.app_id}")
    items = [{"uri": f.uri, "format": f.format, "size": f.size} for f in files]
    normalized = (
        ray.data.from_items(items, override_num_blocks=max(1, len(items)))
        .map_batches(
            _normalize_batch,
            batch_size=1,
            batch_format="pyarrow",
            fn_kwargs={"settings": settings, "options": options, "now_ms": now},
        )
        .materialize()
    )
    summary.records = normalized.count()
    valid = normalized.map_batches(_only("ok"), batch_format="pyarrow")
    rejected = normalized.map_batches(_only("rejected"), batch_format="pyarrow")
    summary.valid = valid.count()
    summary.rejected = summary.records - summary.valid
    rate = summary.records / max(time.monotonic() - started, 1e-9)
    echo(
        f"read and validated {summary.records} records: {summary.valid} valid, "
        f"{summary.rejected} rejected ({rate:,.0f} records/s)"
    )
    _report_rejects(rejected, options, summary, echo)
    if summary.valid:
        # Ray's default of 200 shuffle partitions costs seconds of task overhead on a small
        # cluster; a few per CPU keep every CPU busy
        cpus = int(ray.cluster_resources().get("CPU", 1))
        results = valid.groupby("partition", num_partitions=max(2, 2 * cpus)).map_groups(
            _store_group,
            batch_format="pyarrow",
            fn_kwargs={"settings": settings, "dry_run": options.dry_run},
        )
        verb = "would write" if options.dry_run else "wrote"
        for row in results.iter_rows():
            result = msgspec.convert(dict(row), PartitionResult)
            summary.partitions.append(result)
            summary.already_stored += result.already_stored
            summary.duplicates_in_run += result.duplicates_in_run
            summary.written += result.written
            summary.files_written += result.files
            echo(
                f"  {result.partition}: {verb} {result.written} of {result.rows} "
                f"({result.already_stored} already stored, {result.duplicates_in_run} repeated)"
            )
    summary.partitions.sort(key=lambda r: r.partition)
    summary.seconds = time.monotonic() - started
    return summary


def _report_rejects(
    rejected: Any, options: BackfillOptions, summary: BackfillSummary, echo: Echo
) -> None:
    """Write the rejects file (not in a dry run), and print the commonest reasons."""
    if not summary.rejected:
        return
    by_reason: dict[tuple[str, str], int] = {}
    writer = (
        None if options.dry_run or not options.rejects_uri else RejectsWriter(options.rejects_uri)
    )
    try:
        for batch in rejected.iter_batches(batch_format="pyarrow", batch_size=10_000):
            rows = batch.select(["source", "row", "field", "reason"]).to_pylist()
            for row in rows:
                key = (row["field"], row["reason"][:80])
                by_reason[key] = by_reason.get(key, 0) + 1
            if writer is not None:
                writer.write(rows)
    finally:
        if writer is not None:
            writer.close()
    for (field_name, reason), count in sorted(by_reason.items(), key=lambda kv: -kv[1])[:10]:
        echo(f"  rejected {count}: {field_name}: {reason}")
    if writer is not None:
        echo(f"rejects written to {options.rejects_uri}")
    elif not options.dry_run:
        echo("rejects not kept: pass --rejects FILE to record each one")
