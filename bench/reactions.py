"""Reaction throughput: events judged with 0, 10 and 500 rules beside a bare pull-and-ack, and
webhook deliveries per second beside bare HTTP posts to the same receiver.

``python -m bench.reactions [--events 100000] [--rules 0,10,500] [--deliveries 5000]``

A fresh embedded NATS and PostgreSQL. The stream gets ``--events`` realistic events (the
screen_view / button_tap / add_to_cart mix of bench/events.py, validated like the gateway does).
Then, each with a fresh durable consumer over the same messages:

* ``pull+ack`` (the floor): BatchPuller fetch and ack of every message, nothing else.
* ``ReactionEngine`` with N active rules: the real engine (causality/reactions/engine.py) in
  this process, no Ray. Rules look like real ones: scoped to apps, categories and types (a
  third to other apps, which the scope index skips), conditions over properties, device
  context and envelope fields with eq/in/gt/regex/exists; one of them fires on ~0.3% of
  events, so the alert and outbox path is part of the figure.

All are timed until the consumer's ack floor reaches the last message. Deliveries: ``--deliveries``
outbox rows to a local receiver (another process), drained by the real Dispatcher, beside the
same number of bare httpx POSTs at the same concurrency (the floor).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import multiprocessing as mp
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
from nats.js.api import DeliverPolicy

from bench.common import free_port, machine_note, table
from bench.sink import _until_acked, callback_pull_and_ack, prefill
from causality.bus.connection import open_connection
from causality.bus.stream import ensure_consumer
from causality.config import Settings
from causality.reactions.config_watch import ConfigWatcher
from causality.reactions.consumer import reactions_consumer_config
from causality.reactions.dispatcher import Dispatcher
from causality.reactions.engine import ReactionEngine
from causality.reactions.sender import WebhookSender
from causality.stack import EmbeddedServices
from causality.store.apps import create_app
from causality.store.db import migrate, open_pool

OTHER_APPS = 10
_SCREENS = ("home", "search", "product_detail", "cart", "checkout", "profile")


def make_rules(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """``n`` realistic rules; only the first fires (on ~0.3% of the events)."""
    rng = random.Random(seed)
    rules: list[dict[str, Any]] = []
    if n <= 0:
        return rules
    carts = [f"cart-{i}" for i in range(1, 31)]
    rules.append(
        {
            "app_id": "bench",
            "event_type": "add_to_cart",
            "condition": {"field": "properties.cart_id", "op": "in", "value": carts},
            "priority": 10,
        }
    )
    templates = [
        lambda i: {
            "all": [
                {"field": "properties.screen_name", "op": "eq", "value": f"screen-{i}"},
                {"field": "device_context.platform", "op": "eq", "value": "ios"},
            ]
        },
        lambda i: {"field": "properties.price_cents", "op": "gt", "value": 10**9 + i},
        lambda i: {
            "all": [
                {"field": "device_context.device_model", "op": "regex", "value": f"^Nokia {i}$"},
                {"field": "user_id", "op": "exists"},
            ]
        },
        lambda i: {
            "any": [
                {"field": "user_id", "op": "starts_with", "value": f"vip-{i}-"},
                {"field": "properties.button_id", "op": "in", "value": [f"b{i}", f"c{i}"]},
            ]
        },
        lambda i: {"not": {"field": "device_context.app_version", "op": "ne", "value": f"0.{i}.0"}},
    ]
    for i in range(1, n):
        app = "bench" if rng.random() < 0.67 else f"other-{rng.randrange(OTHER_APPS)}"
        scope_type = rng.choice([None, "screen_view", "button_tap", "add_to_cart"])
        rules.append(
            {
                "app_id": app,
                "event_type": scope_type,
                "condition": templates[i % len(templates)](i),
                "priority": rng.randint(0, 5),
            }
        )
    return rules


async def install_rules(pool: asyncpg.Pool, rules: list[dict[str, Any]]) -> None:
    """Replace every rule with these (validated first, as the API would)."""
    from causality.reactions.conditions import validate_condition

    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM reaction_rules")
        for i, rule in enumerate(rules):
            validate_condition(rule["condition"])
            await conn.execute(
                "INSERT INTO reaction_rules (id, name, app_id, event_type, condition, priority) "
                "VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
                uuid.uuid4(),
                f"bench rule {i}",
                rule["app_id"],
                rule["event_type"],
                json.dumps(rule["condition"]),
                rule["priority"],
            )


async def run_engine(
    settings: Settings, pool: asyncpg.Pool, *, durable: str, last_seq: int
) -> tuple[float, dict[str, Any]]:
    """Seconds for one in-process engine to judge and ack every message."""
    assert settings.nats_url
    s = settings.replace(reaction_consumer=durable)
    async with open_connection(settings.nats_url, name=f"bench-{durable}") as nc:
        js = nc.jetstream()
        config = dataclasses.replace(reactions_consumer_config(s), deliver_policy=DeliverPolicy.ALL)
        await ensure_consumer(js, s.stream_name, config)
        watcher = ConfigWatcher(pool)
        await watcher.start()
        engine = ReactionEngine(nc=nc, pool=pool, settings=s, watcher=watcher, name=durable)
        stop = asyncio.Event()
        start = time.perf_counter()
        task = asyncio.create_task(engine.run(stop))
        try:
            await _until_acked(js, s, durable, last_seq, alive=lambda: not task.done())
            elapsed = time.perf_counter() - start
        finally:
            stop.set()
            await task
            await watcher.aclose()
    return elapsed, msgspec.structs.asdict(engine.stats)


# -- deliveries ------------------------------------------------------------------------------------


def _receiver(port: int, ready: Any) -> None:
    """A minimal webhook receiver in its own process: 200 for every POST."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def hook(request: Request) -> Response:
        await request.body()
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False)
    server = uvicorn.Server(config)
    ready.set()
    server.run()


