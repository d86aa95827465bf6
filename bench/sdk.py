"""The Python SDK: how fast one client takes events, and how fast it delivers them.

``python -m bench.sdk [--events 200000] [--modes uvicorn,serve] [--repeat 1]``

* handover: ``Client.track()`` calls/s from one thread in a tight loop of ``--events`` calls,
  with every call timed (p50 / p99 / max: track must never wait for the network). Measured
  with the gateway unreachable (the sender only backs off) and while the sender delivers
  to the gateway (it shares the GIL with the loop). The floor is the least any SDK that
  snapshots events at call time does: the same envelope, a uuid4 key and a timestamp,
  JSON-encoded and appended to a deque.
* delivered: events/s from the first ``track()`` until ``flush()`` returned, i.e. until the
  gateway acknowledged every event, with the SDK's defaults (batches of up to 1000), gzip
  on and off. The floor is the same events POSTed in batches of 1000 by a bare
  ``httpx.Client`` loop, one request in flight like the SDK, which builds and encodes each
  batch (and gzips it) in the loop: the SDK's work without its queue and thread. A second
  floor POSTs bodies encoded beforehand: the wire and the gateway alone.

Targets: ``uvicorn`` is ``build_gateway_app`` under plain uvicorn in a child process;
``serve`` is the Serve application (Ray, sinks included), optional because it takes a
minute or two to start. NATS and PostgreSQL are embedded in a temporary folder, the rate
limit is off, and the stream is purged before every delivery run.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import os
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from causality_sdk import Client
from causality_sdk.context import device_context

from bench.common import free_port, machine_note, percentile, table
from bench.ingest import _create_key, _purge, server
from causality.config import Settings
from causality.stack import EmbeddedServices

TARGETS = ("uvicorn", "serve")
BATCH = 1000
HEADERS = ("what", "target", "events", "seconds", "events/s", "ratio", "notes")


@dataclass
class Row:
    """One measurement; ``ratio`` is against the row named by ``floor`` (same target)."""

    what: str
    target: str
    events: int
    seconds: float
    notes: str = ""
    floor: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _envelope(device: str, context: dict[str, object], i: int) -> dict[str, object]:
    return {
        "type": "screen_view",
        "device_id": device,
        "idempotency_key": str(uuid.uuid4()),
        "timestamp_ms": time.time_ns() // 1_000_000,
        "device_context": context,
        "properties": {"screen_name": "home", "screen_class": "HomeView", "n": i},
    }


def _track_all(client: Client, n: int) -> tuple[float, list[int]]:
    """The tight loop: seconds for ``n`` track() calls and each call's nanoseconds."""
    track = client.screen_view
    clock = time.perf_counter_ns
    took = [0] * n
    started = time.perf_counter()
    for i in range(n):
        t0 = clock()
        track(screen_name="home", screen_class="HomeView", extra={"n": i})
        took[i] = clock() - t0
    return time.perf_counter() - started, took


def _latency_note(took: list[int]) -> str:
    ordered = sorted(took)
    us = [percentile(ordered, q) / 1000 for q in (50, 99, 99.9)]
    worst = ordered[-1] / 1e6
    return f"call p50 {us[0]:.1f} us, p99 {us[1]:.1f} us, p99.9 {us[2]:.1f} us, max {worst:.1f} ms"


# -- handover -------------------------------------------------------------------------------


def handover_floor(n: int) -> Row:
    """Build, key, timestamp and encode each event, append it to a deque: nothing else."""
    context = device_context()
    device = str(uuid.uuid4())
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
    sink: deque[bytes] = deque()
    started = time.perf_counter()
    for i in range(n):
        sink.append(encode(_envelope(device, context, i)).encode())
    return Row("handover", "-", n, time.perf_counter() - started, "json + uuid4 + deque")


def handover_unreachable(n: int) -> Row:
    """track() with nothing listening: the sender sleeps in its backoff."""
    client = Client("ck_bench", f"http://127.0.0.1:{free_port()}", max_queue_size=n + 1)
    seconds, took = _track_all(client, n)
    stats = client.stats()
    client.close(timeout=0)
    row = Row("handover", "unreachable", n, seconds, _latency_note(took), floor="handover")
    if stats.dropped:
        row.errors.append(f"{stats.dropped} events dropped")
    return row


# -- delivery -------------------------------------------------------------------------------


def sdk_delivery(url: str, key: str, n: int, target: str, *, compress: bool) -> list[Row]:
    """One client, defaults except the queue bound (no drops); handover and delivery rows."""
    client = Client(key, url, max_queue_size=n + 1, gzip=compress)
    started = time.perf_counter()
    seconds, took = _track_all(client, n)
    flushed = client.flush(timeout=600)
    delivered_s = time.perf_counter() - started
    stats = client.stats()
    client.close()
    label = "gzip" if compress else "plain"
    batch = stats.delivered / stats.requests if stats.requests else 0
    rows = [
        Row("handover", f"{target} ({label})", n, seconds, _latency_note(took), "handover"),
        Row(
            "delivered",
            f"{target} sdk ({label})",
            stats.delivered,
            delivered_s,
            f"{stats.requests} requests, {batch:.0f} events each, {stats.retries} retries",
            _floor_label(target, compress=compress, inline=True),
        ),
    ]
    if not flushed or stats.delivered != n:
        rows[1].errors.append(f"delivered {stats.delivered} of {n} (flushed={flushed})")
    return rows


