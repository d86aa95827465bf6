"""The Hive partition layout of DESIGN.md, in one place.

``{root}/events/app_id=<id>/year=YYYY/month=MM/day=DD[/hour=HH]/<file>.parquet``
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

EVENTS_DIR = "events"
PARQUET_SUFFIX = ".parquet"
TEMP_SUFFIX = ".tmp"

Partitioning = Literal["daily", "hourly"]


def partition_dir(app_id: str, timestamp_ms: int, *, partitioning: Partitioning) -> str:
    """Relative directory of the partition holding an event of this app at this time."""
    t = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    path = f"{EVENTS_DIR}/app_id={app_id}/year={t.year:04d}/month={t.month:02d}/day={t.day:02d}"
    if partitioning == "hourly":
        path += f"/hour={t.hour:02d}"
    return path


def group_by_partition(
    app_ids: Sequence[str], timestamps_ms: Sequence[int], *, partitioning: Partitioning
) -> dict[str, list[int]]:
    """Row indexes per partition directory; the hour bucket is computed once per distinct hour."""
    bucket_ms = 3_600_000
    cache: dict[tuple[str, int], str] = {}
    groups: dict[str, list[int]] = defaultdict(list)
    for i, (app_id, ts) in enumerate(zip(app_ids, timestamps_ms, strict=True)):
        key = (app_id, ts // bucket_ms)
        path = cache.get(key)
        if path is None:
            path = cache[key] = partition_dir(app_id, ts, partitioning=partitioning)
        groups[path].append(i)
    return dict(groups)


def new_file_name() -> str:
    """Sortable by write time, unique across writers without coordination."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}{PARQUET_SUFFIX}"


def events_glob(root: str) -> str:
    """Glob of every event file under the warehouse root (used by query engines)."""
    return f"{root.rstrip('/')}/{EVENTS_DIR}/**/*{PARQUET_SUFFIX}"