async def bare_posts(url: str, *, n: int, concurrency: int, body: bytes) -> float:
    """The floor: ``n`` POSTs of the same body at the same concurrency, nothing stored."""
    left = n
    async with httpx.AsyncClient(timeout=10) as client:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                r = await client.post(
                    url, content=body, headers={"Content-Type": "application/json"}
                )
                assert r.status_code < 300

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start


async def drain_outbox(
    settings: Settings, pool: asyncpg.Pool, *, url: str, n: int, body: str
) -> float:
    """Seconds for the real Dispatcher to deliver ``n`` pending outbox rows."""
    assert settings.nats_url
    webhook_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO webhooks (id, name, url) VALUES ($1, 'bench', $2)", webhook_id, url
    )
    await pool.execute(
        "INSERT INTO deliveries (id, webhook_id, payload) "
        "SELECT gen_random_uuid(), $1, $2::jsonb FROM generate_series(1, $3)",
        webhook_id,
        body,
        n,
    )
    async with (
        open_connection(settings.nats_url, name="bench-dispatcher") as nc,
        WebhookSender(settings) as sender,
    ):
        dispatcher = Dispatcher(pool=pool, nc=nc, settings=settings, sender=sender, name="bench")
        stop = asyncio.Event()
        start = time.perf_counter()
        task = asyncio.create_task(dispatcher.run(stop))
        try:
            while True:
                left = await pool.fetchval(
                    "SELECT count(*) FROM deliveries WHERE status = 'pending'"
                )
                if left == 0:
                    break
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - start
        finally:
            stop.set()
            await task
    failed = await pool.fetchval("SELECT count(*) FROM deliveries WHERE status <> 'delivered'")
    assert failed == 0, f"{failed} deliveries not delivered"
    return elapsed


# -- the run ---------------------------------------------------------------------------------------


async def _bench(args: argparse.Namespace, settings: Settings) -> None:
    assert settings.postgres_dsn
    rows: list[list[str]] = []
    async with open_pool(settings.postgres_dsn, min_size=2, max_size=20) as pool:
        await migrate(pool)
        await create_app(pool, name="bench", app_id="bench")
        for i in range(OTHER_APPS):
            await create_app(pool, name=f"other {i}", app_id=f"other-{i}")
        print(f"[prefill] {args.events:,} events ...", flush=True)
        last_seq = await prefill(settings, events=args.events)
        print("[pull+ack floor] ...", flush=True)
        floor_s = await callback_pull_and_ack(settings, last_seq=last_seq, events=args.events)
        floor = args.events / floor_s
        rows.append(["pull+ack (floor)", "-", f"{floor_s:.2f}", f"{floor:,.0f}", "-", "-"])
        for n in args.rules:
            await install_rules(pool, make_rules(n))
            print(f"[engine, {n} rules] ...", flush=True)
            elapsed, stats = await run_engine(
                settings, pool, durable=f"bench-rx-{n}", last_seq=last_seq
            )
            rate = args.events / elapsed
            rows.append(
                [
                    "ReactionEngine",
                    str(n),
                    f"{elapsed:.2f}",
                    f"{rate:,.0f}",
                    f"{rate / floor:.2f}x",
                    str(stats.get("rule_alerts", 0)),
                ]
            )
        print(table(["consumer", "rules", "seconds", "events/s", "vs floor", "alerts"], rows))

        port = free_port()
        ctx = mp.get_context("spawn")
        ready = ctx.Event()
        proc = ctx.Process(target=_receiver, args=(port, ready), daemon=True)
        proc.start()
        try:
            await asyncio.to_thread(ready.wait, 30)
            url = f"http://127.0.0.1:{port}/hook"
            await _wait_http(url)
            body = json.dumps({"type": "rule.fired", "text": "bench", "alert": {"n": 1}})
            n = args.deliveries
            print(f"[bare POSTs x{n}] ...", flush=True)
            bare_s = await bare_posts(
                url, n=n, concurrency=settings.dispatcher_concurrency, body=body.encode()
            )
            print(f"[Dispatcher x{n}] ...", flush=True)
            disp_s = await drain_outbox(settings, pool, url=url, n=n, body=body)
        finally:
            proc.kill()
            proc.join()
        bare, disp = n / bare_s, n / disp_s
        print(
            table(
                ["sender", "deliveries", "seconds", "per s", "vs floor"],
                [
                    ["bare httpx POST (floor)", str(n), f"{bare_s:.2f}", f"{bare:,.0f}", "-"],
                    [
                        "Dispatcher (outbox)",
                        str(n),
                        f"{disp_s:.2f}",
                        f"{disp:,.0f}",
                        f"{disp / bare:.2f}x",
                    ],
                ],
            )
        )


async def _wait_http(url: str) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                await client.post(url, content=b"{}")
                return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"receiver at {url} did not start")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rules", default="0,10,500", help="active rule counts to compare")
    parser.add_argument("--deliveries", type=int, default=5000)
    args = parser.parse_args(argv)
    args.rules = [int(x) for x in args.rules.split(",") if x]
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("causality.bus.connection").setLevel(logging.ERROR)
    print(machine_note(), flush=True)
    with tempfile.TemporaryDirectory(prefix="causality-bench-rx-") as tmp:
        base = Settings(
            data_dir=str(Path(tmp) / "data"),
            embedded_nats_port=free_port(),
            webhook_allowed_networks=("127.0.0.0/8",),
            reaction_fetch_size=1000,
        )
        services = EmbeddedServices(base)
        settings = services.start()
        try:
            asyncio.run(_bench(args, settings))
        finally:
            services.stop()


if __name__ == "__main__":
    main()