def bare_floor(url: str, key: str, n: int, target: str, *, compress: bool, inline: bool) -> Row:
    """The same events POSTed in batches of 1000 by a bare loop, one request in flight.

    ``inline``: each batch's events are built and JSON-encoded in the timed loop, as any
    client must (the SDK's own work minus its queue and thread); otherwise all bodies are
    encoded beforehand and only the wire and the gateway are timed.
    """
    context = device_context()
    device = str(uuid.uuid4())

    def body(start: int) -> bytes:
        events = [_envelope(device, context, i) for i in range(start, min(n, start + BATCH))]
        return json.dumps({"events": events}, separators=(",", ":")).encode()

    prepared = [] if inline else [body(start) for start in range(0, n, BATCH)]
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    if compress:
        headers["Content-Encoding"] = "gzip"
    accepted = 0
    errors: list[str] = []
    with httpx.Client(base_url=url, timeout=60) as http:
        started = time.perf_counter()
        for number, start in enumerate(range(0, n, BATCH)):
            content = body(start) if inline else prepared[number]
            if compress:
                content = gzip.compress(content, compresslevel=5, mtime=0)
            r = http.post("/api/v1/events/batch", content=content, headers=headers)
            if r.status_code == 202:
                accepted += r.json()["accepted"]
            elif len(errors) < 3:
                errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
        seconds = time.perf_counter() - started
    label = _floor_label(target, compress=compress, inline=inline)
    note = "bare httpx loop, " + ("builds + encodes per batch" if inline else "pre-encoded")
    floor = None if inline else _floor_label(target, compress=compress, inline=True)
    row = Row("delivered", label, accepted, seconds, note, floor)
    row.errors = errors
    return row


def _floor_label(target: str, *, compress: bool, inline: bool) -> str:
    return f"{target} floor ({'gzip' if compress else 'plain'}{'' if inline else ', pre-enc'})"


def measure_target(
    target: str, settings: Settings, key: str, n: int, workdir: Path, repeat: int
) -> list[Row]:
    rows: list[Row] = []
    url = f"http://{settings.http_host}:{settings.http_port}"
    with server(target, settings, workdir=workdir, env=dict(os.environ)):
        runs: list[Callable[[], list[Row]]] = [
            lambda: [bare_floor(url, key, n, target, compress=False, inline=False)],
            lambda: [bare_floor(url, key, n, target, compress=False, inline=True)],
            lambda: [bare_floor(url, key, n, target, compress=True, inline=True)],
            lambda: sdk_delivery(url, key, n, target, compress=False),
            lambda: sdk_delivery(url, key, n, target, compress=True),
        ]
        for run in runs:
            for _ in range(repeat):
                asyncio.run(_purge(settings))
                print(f"[{target}] ...", flush=True)
                rows.extend(run())
    return rows


def report(rows: list[Row], n: int) -> None:
    best: dict[str, float] = {}
    for r in rows:
        name = r.what if r.target == "-" else r.target
        best[name] = max(best.get(name, 0.0), r.rate)
    lines = []
    for r in rows:
        ratio = f"{r.rate / best[r.floor]:.2f}" if r.floor and best.get(r.floor) else ""
        lines.append(
            (r.what, r.target, str(r.events), f"{r.seconds:.2f}", f"{r.rate:,.0f}", ratio, r.notes)
        )
    print()
    print(f"sdk: one Client, one thread calling track() {n:,} times; ratio: against the floor")
    print("(handover: json + uuid4 + deque; delivered: the bare loop that builds and encodes")
    print("its batches, same target and compression; pre-encoded rows: against that loop)")
    print(table(HEADERS, lines))
    for r in rows:
        for error in r.errors:
            print(f"error ({r.what} {r.target}): {error}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000, help="track() calls per run")
    parser.add_argument("--modes", default="uvicorn", help="targets: uvicorn,serve")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each delivery row")
    args = parser.parse_args(argv)
    targets = [t for t in args.modes.split(",") if t]
    if unknown := set(targets) - set(TARGETS):
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    logging.getLogger("causality.bus.connection").setLevel(logging.ERROR)  # purge's closes
    logging.getLogger("causality_sdk").setLevel(logging.ERROR)  # the unreachable row's retries

    print(machine_note(), flush=True)
    rows = [handover_floor(args.events), handover_unreachable(args.events)]
    with tempfile.TemporaryDirectory(prefix="causality-bench-sdk-") as tmp:
        workdir = Path(tmp)
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
            for target in targets:
                rows += measure_target(target, settings, key, args.events, workdir, args.repeat)
        finally:
            services.stop()
    report(rows, args.events)


if __name__ == "__main__":
    main()
