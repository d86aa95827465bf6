"""Sink throughput: stream to Parquet, beside the floor of a bare pull-and-ack.

``python -m bench.sink [--events 200000] [--sinks 1] [--profile DIR]``

A fresh embedded NATS gets ``--events`` realistic events (validated like the gateway does,
published with pipelined acks). Then, each with its own fresh durable consumer over the same
messages:

* ``pull+ack`` (the floor): ``fetch(batch=1000)`` and ``ack()`` of every message, nothing else.
* ``WarehouseSink``: the real sink (``causality/warehouse/sink.py``), default batch size,
  a short flush interval, in ``--sinks`` plain processes (no Ray) sharing its consumer.

Both are timed until the consumer's ack floor reaches the last message, the same finish line;
the Parquet rows are counted afterwards. Target (from the issue): sink >= 0.7x the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing as mp
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event as MpEvent
from pathlib import Path

import duckdb
import msgspec
from nats.js import JetStreamContext

from bench.common import attribute, free_port, machine_note, py_spy, table, top_frames
from bench.events import BodyFactory
from causality.bus.connection import open_connection
from causality.bus.publisher import EventPublisher
from causality.bus.puller import BatchPuller
from causality.bus.stream import ensure_consumer, ensure_topology, sink_consumer_config
from causality.config import Settings
from causality.events.validation import EventValidator
from causality.stack import EmbeddedServices
from causality.warehouse.layout import events_glob
from causality.warehouse.sink import WarehouseSink

FETCH_BATCH = 1000

# Where a sink's CPU goes: each py-spy sample goes to the deepest frame of these.
PROFILE_BUCKETS = (
    ("decode_event (msgspec)", "decode_event"),
    ("events_to_table (Arrow columns)", "events_to_table"),
    ("pyarrow.parquet write (zstd)", "write_table"),
    ("fsync + rename", "fsync"),
    ("partition plan", "PartitionedWriter.plan"),
    ("msg.metadata (reply subject parse)", "Msg.metadata"),
    ("msg.ack", "Msg.ack"),
    ("sink flush loop (dedup, bookkeeping)", "WarehouseSink.flush"),
    ("nats-py fetch: next_msg per message", "Subscription.next_msg"),
    ("nats-py fetch: the rest", "PullSubscription.fetch"),
    ("nats-py read loop: parse, headers, Msg", "Client._read_loop"),
    ("nats-py socket writes (acks)", "Client._flusher"),
    ("nats-py other", "nats/"),
    ("sink run loop", "WarehouseSink.run"),
    ("event loop (uvloop)", "Runner.run"),
)


def _run_loop(main: Callable[[], Awaitable[None]]) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())  # type: ignore[arg-type]
        return
    uvloop.run(main())  # type: ignore[arg-type]


# -- preparation -----------------------------------------------------------------------------------


async def prefill(settings: Settings, *, events: int, concurrency: int = 8) -> int:
    """Publish ``events`` validated events; returns the stream's last sequence."""
    assert settings.nats_url
    validator = EventValidator.from_settings(settings)
    bodies = BodyFactory(size=100, prefix="sinkbench")
    async with open_connection(settings.nats_url, name="bench-prefill") as nc:
        js = nc.jetstream(timeout=10.0)
        await ensure_topology(js, settings)
        publisher = EventPublisher(nc=nc, stream=settings.stream_name, timeout_s=30.0)
        left = events

        async def worker() -> None:
            nonlocal left
            while left > 0:
                chunk = []
                while len(chunk) < FETCH_BATCH and left > 0:
                    now_ms = time.time_ns() // 1_000_000
                    batch = validator.validate_batch(bodies(), app_id="bench", now_ms=now_ms)
                    take = batch.accepted[: min(len(batch.accepted), left)]
                    chunk.extend(take)
                    left -= len(take)
                await publisher.publish(chunk)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        info = await js.stream_info(settings.stream_name)
        assert info.state.messages == events, f"stream holds {info.state.messages} != {events}"
        return int(info.state.last_seq)


