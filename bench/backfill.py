"""Backfill throughput on a local Ray cluster, beside the floor of plain pyarrow.

    .venv/bin/python -m bench.backfill [--events 100000] [--cpus 2]

Generates events in mixed formats (NDJSON, CSV, Parquet, Segment lines, with some bad rows),
starts its own ``ray start --head`` on loopback, times ``ray job submit ... python -m
jobs.backfill`` end to end and the job's own pipeline time, then times pyarrow reading the
same files and writing them as one zstd Parquet file in one process (no validation, no
dedup: the floor). The generator and the cluster helper are shared with
tests/integration/test_backfill.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from bench.common import ChildProcess, free_port, machine_note

REPO = Path(__file__).resolve().parent.parent
DAY_MS = 86_400_000
# kept out of the job's working-dir upload: big, and never imported by the job
UPLOAD_EXCLUDES = [".git", "webui", "sdk", "build", "bench/results", ".hypothesis", "tests/e2e"]


@dataclass(frozen=True)
class Generated:
    """What the generator wrote and what a correct backfill must make of it."""

    paths: list[Path]
    total_rows: int
    good_unique: int  # distinct good events: what the warehouse must hold
    repeated: int  # good rows whose key another good row already has
    bad: int  # rows that must be rejected
    bad_json_line: tuple[str, int]  # (file name, line) of one unparseable NDJSON line


def _envelope(rng: random.Random, i: int, now_ms: int, *, key: bool) -> dict[str, object]:
    kind = rng.choice(("screen_view", "add_to_cart", "custom", "button_tap"))
    env: dict[str, object] = {
        "type": kind,
        "device_id": f"d-{rng.randrange(5000)}",
        "timestamp_ms": now_ms - rng.randrange(1, 20 * DAY_MS),
        "session_id": f"s-{i // 20}",
    }
    if key:
        env["idempotency_key"] = f"k-{i}"
    if rng.random() < 0.5:
        env["user_id"] = f"u-{rng.randrange(2000)}"
    if kind == "screen_view":
        env["properties"] = {"screen_name": rng.choice(("home", "cart", "search")), "n": i}
    elif kind == "add_to_cart":
        env["properties"] = {
            "product_id": f"p-{rng.randrange(300)}",
            "quantity": rng.randrange(1, 4),
            "price_cents": rng.randrange(100, 9999),
            "currency": "EUR",
        }
    elif kind == "custom":
        env["properties"] = {"event_name": "coupon_applied", "code": f"C{i % 97}", "n": i}
    else:
        env["properties"] = {"element_id": f"btn-{i % 13}", "n": i}
    return env


def _bad_envelope(rng: random.Random, i: int, now_ms: int) -> dict[str, object]:
    """One of several ways a row is wrong, each with a reason the validator names."""
    env = _envelope(rng, i, now_ms, key=True)
    flaw = (i // 100) % 4
    if flaw == 0:
        env["type"] = "not_a_type"
    elif flaw == 1:
        del env["device_id"]
    elif flaw == 2:
        env["timestamp_ms"] = now_ms - 3000 * DAY_MS  # beyond the horizon
    else:
        env["type"] = "add_to_cart"
        env["properties"] = {"product_id": "p-1", "quantity": "three"}
    return env


def generate_sources(folder: Path, *, events: int, seed: int = 11) -> Generated:
    """Write ``events`` rows over NDJSON, CSV, Parquet and Segment files; ~1% bad rows."""
    rng = random.Random(seed)
    now_ms = int(time.time() * 1000)
    folder.mkdir(parents=True, exist_ok=True)
    quarter = events // 4
    good = bad = repeated = 0
    paths: list[Path] = []

    # NDJSON: a third of the rows have no key (the backfill derives one); bad rows and one
    # line that is not JSON at all
    ndjson = folder / "events.ndjson"
    lines: list[str] = []
    keyed: list[dict[str, object]] = []  # good keyed rows, some repeated in the Parquet file
    bad_line = 0
    for i in range(quarter):
        if i % 100 == 7:
            lines.append(json.dumps(_bad_envelope(rng, i, now_ms)))
            bad += 1
        elif i == 50:
            lines.append('{"type": "screen_view", "device_id": ')
            bad_line = len(lines)
            bad += 1
        else:
            env = _envelope(rng, i, now_ms, key=i % 3 != 0)
            if "idempotency_key" in env and len(keyed) < 500:
                keyed.append(env)
            lines.append(json.dumps(env))
            good += 1
    ndjson.write_text("\n".join(lines) + "\n")
    paths.append(ndjson)

    # CSV: envelope columns + properties.* cells (typed by the catalogue); some rows lack
    # a timestamp, which a backfill refuses
    csv_path = folder / "events.csv"
    header = ["type", "device_id", "idempotency_key", "timestamp", "user_id"]
    header += ["properties.product_id", "properties.quantity", "properties.price_cents"]
    header += ["properties.currency"]
    rows = [",".join(header)]
    base = quarter
    for j in range(quarter):
        i = base + j
        ts = now_ms - rng.randrange(1, 20 * DAY_MS)
        stamp = "" if j % 100 == 3 else f"{ts}"
        if j % 100 == 3:
            bad += 1
        else:
            good += 1
        rows.append(
            f"add_to_cart,d-{rng.randrange(5000)},k-{i},{stamp},u-{j % 700},"
            f"p-{j % 300},{1 + j % 3},{100 + j},EUR"
        )
    csv_path.write_text("\n".join(rows) + "\n")
    paths.append(csv_path)

    # Parquet in the envelope shape (properties as JSON text); the first rows repeat NDJSON
    # events exactly (a source exported twice)
    records = []
    base = 2 * quarter
    for j in range(quarter):
        i = base + j
        env = _envelope(rng, i, now_ms, key=True)
        if j < len(keyed):
            env = keyed[j]
            repeated += 1
        elif j % 100 == 11:
            env = _bad_envelope(rng, i, now_ms)
            bad += 1
        else:
            good += 1
        records.append({**env, "properties": json.dumps(env.get("properties", {}))})
    parquet = folder / "events.parquet"
    pq.write_table(pa.Table.from_pylist(records), parquet)
    paths.append(parquet)

    # Segment export: track/page/screen/identify lines; some lack both ids
    segment = folder / "segment-export.jsonl"
    lines = []
    base = 3 * quarter
    for j in range(events - 3 * quarter):
        i = base + j
        ts = now_ms - rng.randrange(1, 20 * DAY_MS)
        call = ("track", "page", "screen", "identify")[j % 4]
        message: dict[str, object] = {
            "type": call,
            "messageId": f"m-{i}",
            "anonymousId": f"a-{rng.randrange(5000)}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts / 1000)) + "Z",
        }
        if call == "track":
            message.update(event="Order Completed", properties={"order_id": f"o-{i}"})
        elif call == "page":
            message["properties"] = {"path": f"/p/{j % 50}", "url": f"https://x.test/p/{j % 50}"}
        elif call == "screen":
            message["name"] = f"Screen {j % 9}"
        else:
            message.update(userId=f"u-{j}", traits={"plan": "pro"})
        if j % 100 == 5:
            del message["anonymousId"]
            message.pop("userId", None)
            bad += 1
        else:
            good += 1
        lines.append(json.dumps(message))
    segment.write_text("\n".join(lines) + "\n")
    paths.append(segment)
    return Generated(
        paths=paths,
        total_rows=events,
        good_unique=good,
        repeated=repeated,
        bad=bad,
        bad_json_line=(ndjson.name, bad_line),
    )


class LocalRayCluster:
    """``ray start --head --block`` on loopback with its own ports and temp dir.

    Every port is chosen here, so it never meets another Ray on the machine (a test
    session's own instance included), and stopping it stops only the processes it started.
    """

    def __init__(self, *, cpus: int, log_dir: Path) -> None:
        self.temp_dir = Path(tempfile.mkdtemp(prefix="rbf", dir="/tmp"))  # sockets: short paths
        self.dashboard_port = free_port()
        self.address = f"http://127.0.0.1:{self.dashboard_port}"
        worker_low = 20000 + random.randrange(0, 20000, 100)
        args = [
            str(REPO / ".venv/bin/ray"), "start", "--head", "--block",
            "--node-ip-address", "127.0.0.1", "--port", str(free_port()),
            "--temp-dir", str(self.temp_dir), "--num-cpus", str(cpus), "--num-gpus", "0",
            "--include-dashboard", "true", "--dashboard-host", "127.0.0.1",
            "--dashboard-port", str(self.dashboard_port),
            "--ray-client-server-port", str(free_port()),
            "--dashboard-agent-listen-port", str(free_port()),
            "--dashboard-agent-grpc-port", str(free_port()),
            "--metrics-export-port", str(free_port()),
            "--runtime-env-agent-port", str(free_port()),
            "--node-manager-port", str(free_port()),
            "--object-manager-port", str(free_port()),
            "--min-worker-port", str(worker_low), "--max-worker-port", str(worker_low + 99),
            "--object-store-memory", str(300 * 1024 * 1024),
            "--disable-usage-stats",
        ]  # fmt: skip
        self.env = cluster_env()
        self._child = ChildProcess(args, log_path=log_dir / "ray-head.log", env=self.env)

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        """Until the job API answers (the dashboard starts last)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._child.proc.poll() is not None:
                raise RuntimeError(f"ray start exited: {self._child.log_tail()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.address}/api/version", timeout=2) as r:
                    if r.status == 200:
                        return
            time.sleep(0.5)
        raise RuntimeError(f"the dashboard did not answer: {self._child.log_tail()}")

    def stop(self) -> None:
        self._child.stop(grace_s=0.5)
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def cluster_env() -> dict[str, str]:
    """This environment minus what would point Ray or Causality elsewhere; the venv first."""
    env = {
        k: v for k, v in os.environ.items() if k != "RAY_ADDRESS" and not k.startswith("CAUSALITY_")
    }
    env["PATH"] = f"{REPO / '.venv/bin'}{os.pathsep}{env.get('PATH', '')}"
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    # the cluster listens on loopback only and lives for one test or bench run
    env["RAY_AUTH_MODE"] = "disabled"
    return env


@contextlib.contextmanager
def local_ray_cluster(*, cpus: int, log_dir: Path) -> Iterator[LocalRayCluster]:
    cluster = LocalRayCluster(cpus=cpus, log_dir=log_dir)
    try:
        cluster.wait_ready()
        yield cluster
    finally:
        cluster.stop()


def submit_backfill(
    cluster: LocalRayCluster,
    args: Sequence[str],
    *,
    env_vars: dict[str, str],
    timeout_s: float = 300.0,
) -> subprocess.CompletedProcess[str]:
    """``ray job submit`` of ``python -m jobs.backfill ARGS``; waits and returns its output."""
    runtime_env = {"env_vars": env_vars, "excludes": UPLOAD_EXCLUDES}
    command = [
        str(REPO / ".venv/bin/ray"), "job", "submit", "--address", cluster.address,
        "--submission-id", f"backfill-{uuid.uuid4().hex[:8]}",
        "--working-dir", str(REPO), "--runtime-env-json", json.dumps(runtime_env),
        "--", "python", "-m", "jobs.backfill", *args,
    ]  # fmt: skip
    return subprocess.run(
        command, env=cluster.env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


def pyarrow_floor(paths: Sequence[Path], out: Path) -> tuple[int, float]:
    """Rows and seconds for pyarrow alone: read every file, write one zstd Parquet file each."""
    started = time.perf_counter()
    rows = 0
    for n, path in enumerate(paths):
        if path.suffix == ".csv":
            table = pacsv.read_csv(path)
        elif path.suffix == ".parquet":
            table = pq.read_table(path)
        else:
            # bad lines would stop pyarrow's reader (truncated JSON, a mistyped quantity):
            # the floor reads the others
            good = [
                ln
                for ln in path.read_bytes().splitlines()
                if ln.endswith(b"}") and b'"three"' not in ln
            ]
            table = pajson.read_json(
                pa.py_buffer(b"\n".join(good)),
                read_options=pajson.ReadOptions(block_size=1 << 28),
            )
        pq.write_table(table, out / f"floor-{n}.parquet", compression="zstd")
        rows += table.num_rows
    return rows, time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backfill", description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args(argv)
    print(machine_note())
    work = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    try:
        generated = generate_sources(work / "src", events=args.events)
        (work / "floor").mkdir()
        floor_rows, floor_s = pyarrow_floor(generated.paths, work / "floor")
        with local_ray_cluster(cpus=args.cpus, log_dir=work) as cluster:
            env = {"CAUSALITY_WAREHOUSE_URI": str(work / "wh"), "CAUSALITY_DATA_DIR": str(work)}
            sources = [str(p) for p in generated.paths]
            started = time.perf_counter()
            done = submit_backfill(cluster, [*sources, "--app", "bench"], env_vars=env)
            wall_s = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stdout[-4000:], done.stderr[-4000:], sep="\n")
            return 1
        found = re.search(r"written in ([\d.]+) s", done.stdout)
        job_s = float(found.group(1)) if found else wall_s
        print(f"events: {args.events} in {len(generated.paths)} files; Ray CPUs: {args.cpus}")
        print(f"backfill pipeline (in the job): {args.events / job_s:,.0f} rows/s ({job_s:.1f} s)")
        print(
            f"backfill via ray job submit:    {args.events / wall_s:,.0f} rows/s ({wall_s:.1f} s)"
        )
        print(
            f"pyarrow floor (one process):    {floor_rows / floor_s:,.0f} rows/s ({floor_s:.2f} s)"
        )
        print(f"floor / pipeline: {(floor_rows / floor_s) / (args.events / job_s):.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
