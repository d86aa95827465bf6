"""Compaction planning: closed hours from statistics, bins by size, temp files never touched."""

from __future__ import annotations

import shutil
from pathlib import Path

import fsspec
import pyarrow.parquet as pq

from causality.events.arrow import events_to_table
from causality.warehouse.commits import decode_ranges, encode_ranges, union_ranges
from causality.warehouse.compaction import CompactionTask, plan_compaction
from tests.warehouse_files import at, make_events, ms, write_files

APP = "shop"
DAY = "events/app_id=shop/year=2025/month=06/day=01"


def plan(root: Path, **changes: object) -> list[CompactionTask]:
    options: dict[str, object] = {
        "partitioning": "daily",
        "now": at(2025, 6, 2, 12),
        "target_file_bytes": 128 * 1024 * 1024,
        "min_files": 10,
        "closed_grace_s": 600.0,
    }
    options.update(changes)
    return plan_compaction(fsspec.filesystem("file"), str(root), **options)  # type: ignore[arg-type]


def planned(tasks: list[CompactionTask]) -> set[str]:
    return {Path(s.path).name for t in tasks for s in t.sources}


def test_only_files_of_closed_hours_are_eligible(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    # ten files early in hour 10, ten early in hour 11, one straddling 12:00
    h10 = write_files(fs, str(tmp_path), app_id=APP, start=at(2025, 6, 1, 10), files=10, rows=3)
    h11 = write_files(fs, str(tmp_path), app_id=APP, start=at(2025, 6, 1, 11), files=10, rows=3)
    straddle = write_files(
        fs, str(tmp_path), app_id=APP, start=at(2025, 6, 1, 11, 59), files=1, rows=3, step_ms=60_000
    )
    names = {key: {Path(f.path).name for f in files} for key, files in
             {"h10": h10, "h11": h11, "straddle": straddle}.items()}  # fmt: skip

    # at 12:05 with a 10 minute grace, 11:00-11:59 has not been closed long enough
    assert planned(plan(tmp_path, now=at(2025, 6, 1, 12, 5))) == names["h10"]
    # at 12:10 it has; the straddling file still holds a row of the open hour 12
    assert planned(plan(tmp_path, now=at(2025, 6, 1, 12, 10))) == names["h10"] | names["h11"]
    assert planned(plan(tmp_path, now=at(2025, 6, 1, 13, 10))) == set().union(*names.values())
    assert plan(tmp_path, now=at(2025, 6, 1, 10, 30)) == []
    # a partition that starts after the last closed hour is skipped by its path alone
    assert plan(tmp_path, now=at(2025, 6, 1, 0, 30)) == []


def test_files_without_timestamp_statistics_are_never_eligible(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    written = write_files(fs, str(tmp_path), app_id=APP, start=at(2025, 6, 1, 3), files=12, rows=2)
    no_stats = tmp_path / DAY / "00000000000000000001-000000000000.parquet"
    table = events_to_table(make_events(APP, [ms(at(2025, 6, 1, 4))]))
    pq.write_table(table, no_stats, write_statistics=False)

    tasks = plan(tmp_path)
    assert planned(tasks) == {Path(f.path).name for f in written}


def test_bins_hold_consecutive_files_up_to_the_target_size(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    written = write_files(fs, str(tmp_path), app_id=APP, start=at(2025, 6, 1, 1), files=31, rows=5)
    sizes = {f.path: fs.size(f.path) for f in written}
    target = int(max(sizes.values()) * 3.5)

    tasks = plan(tmp_path, target_file_bytes=target)

    in_order = [f.path for f in written]  # written in timestamp order
    binned = [s.path for t in tasks for s in t.sources]
    assert len(tasks) >= 8
    # every file in one bin, but a last file alone (nothing to merge it with)
    assert binned == in_order[: len(binned)] and len(in_order) - len(binned) <= 1
    for task in tasks:
        paths = [s.path for s in task.sources]
        assert len(paths) >= 2 and sum(sizes[p] for p in paths) <= target
        after = in_order.index(paths[-1]) + 1
        if after < len(in_order):  # bins are as full as the target allows
            assert sum(sizes[p] for p in paths) + sizes[in_order[after]] > target
        assert task.stream == "CAUSALITY_EVENTS" and task.leftovers == ()


def test_temp_files_are_never_listed_counted_or_merged(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    written = write_files(fs, str(tmp_path), app_id=APP, start=at(2025, 6, 1, 1), files=9, rows=2)
    for i, f in enumerate(written[:5]):  # files "being written" by a sink or a compactor
        shutil.copy(f.path, tmp_path / DAY / f"9{i:019d}-aaaaaaaaaaaa.parquet.tmp")

    assert plan(tmp_path) == []  # nine real files are fewer than min_files
    write_files(fs, str(tmp_path), app_id=APP, start=at(2025, 6, 1, 2), files=1, rows=2)
    tasks = plan(tmp_path)
    assert len(tasks) == 1 and len(tasks[0].sources) == 10
    assert not any(s.path.endswith(".tmp") for s in tasks[0].sources)


def test_files_of_other_streams_are_merged_apart(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    ours = write_files(fs, str(tmp_path), app_id=APP, start=at(2025, 6, 1, 1), files=6, rows=2)
    backfill = write_files(
        fs, str(tmp_path), app_id=APP, start=at(2025, 6, 1, 5), files=6, rows=2, stream=""
    )
    tasks = plan(tmp_path, min_files=4)
    by_stream = {t.stream: {Path(s.path).name for s in t.sources} for t in tasks}
    assert by_stream == {
        None: {Path(f.path).name for f in backfill},
        "CAUSALITY_EVENTS": {Path(f.path).name for f in ours},
    }


def test_files_near_the_target_size_are_left_alone(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    small = write_files(fs, str(tmp_path), app_id=APP, start=at(2025, 6, 1, 1), files=6, rows=2)
    large = write_files(fs, str(tmp_path), app_id=APP, start=at(2025, 6, 1, 2), files=2, rows=3000)
    target = min(fs.size(f.path) for f in large)  # large files are over 3/4 of it
    assert sum(fs.size(f.path) for f in small) < target

    tasks = plan(tmp_path, min_files=4, target_file_bytes=target)
    assert planned(tasks) == {Path(f.path).name for f in small}


def test_hourly_partitions_and_app_filter(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    for app in ("a", "b"):
        write_files(
            fs, str(tmp_path), app_id=app, start=at(2025, 6, 1, 1), files=10, rows=2,
            partitioning="hourly",
        )  # fmt: skip
    tasks = plan(tmp_path, partitioning="hourly", app_id="b")
    assert [t.partition.split("/events/")[1] for t in tasks] == [
        "app_id=b/year=2025/month=06/day=01/hour=01"
    ]
    # a daily plan does not mistake hourly directories for its own partitions
    assert plan(tmp_path, partitioning="daily") == []


def test_union_of_ranges_matches_the_union_of_sequences() -> None:
    parts = [encode_ranges([1, 2, 3, 9]), encode_ranges([4, 5, 20]), encode_ranges([8, 21, 22])]
    assert union_ranges(parts) == encode_ranges([1, 2, 3, 4, 5, 8, 9, 20, 21, 22])
    assert decode_ranges(union_ranges([b"5-9", b"1-6", b""])) == [(1, 9)]