async def _until_acked(
    js: JetStreamContext,
    settings: Settings,
    durable: str,
    last_seq: int,
    *,
    deadline: float = float("inf"),
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Poll (2 ms) until the consumer's ack floor reaches ``last_seq``: the finish line."""
    while True:
        info = await js.consumer_info(settings.stream_name, durable)
        if (info.ack_floor.stream_seq or 0) >= last_seq:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError(f"consumer {durable} did not finish in time")
        if not alive():
            raise RuntimeError(f"a process consuming {durable} died")
        await asyncio.sleep(0.002)


# -- the floor -------------------------------------------------------------------------------------


async def bare_pull_and_ack(settings: Settings, *, last_seq: int, events: int) -> float:
    """Seconds for a fresh durable consumer to fetch and ack every message, nothing else."""
    assert settings.nats_url
    durable = "bench-bare"
    async with open_connection(settings.nats_url, name="bench-bare") as nc:
        js = nc.jetstream()
        await ensure_consumer(
            js, settings.stream_name, sink_consumer_config(settings.replace(sink_consumer=durable))
        )
        psub = await js.pull_subscribe_bind(durable=durable, stream=settings.stream_name)
        seen = 0
        start = time.perf_counter()
        while seen < events:
            try:
                msgs = await psub.fetch(batch=FETCH_BATCH, timeout=1.0)
            except TimeoutError:
                continue
            for msg in msgs:
                await msg.ack()
            seen += len(msgs)
        await nc.flush()
        await _until_acked(js, settings, durable, last_seq)
        elapsed = time.perf_counter() - start
        await psub.unsubscribe()
        return elapsed


async def callback_pull_and_ack(settings: Settings, *, last_seq: int, events: int) -> float:
    """The floor: bare pull-and-ack through the same BatchPuller the sink uses, no processing.

    ``fetch`` (the row above) costs a Task, a ``wait_for`` and a ``uuid4`` per message; the
    sink pulls through a callback inbox instead, so this is the fair floor for it.
    """
    assert settings.nats_url
    durable = "bench-bare-cb"
    async with open_connection(settings.nats_url, name="bench-bare-cb") as nc:
        js = nc.jetstream()
        await ensure_consumer(
            js, settings.stream_name, sink_consumer_config(settings.replace(sink_consumer=durable))
        )
        seen = 0
        start = time.perf_counter()
        async with BatchPuller(nc=nc, stream=settings.stream_name, durable=durable) as puller:
            while seen < events:
                got = await puller.fetch(batch=min(FETCH_BATCH, events - seen), wait_s=2.0)
                for msg in got:
                    await msg.ack()
                seen += len(got)
        await nc.flush()
        await _until_acked(js, settings, durable, last_seq)
        return time.perf_counter() - start


# -- the sink --------------------------------------------------------------------------------------


def _sink_child(
    settings_json: bytes,
    name: str,
    ready: MpEvent,
    go: MpEvent,
    stop: MpEvent,
    rows: Synchronized,  # type: ignore[type-arg]
) -> None:
    """One WarehouseSink in its own process: connect, wait for go, consume until stop."""
    settings = msgspec.json.decode(settings_json, type=Settings)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("causality.bus.connection").setLevel(logging.ERROR)  # our own close

    async def main() -> None:
        assert settings.nats_url
        async with open_connection(settings.nats_url, name=name) as nc:
            sink = WarehouseSink(nc=nc, settings=settings, name=name)
            ready.set()
            await asyncio.to_thread(go.wait)
            done = asyncio.Event()
            task = asyncio.create_task(sink.run(done))
            while not stop.is_set():
                rows.value = sink.stats.rows_written
                await asyncio.sleep(0.005)
            done.set()
            await task
            rows.value = sink.stats.rows_written

    _run_loop(main)


async def run_sinks(
    settings: Settings, *, sinks: int, last_seq: int, profile: Path | None, timeout_s: float
) -> tuple[float, int]:
    """Seconds until ``sinks`` WarehouseSink processes have stored and acked every message."""
    assert settings.nats_url
    ctx = mp.get_context("spawn")
    ready = [ctx.Event() for _ in range(sinks)]
    go, stop = ctx.Event(), ctx.Event()
    counters = [ctx.Value("q", 0) for _ in range(sinks)]
    payload = msgspec.json.encode(settings)
    procs = [
        ctx.Process(
            target=_sink_child,
            args=(payload, f"bench-sink-{i}", ready[i], go, stop, counters[i]),
            daemon=True,
        )
        for i in range(sinks)
    ]
    async with open_connection(settings.nats_url, name="bench-watch") as nc:
        js = nc.jetstream()
        await ensure_consumer(js, settings.stream_name, sink_consumer_config(settings))
        try:
            for p in procs:
                p.start()
            for e in ready:
                await asyncio.to_thread(e.wait, 120)
            out = profile / "sink.txt" if profile else None
            with py_spy(procs[0].pid, out, seconds=timeout_s if out else 0):
                start = time.perf_counter()
                go.set()
                await _until_acked(
                    js,
                    settings,
                    settings.sink_consumer,
                    last_seq,
                    deadline=start + timeout_s,
                    alive=lambda: all(p.is_alive() for p in procs),
                )
                elapsed = time.perf_counter() - start
                stop.set()
                for p in procs:
                    await asyncio.to_thread(p.join, 60)
        finally:
            stop.set()
            for p in procs:
                if p.is_alive():
                    p.kill()
                    p.join()
    return elapsed, sum(int(c.value) for c in counters)


def parquet_rows(settings: Settings) -> int:
    """Rows actually in the warehouse, read back from the files."""
    glob = events_glob(settings.warehouse)
    with contextlib.closing(duckdb.connect()) as con:
        row = con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()
    return int(row[0]) if row else 0


# -- the run ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000, help="messages in the stream")
    parser.add_argument("--sinks", default="1", help="sink process counts, e.g. 1,2")
    parser.add_argument("--flush-interval", type=float, default=1.0, help="sink flush age (s)")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the (first) sink")
    args = parser.parse_args(argv)
    sink_counts = [int(x) for x in args.sinks.split(",") if x]
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    logging.getLogger("causality.bus.connection").setLevel(logging.ERROR)

    print(machine_note(), flush=True)
    rows_out: list[list[str]] = []
    checks: list[str] = []
    with tempfile.TemporaryDirectory(prefix="causality-bench-") as tmp:
        base = Settings(
            data_dir=str(Path(tmp) / "data"),
            embedded_nats_port=free_port(),
            postgres_dsn="postgresql://unused",  # the sink needs no PostgreSQL
            sink_flush_interval_s=args.flush_interval,
        )
        services = EmbeddedServices(base)
        settings = services.start()
        try:
            print(f"[prefill] {args.events:,} events ...", flush=True)
            started = time.perf_counter()
            last_seq = asyncio.run(prefill(settings, events=args.events))
            print(f"[prefill] done in {time.perf_counter() - started:.1f}s", flush=True)

            print("[pull+ack, nats-py fetch] ...", flush=True)
            floor_s = asyncio.run(
                bare_pull_and_ack(settings, last_seq=last_seq, events=args.events)
            )
            fetch_rate = args.events / floor_s
            print("[BatchPuller pull+ack] ...", flush=True)
            cb_s = asyncio.run(
                callback_pull_and_ack(settings, last_seq=last_seq, events=args.events)
            )
            floor_rate = args.events / cb_s
            rows_out.append(
                ["pull+ack, BatchPuller (floor)", "1", f"{cb_s:.2f}", f"{floor_rate:,.0f}", "-"]
            )
            rows_out.append(
                [
                    "pull+ack, nats-py fetch",
                    "1",
                    f"{floor_s:.2f}",
                    f"{fetch_rate:,.0f}",
                    f"{fetch_rate / floor_rate:.2f}x",
                ]
            )

            for n in sink_counts:
                warehouse = Path(tmp) / f"warehouse-{n}"
                s = settings.replace(warehouse_uri=str(warehouse), sink_consumer=f"bench-sink-{n}")
                print(f"[WarehouseSink x{n}] ...", flush=True)
                elapsed, reported = asyncio.run(
                    run_sinks(
                        s,
                        sinks=n,
                        last_seq=last_seq,
                        profile=args.profile if n == sink_counts[0] else None,
                        timeout_s=max(120.0, args.events / 1000),
                    )
                )
                stored = parquet_rows(s)
                rate = args.events / elapsed
                rows_out.append(
                    [
                        "WarehouseSink",
                        str(n),
                        f"{elapsed:.2f}",
                        f"{rate:,.0f}",
                        f"{rate / floor_rate:.2f}x",
                    ]
                )
                files = sum(1 for _ in warehouse.rglob("*.parquet"))
                checks.append(
                    f"x{n}: {stored:,} rows in {files} Parquet files (sinks reported {reported:,})"
                    + ("" if stored == args.events else f"  MISMATCH: expected {args.events:,}")
                )
        finally:
            services.stop()

    print()
    print(
        f"sink: {args.events:,} events, fetch batch {FETCH_BATCH}, sink batch "
        f"{settings.sink_batch_size:,}, flush interval {args.flush_interval:g}s, "
        "timed until the consumer's ack floor reaches the last message"
    )
    print(table(["consumer", "procs", "seconds", "events/s", "vs floor"], rows_out))
    for line in checks:
        print(line)
    sink_rows = [r for r in rows_out if r[0] == "WarehouseSink" and r[1] == "1"]
    if sink_rows:
        ratio = float(sink_rows[0][4].rstrip("x"))
        print(
            f"target: WarehouseSink x1 / bare pull+ack = {ratio:.2f} (>= 0.7): "
            + ("met" if ratio >= 0.7 else "NOT met")
        )
    if args.profile and (out := args.profile / "sink.txt").exists():
        print(f"\npy-spy, WarehouseSink x{sink_counts[0]} (first process): busy samples by owner")
        for name, share in attribute(out, PROFILE_BUCKETS).items():
            print(f"  {share:5.1f}%  {name}")
        print("  top frames by own time (own %, total %):")
        for own, total, frame in top_frames(out, n=14):
            print(f"  {own:5.1f} {total:5.1f}  {frame}")


if __name__ == "__main__":
    main()
