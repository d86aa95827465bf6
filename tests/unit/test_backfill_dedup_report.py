"""Backfill dedup (within the run and against stored keys) and the report it prints."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import pyarrow.parquet as pq

from causality.backfill.dedup import PartitionResult, store_partition, stored_keys
from causality.backfill.report import RejectsWriter, describe
from causality.backfill.run import BackfillSummary
from causality.events.model import Event
from causality.warehouse.layout import partition_dir

NOW_MS = 1_700_000_000_000


def _event(key: str) -> Event:
    return Event(
        id=f"id-{key}", idempotency_key=key, app_id="shop", device_id="d",
        event_category="engagement", event_type="button_tap", timestamp_ms=NOW_MS,
        received_at_ms=NOW_MS,
    )  # fmt: skip


def test_store_partition_skips_repeats_and_stored_keys(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    root = str(tmp_path)
    partition = partition_dir("shop", NOW_MS, partitioning="daily")
    first = store_partition(
        partition, [_event("a"), _event("b"), _event("a")],
        fs=fs, root=root, partitioning="daily", dry_run=False,
    )  # fmt: skip
    assert (first.rows, first.written, first.duplicates_in_run, first.already_stored) == (
        3,
        2,
        1,
        0,
    )
    assert first.files == 1
    assert stored_keys(fs, root, partition) == {"a", "b"}

    again = store_partition(
        partition, [_event("b"), _event("c")], fs=fs, root=root, partitioning="daily", dry_run=False
    )
    assert (again.written, again.already_stored, again.duplicates_in_run) == (1, 1, 0)
    files = sorted((tmp_path / partition).glob("*.parquet"))
    assert len(files) == 2
    keys = [k for f in files for k in pq.read_table(f).column("idempotency_key").to_pylist()]
    assert sorted(keys) == ["a", "b", "c"]


def test_dry_run_counts_without_writing(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    partition = partition_dir("shop", NOW_MS, partitioning="daily")
    result = store_partition(
        partition, [_event("a")], fs=fs, root=str(tmp_path), partitioning="daily", dry_run=True
    )
    assert (result.written, result.files) == (1, 0)
    assert not (tmp_path / partition).exists()
    assert stored_keys(fs, str(tmp_path), partition) == set()


def _summary() -> BackfillSummary:
    parts = [
        PartitionResult(partition="p/day=01", rows=5, already_stored=1, duplicates_in_run=1,
                        written=3, files=0),
        PartitionResult(partition="p/day=02", rows=2, already_stored=2, duplicates_in_run=0,
                        written=0, files=0),
    ]  # fmt: skip
    return BackfillSummary(
        files=2, records=9, valid=7, rejected=2, already_stored=3, duplicates_in_run=1,
        written=3, partitions=parts, seconds=1.25,
    )  # fmt: skip


def test_dry_run_report_lists_partitions_it_would_write() -> None:
    text = describe(_summary(), dry_run=True)
    lines = text.splitlines()
    assert lines[0].startswith("dry run: nothing written. 9 records in 2 files: 7 valid")
    assert "2 rejected, 3 already stored, 1 repeated in the sources, 3 to write" in lines[0]
    assert lines[1:] == ["partitions it would write (1):", "  p/day=01: 3 rows"]


def test_real_run_report_is_one_line() -> None:
    text = describe(_summary(), dry_run=False)
    assert text.count("\n") == 0 and "3 written in 1.2 s" in text


def test_rejects_file_ndjson_and_csv(tmp_path: Path) -> None:
    rows = [{"source": "a.csv", "row": 3, "field": "type", "reason": "unknown, sadly"}]
    for name in ("r.ndjson", "r.csv"):
        writer = RejectsWriter(str(tmp_path / name))
        writer.write(rows)
        writer.close()
    assert json.loads((tmp_path / "r.ndjson").read_text()) == rows[0]
    assert (tmp_path / "r.csv").read_text().splitlines() == [
        "source,row,field,reason",
        'a.csv,3,type,"unknown, sadly"',
    ]
