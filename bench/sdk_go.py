"""The Go SDK (sdk/go): Track calls/s and events/s delivered to the local gateway.

``python -m bench.sdk_go [--events 200000] [--no-python]``

The Go side is ``sdk/go/bench`` (built here with ``go build``); it prints one JSON row per
measurement. This script starts what it needs (embedded NATS and PostgreSQL, the gateway
under uvicorn in a child process, as ``bench.sdk`` does), and runs the Python SDK's rows
and the bare-HTTP floor against the same gateway beside the Go rows, so the figures are
comparable on one machine. Handover rows time every Track call (p50 / p99 / max): Track
must never wait for the network. Delivered rows run from the first Track until Flush
returned, i.e. until the gateway acknowledged every event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import tempfile
from pathlib import Path

from bench.common import free_port, machine_note
from bench.ingest import _create_key, _purge, server
from bench.sdk import Row, bare_floor, handover_floor, handover_unreachable, report, sdk_delivery
from causality.config import Settings
from causality.stack import EmbeddedServices

SDK_DIR = Path(__file__).resolve().parents[1] / "sdk" / "go"


def build_go_bench(workdir: Path) -> Path:
    """Compile the Go bench once, so `go run`'s build never counts in a measurement."""
    binary = workdir / "causality-go-bench"
    subprocess.run(["go", "build", "-o", str(binary), "./bench"], cwd=SDK_DIR, check=True)
    return binary


def go_rows(binary: Path, *args: str) -> list[Row]:
    out = subprocess.run([str(binary), *args], capture_output=True, text=True, check=True)
    rows = []
    for line in out.stdout.splitlines():
        data = json.loads(line)
        floor = "handover" if data["what"] == "handover" else "uvicorn floor (gzip)"
        if data["what"] == "delivered" and "plain" in data["target"]:
            floor = "uvicorn floor (plain)"
        rows.append(
            Row(data["what"], data["target"], data["events"], data["seconds"], data["notes"], floor)
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000, help="Track calls per run")
    parser.add_argument(
        "--no-python", action="store_true", help="skip the Python SDK rows (floors stay)"
    )
    args = parser.parse_args(argv)
    n = args.events
    logging.getLogger("causality.bus.connection").setLevel(logging.ERROR)
    logging.getLogger("causality_sdk").setLevel(logging.ERROR)

    print(machine_note(), flush=True)
    with tempfile.TemporaryDirectory(prefix="causality-bench-sdk-go-") as tmp:
        workdir = Path(tmp)
        binary = build_go_bench(workdir)
        rows = [handover_floor(n)]
        if not args.no_python:
            rows.append(handover_unreachable(n))
        rows += go_rows(binary, "-events", str(n), "-only", "handover")
        base = Settings(
            data_dir=str(workdir / "data"),
            embedded_nats_port=free_port(),
            http_port=free_port(),
            rate_limit_events_per_s=1e9,
            rate_limit_burst=1e9,
            api_key_cache_ttl_s=60.0,
        )
        services = EmbeddedServices(base)
        settings = services.start()
        try:
            _, key = asyncio.run(_create_key(settings))
            url = f"http://{settings.http_host}:{settings.http_port}"
            with server("uvicorn", settings, workdir=workdir, env=dict(os.environ)):
                for compress in (False, True):
                    asyncio.run(_purge(settings))
                    rows.append(bare_floor(url, key, n, "uvicorn", compress=compress, inline=True))
                    if not args.no_python:
                        asyncio.run(_purge(settings))
                        rows += sdk_delivery(url, key, n, "uvicorn", compress=compress)
                asyncio.run(_purge(settings))
                print("[uvicorn] go sdk ...", flush=True)
                rows += go_rows(
                    binary, "-url", url, "-key", key, "-events", str(n), "-only", "delivery"
                )
        finally:
            services.stop()
    report(rows, n)


if __name__ == "__main__":
    main()
