"""A real backfill: our own `ray start --head` on loopback and a real `ray job submit`.

The cluster has its own ports and temp dir, so it never meets the session's Ray instance
(tests/integration/conftest.py); stopping it kills only the processes it started. 100,000
generated events in NDJSON, CSV, Parquet and Segment lines, with bad rows and rows repeated
across files: every good row must be stored once, a second run must add nothing, and every
bad row must be in the rejects file with its source, row, field and reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from bench.backfill import (
    Generated,
    LocalRayCluster,
    generate_sources,
    local_ray_cluster,
    submit_backfill,
)

EVENTS = 100_000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRayCluster]:
    with local_ray_cluster(cpus=2, log_dir=tmp_path_factory.mktemp("ray-head")) as c:
        yield c


def _stored(warehouse: Path) -> tuple[int, int, int, int]:
    """Rows, distinct ids, distinct keys and files in the warehouse, read by DuckDB."""
    glob = f"{warehouse}/events/**/*.parquet"
    files = len(list(warehouse.glob("events/**/*.parquet")))
    with duckdb.connect() as db:
        row = db.execute(
            f"SELECT count(*), count(DISTINCT id), count(DISTINCT idempotency_key) "
            f"FROM read_parquet('{glob}', hive_partitioning = true) WHERE app_id = 'shop'"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2]), files


def test_backfill_job_stores_good_rows_once(cluster: LocalRayCluster, tmp_path: Path) -> None:
    generated: Generated = generate_sources(tmp_path / "src", events=EVENTS)
    warehouse = tmp_path / "warehouse"
    rejects = tmp_path / "rejects.ndjson"
    env = {"CAUSALITY_WAREHOUSE_URI": str(warehouse), "CAUSALITY_DATA_DIR": str(tmp_path)}
    sources = [str(tmp_path / "src" / "*")]
    args = [*sources, "--app", "shop", "--rejects", str(rejects)]

    first = submit_backfill(cluster, args, env_vars=env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "succeeded" in first.stdout + first.stderr
    rows, ids, keys, files = _stored(warehouse)
    assert rows == ids == keys == generated.good_unique
    assert f"{generated.repeated} repeated in the sources" in first.stdout

    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert len(lines) == generated.bad
    assert all(r["source"] and r["row"] >= 1 and r["field"] and r["reason"] for r in lines)
    name, line = generated.bad_json_line
    assert any(
        r["source"].endswith(name) and r["row"] == line and "JSON" in r["reason"] for r in lines
    )
    fields = {r["field"] for r in lines}
    assert {"type", "device_id", "timestamp_ms", "anonymousId", "properties.quantity"} <= fields

    second = submit_backfill(
        cluster, [*args, "--rejects", str(tmp_path / "again.ndjson")], env_vars=env
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert _stored(warehouse) == (rows, ids, keys, files)
    # repeats of a stored row now count as stored too: every valid row is found
    assert f"{generated.good_unique + generated.repeated} already stored" in second.stdout
    assert " 0 written" in second.stdout
