"""`python -m jobs.backfill --from-stream`: a replay of CAUSALITY_EVENTS between two times.

Events of a fresh app are published to the session's real NATS before, inside and after a
window; the replay, run as the job's own command line, must store exactly the window's events
once into its own warehouse (one of them already stored, as by the sink, is skipped), keep
their ids and received times, and a second replay must add nothing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from causality.backfill.dedup import store_partition
from causality.bus.connection import open_connection
from causality.bus.publisher import EventPublisher
from causality.bus.stream import ensure_topology
from causality.config import Settings
from causality.events.model import Event
from causality.warehouse.filesystem import open_warehouse
from causality.warehouse.layout import partition_dir

REPO = Path(__file__).resolve().parents[2]
DAY_MS = 86_400_000


def _events(app_id: str, tag: str, count: int, now_ms: int) -> list[Event]:
    return [
        Event(
            id=f"{tag}-id-{i}",
            idempotency_key=f"{tag}-key-{i}",
            app_id=app_id,
            device_id=f"d-{i}",
            event_category="engagement",
            event_type="button_tap",
            timestamp_ms=now_ms - (i % 3) * DAY_MS,  # over three daily partitions
            received_at_ms=now_ms + i,
        )
        for i in range(count)
    ]


async def _publish_around_window(
    nats_url: str, settings: Settings, app_id: str
) -> tuple[datetime, datetime, list[Event]]:
    """Publish before, inside and after a window; return the window and its events."""
    now_ms = int(time.time() * 1000)
    async with open_connection(nats_url, name="test-backfill-stream") as nc:
        await ensure_topology(nc.jetstream(), settings)
        publisher = EventPublisher(nc=nc, stream=settings.stream_name, timeout_s=5.0)
        assert await publisher.publish(_events(app_id, "before", 4, now_ms)) == [False] * 4
        await asyncio.sleep(0.02)  # stream times are the server's clock: keep them apart
        start = datetime.now(UTC)
        await asyncio.sleep(0.02)
        inside = _events(app_id, "inside", 30, now_ms)
        assert await publisher.publish(inside) == [False] * 30
        await asyncio.sleep(0.02)
        end = datetime.now(UTC)
        await asyncio.sleep(0.02)
        assert await publisher.publish(_events(app_id, "after", 5, now_ms)) == [False] * 5
        await publisher.aclose()
    return start, end, inside


def _replay(env: dict[str, str], app_id: str, start: datetime, end: datetime) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "jobs.backfill", "--from-stream", "--app", app_id,
         "--start", start.isoformat(), "--end", end.isoformat()],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _stored(warehouse: Path, app_id: str) -> list[tuple[str, str, int]]:
    glob = f"{warehouse}/events/**/*.parquet"
    with duckdb.connect() as db:
        rows = db.execute(
            f"SELECT id, idempotency_key, epoch_ms(received_at) FROM read_parquet('{glob}', "
            f"hive_partitioning = true) WHERE app_id = ? ORDER BY id",
            [app_id],
        ).fetchall()
    return [(str(a), str(b), int(c)) for a, b, c in rows]


@pytest.mark.asyncio(loop_scope="session")
async def test_stream_replay_stores_the_window_once(
    nats_url: str, base_settings: Settings, tmp_path: Path
) -> None:
    app_id = f"bfs{uuid.uuid4().hex[:10]}"
    start, end, inside = await _publish_around_window(nats_url, base_settings, app_id)

    warehouse = tmp_path / "warehouse"
    own = Settings(warehouse_uri=str(warehouse), data_dir=str(tmp_path))
    fs, root = open_warehouse(own)
    stored_first = inside[0]  # as if the sink had written it already
    partition = partition_dir(app_id, stored_first.timestamp_ms, partitioning=own.partitioning)
    store_partition(
        partition, [stored_first], fs=fs, root=root, partitioning=own.partitioning, dry_run=False
    )

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAUSALITY_", "RAY_"))}
    env |= {
        "CAUSALITY_NATS_URL": nats_url,
        "CAUSALITY_STREAM_NAME": base_settings.stream_name,
        "CAUSALITY_WAREHOUSE_URI": str(warehouse),
        "CAUSALITY_DATA_DIR": str(tmp_path),
    }
    first = _replay(env, app_id, start, end)
    assert "read 30 messages" in first
    assert "1 already stored" in first and "29 written" in first
    expected = sorted((e.id, e.idempotency_key, e.received_at_ms) for e in inside)
    assert _stored(warehouse, app_id) == expected

    files = sorted(warehouse.glob("events/**/*.parquet"))
    second = _replay(env, app_id, start, end)
    assert "30 already stored" in second and " 0 written" in second
    assert sorted(warehouse.glob("events/**/*.parquet")) == files
    assert _stored(warehouse, app_id) == expected
