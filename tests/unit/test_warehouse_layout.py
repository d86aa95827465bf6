"""Partition paths and the commit records kept in Parquet footers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from causality.warehouse.commits import decode_ranges, encode_ranges
from causality.warehouse.layout import group_by_partition, new_file_name, partition_dir

TS = int(datetime(2026, 3, 9, 23, 59, 59, 999_000, tzinfo=UTC).timestamp() * 1000)


def test_daily_and_hourly_paths() -> None:
    assert partition_dir("shop", TS, partitioning="daily") == (
        "events/app_id=shop/year=2026/month=03/day=09"
    )
    assert partition_dir("shop", TS, partitioning="hourly").endswith("/day=09/hour=23")
    assert partition_dir("shop", TS + 1, partitioning="daily").endswith("month=03/day=10")


def test_grouping_keeps_row_order_per_partition() -> None:
    groups = group_by_partition(
        ["a", "b", "a", "a"], [TS, TS, TS + 1, TS - 5], partitioning="daily"
    )
    assert groups == {
        "events/app_id=a/year=2026/month=03/day=09": [0, 3],
        "events/app_id=b/year=2026/month=03/day=09": [1],
        "events/app_id=a/year=2026/month=03/day=10": [2],
    }


def test_file_names_sort_by_time_and_are_unique() -> None:
    names = [new_file_name() for _ in range(100)]
    assert len(set(names)) == 100
    stamps = [n.split("-", 1)[0] for n in names]
    assert stamps == sorted(stamps)
    assert all(n.endswith(".parquet") and len(stamps[0]) == 20 for n in names)


@pytest.mark.parametrize(
    ("seqs", "text"),
    [
        ([1, 2, 3, 4], b"1-4"),
        ([7], b"7"),
        ([5, 1, 2, 9, 10, 3], b"1-3,5,9-10"),
        ([], b""),
        ([4, 4, 5], b"4-5"),
    ],
)
def test_seq_ranges_round_trip(seqs: list[int], text: bytes) -> None:
    assert encode_ranges(seqs) == text
    expanded = {s for a, b in decode_ranges(text) for s in range(a, b + 1)}
    assert expanded == set(seqs)
