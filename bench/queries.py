"""Insight latency: the API's builders beside hand-written DuckDB SQL, on 10M events.

``python -m bench.queries [--events 10000000] [--runs 7] [--keep DIR] [--memory-limit 1GB]``

Four insights, each as a dashboard would ask for it:

* trends: daily unique devices of ``screen_view`` over 30 days, broken down by platform;
* funnels: ``screen_view`` -> ``add_to_cart`` -> ``purchase_complete`` within 1 day, by device,
  over 30 days;
* retention: weekly, cohort = first ``app_start`` in the window, return = any event, 5 weeks;
* paths: the next 4 screens from ``home`` over 30 days (top 50 links).

Each is timed three ways, round-robin, after one warm-up of each, taking the median of
``--runs``:

* ``API``: POST /api/v1/analytics/<kind> with a viewer's Bearer token, to
  ``build_gateway_app`` under plain uvicorn in a child process (embedded NATS and PostgreSQL);
* ``in-process``: the same decode, ``build_sql``, ``engine.prepare``, ``engine.run`` and
  ``shape`` in this process on a ``DuckDBEngine`` of the same settings (so the difference to
  the API is HTTP, authentication and JSON);
* ``floor``: hand-written DuckDB SQL for the same answer on a fresh ``duckdb.connect()`` over
  ``read_parquet`` of the warehouse, with the engine's thread count and memory limit (and, like
  the engine, no spilling to disk).

Beside wall time, each subject's CPU time is taken from the process that answered (the uvicorn
child, or this one), since other work on shared cores inflates it much less. The answers of
the API and the floor are compared (trend points and totals, funnel counts and medians,
retention cells, path links). Events are generated with ``bench.warehouse_gen`` into a
temporary warehouse (``--keep DIR`` generates once into DIR and reuses it).

When the API fails a kind because the query needed more than ``query_memory_limit``, that
kind is measured again, all three ways, at ``--retry-memory-limit`` (default 4GB).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import duckdb
import httpx
import psutil

from bench.common import free_port, machine_note, table
from bench.ingest import server
from bench.warehouse_gen import APPS, generate
from causality.analytics.common import decode
from causality.auth.passwords import hash_password
from causality.auth.roles import Role
from causality.config import Settings
from causality.gateway.insight_routes import BUILDERS, PREFIX
from causality.query.duckdb_engine import DuckDBEngine
from causality.stack import EmbeddedServices
from causality.store import api_tokens, apps, users
from causality.store.db import migrate, open_pool
from causality.warehouse.layout import events_glob

KINDS: Final = ("trends", "funnels", "retention", "paths")
DAYS: Final = 35  # five whole weeks, Monday to Sunday
RANGE_DAYS: Final = 30
GENERATOR_VERSION: Final = 1
APP_IDS: Final = frozenset(app for app, _ in APPS)
WINDOW_MS: Final = 86_400_000  # the funnel's conversion window (1 day)


# -- the warehouse ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The generated span (``start`` to ``end``, whole weeks) and the 30 days the insights read."""

    start: dt.date
    end: dt.date

    @property
    def range_start(self) -> dt.date:
        return self.end - dt.timedelta(days=RANGE_DAYS)


def _this_monday() -> dt.date:
    today = dt.datetime.now(dt.UTC).date()
    return today - dt.timedelta(days=today.weekday())


def ensure_warehouse(folder: Path, args: argparse.Namespace) -> tuple[Path, Window]:
    """Generate into ``folder/warehouse`` unless a matching generation is already there."""
    root, meta_path = folder / "warehouse", folder / "bench-queries.json"
    wanted = {
        "version": GENERATOR_VERSION,
        "events": args.events,
        "seed": args.seed,
        "file_rows": args.file_rows,
        "days": DAYS,
    }
    if meta_path.exists() and root.exists():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in wanted} == wanted:
            print(
                f"warehouse: reusing {meta['events']:,} events in {meta['files']} files "
                f"({meta['bytes'] / 1e6:,.0f} MB) at {root}",
                flush=True,
            )
            return root, Window(
                dt.date.fromisoformat(meta["start"]), dt.date.fromisoformat(meta["end"])
            )
        print("warehouse: the kept one was generated differently; generating afresh", flush=True)
    shutil.rmtree(root, ignore_errors=True)
    end = _this_monday()
    window = Window(end - dt.timedelta(days=DAYS), end)
    print(f"warehouse: generating {args.events:,} events ...", flush=True)
    stats = generate(
        root,
        events=args.events,
        seed=args.seed,
        start=window.start,
        days=DAYS,
        file_rows=args.file_rows,
    )
    meta = {**wanted, "start": window.start.isoformat(), "end": window.end.isoformat(), **stats}
    meta_path.write_text(json.dumps(meta, indent=2))
    print(
        f"warehouse: {args.events:,} events, {stats['devices']:,} devices, "
        f"{stats['sessions']:,} sessions, {DAYS} days from {window.start} in {stats['files']} "
        f"files ({stats['bytes'] / 1e6:,.0f} MB); generated in "
        f"{stats['simulate_s'] + stats['write_s']:.1f}s (simulate {stats['simulate_s']:.1f}s, "
        f"write {stats['write_s']:.1f}s)",
        flush=True,
    )
    return root, window


# -- the questions ---------------------------------------------------------------------------------


def bodies(w: Window) -> dict[str, dict[str, Any]]:
    """The insight requests, with absolute dates so a kept warehouse stays valid."""
    last_day = (w.end - dt.timedelta(days=1)).isoformat()
    days30 = {"from": w.range_start.isoformat(), "to": last_day}
    return {
        "trends": {
            "series": [{"event_type": "screen_view", "math": "unique_devices"}],
            "date_range": days30,
            "interval": "day",
            "breakdown": "platform",
        },
        "funnels": {
            "steps": [
                {"event_type": "screen_view"},
                {"event_type": "add_to_cart"},
                {"event_type": "purchase_complete"},
            ],
            "date_range": days30,
            "window": {"value": 1, "unit": "day"},
            "counted_by": "device",
        },
        "retention": {
            "cohort_event": {"event_type": "app_start"},
            "period": "week",
            "date_range": {"from": w.start.isoformat(), "to": last_day},
        },
        "paths": {
            "start": "home",
            "direction": "next",
            "steps": 4,
            "date_range": days30,
            "max_links": 50,
        },
    }


def _ts(day: dt.date) -> str:
    return f"TIMESTAMPTZ '{day.isoformat()} 00:00:00+00'"


def floor_sql(w: Window) -> dict[str, str]:
    """The same answers as an analyst would write them for DuckDB.

    Actors and sessions are keyed by a 64-bit ``hash`` instead of their 36-character ids
    (a collision among a few hundred thousand ids is a ~1e-9 event; the answers are checked).
    """
    lo, hi, first = _ts(w.range_start), _ts(w.end), _ts(w.start)
    return {
        # (platform, day) points and per-platform totals
        "trends": f"""
            SELECT platform, date_trunc('day', timestamp AT TIME ZONE 'UTC') AS bucket,
                   count(DISTINCT device_id) AS devices
            FROM ev
            WHERE event_type = 'screen_view' AND timestamp >= {lo} AND timestamp < {hi}
            GROUP BY GROUPING SETS ((platform, bucket), (platform))""",
        # each step-1 moment follows its next add_to_cart and purchase by ASOF joins; each
        # device keeps its furthest attempt (earliest on ties)
        "funnels": f"""
            WITH m AS (
                SELECT hash(device_id) AS a, epoch_ms(timestamp) AS ms,
                       bool_or(event_type = 'screen_view') AS f1,
                       bool_or(event_type = 'add_to_cart') AS f2,
                       bool_or(event_type = 'purchase_complete') AS f3
                FROM ev
                WHERE event_type IN ('screen_view', 'add_to_cart', 'purchase_complete')
                  AND timestamp >= {lo} AND timestamp < {hi} + INTERVAL 1 DAY
                GROUP BY ALL),
            s1 AS (SELECT a, ms FROM m WHERE f1 AND ms >= epoch_ms({lo}) AND ms < epoch_ms({hi})),
            s2 AS (SELECT a, ms FROM m WHERE f2),
            s3 AS (SELECT a, ms FROM m WHERE f3),
            t AS (SELECT s1.a, s1.ms AS t1, s2.ms AS t2
                  FROM s1 ASOF LEFT JOIN s2 ON s1.a = s2.a AND s2.ms > s1.ms),
            u AS (SELECT t.*, s3.ms AS t3
                  FROM t ASOF LEFT JOIN s3 ON t.a = s3.a AND s3.ms > t.t2),
            lv AS (SELECT *, 1 + coalesce(t2 <= t1 + {WINDOW_MS}, false)::INT
                               + coalesce(t3 <= t1 + {WINDOW_MS}, false)::INT AS level FROM u),
            best AS (SELECT arg_max(struct_pack(t1, t2, t3, level), (level, -t1)) AS p
                     FROM lv GROUP BY a)
            SELECT count(*) AS c1, count(*) FILTER (p.level >= 2) AS c2,
                   count(*) FILTER (p.level >= 3) AS c3,
                   median((p.t2 - p.t1) / 1000) FILTER (p.level >= 2) AS m2,
                   median((p.t3 - p.t2) / 1000) FILTER (p.level >= 3) AS m3
            FROM best""",
        # one pass to (device, week) pairs, then cohorts and returns from those
        "retention": f"""
            WITH aw AS (
                SELECT device_id, date_trunc('week', timestamp AT TIME ZONE 'UTC') AS week,
                       bool_or(event_type = 'app_start') AS started
                FROM ev WHERE timestamp >= {first} AND timestamp < {hi}
                GROUP BY ALL),
            c AS (SELECT device_id, min(week) AS cohort FROM aw WHERE started GROUP BY ALL)
            SELECT cohort, week, count(*) AS devices
            FROM c JOIN aw USING (device_id) WHERE week >= cohort GROUP BY ALL""",
        # per session: screens in order, repeats collapsed, from the first "home", 4 screens
        "paths": f"""
            WITH v AS (
                SELECT hash(device_id, session_id) AS k, timestamp AS ts, id,
                       properties ->> '$.screen_name' AS screen
                FROM ev
                WHERE event_type = 'screen_view' AND timestamp >= {lo} AND timestamp < {hi}
                  AND properties ->> '$.screen_name' IS NOT NULL),
            d AS (SELECT k, ts, id, screen,
                         lag(screen) OVER (PARTITION BY k ORDER BY ts, id) AS prev FROM v),
            c AS (SELECT k, screen, row_number() OVER (PARTITION BY k ORDER BY ts, id) AS pos
                  FROM d WHERE prev IS DISTINCT FROM screen),
            an AS (SELECT k, screen, pos + 1
                          - min(pos) FILTER (screen = 'home') OVER (PARTITION BY k) AS step
                   FROM c),
            l AS (SELECT step, screen AS source,
                         lead(screen) OVER (PARTITION BY k ORDER BY step) AS target
                  FROM an WHERE step BETWEEN 1 AND 4)
            SELECT step, source, target, count(*) AS value FROM l WHERE target IS NOT NULL
            GROUP BY ALL ORDER BY value DESC, step, source, target LIMIT 50""",
    }


# -- answers in one comparable form ----------------------------------------------------------------


def _day(value: Any) -> str:
    return value.date().isoformat() if isinstance(value, dt.datetime) else str(value)


def api_answer(kind: str, shaped: dict[str, Any]) -> Any:
    """The key numbers of an API answer (zero cells dropped: the floor has no rows for them)."""
    if kind == "trends":
        out = {}
        for series in shaped["series"]:
            value = series["breakdown_value"]
            out.update(
                {(value, day): n for day, n in zip(series["labels"], series["data"], strict=True)}
            )
            out[(value, "total")] = series["total"]
        return {k: v for k, v in out.items() if v}
    if kind == "funnels":
        steps = shaped["steps"]
        return [s["count"] for s in steps] + [
            None
            if s["median_time_to_convert_s"] is None
            else round(s["median_time_to_convert_s"], 3)
            for s in steps[1:]
        ]
    if kind == "retention":
        cohort_days = [dt.date.fromisoformat(c["date"]) for c in shaped["cohorts"]]
        return {
            (c["date"], (cohort_days[i] + dt.timedelta(weeks=k)).isoformat()): n
            for i, c in enumerate(shaped["cohorts"])
            for k, n in enumerate(c["values"])
            if n
        }
    return [(link["source"], link["target"], link["value"]) for link in shaped["links"]]


def floor_answer(kind: str, rows: list[tuple[Any, ...]]) -> Any:
    """The floor's rows in the form of ``api_answer``."""
    if kind == "trends":
        return {(p, "total" if b is None else _day(b)): n for p, b, n in rows}
    if kind == "funnels":
        c1, c2, c3, m2, m3 = rows[0]
        return [c1, c2, c3, *(None if m is None else round(float(m), 3) for m in (m2, m3))]
    if kind == "retention":
        return {(_day(c), _day(w)): n for c, w, n in rows}
    return [(f"{s}_{a}", f"{s + 1}_{b}", n) for s, a, b, n in rows]


def differences(kind: str, api: Any, floor: Any, *, limit: int = 5) -> list[str]:
    """Human-readable differences between two answers (empty when they match)."""
    if api == floor:
        return []
    if isinstance(api, dict):
        keys = sorted(set(api) | set(floor), key=str)
        diff = [
            f"{k}: api {api.get(k)} floor {floor.get(k)}"
            for k in keys
            if api.get(k) != floor.get(k)
        ]
        return [f"{len(diff)} cells differ", *diff[:limit]]
    if kind == "funnels":
        return [f"api {api} floor {floor}"]
    diff = [
        f"#{i}: api {a} floor {f}"
        for i, (a, f) in enumerate(zip(api, floor, strict=False))
        if a != f
    ]
    return [f"{len(api)} vs {len(floor)} links", *diff[:limit]]


# -- the three ways of asking ----------------------------------------------------------------------


class QueryFailed(Exception):
    """A subject could not answer (status and error code in the message)."""


@dataclass
class Sample:
    """One timed answer; ``stages`` only for the in-process subject."""

    seconds: float
    cpu: float  # CPU seconds of the process that answered (all its threads)
    answer: Any
    stages: dict[str, float] = field(default_factory=dict)


class Api:
    """POST the insight to the gateway over one keep-alive connection; CPU is the gateway's."""

    def __init__(self, base_url: str, token: str, gateway: psutil.Process) -> None:
        self._gateway = gateway
        self._client = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=600,
        )

    def __call__(self, kind: str, body: bytes) -> Sample:
        cpu = _cpu(self._gateway)
        started = time.perf_counter()
        r = self._client.post(f"{PREFIX}/{kind}", content=body)
        elapsed = time.perf_counter() - started
        cpu = _cpu(self._gateway) - cpu
        if r.status_code != 200:
            error = r.json().get("error", {})
            raise QueryFailed(f"HTTP {r.status_code} {error.get('code')}: {error.get('message')}")
        return Sample(elapsed, cpu, api_answer(kind, r.json()))

    def close(self) -> None:
        self._client.close()


class InProcess:
    """The route's own steps on a DuckDBEngine of the same settings, each stage timed."""

    def __init__(self, settings: Settings) -> None:
        self._engine = DuckDBEngine(settings=settings)
        self._loop = asyncio.new_event_loop()

    def __call__(self, kind: str, body: bytes) -> Sample:
        return self._loop.run_until_complete(self._ask(kind, body))

    async def _ask(self, kind: str, body: bytes) -> Sample:
        module, struct = BUILDERS[kind]
        cpu = time.process_time()
        t0 = time.perf_counter()
        query = decode(struct, body)
        now = dt.datetime.now(dt.UTC)
        sql = module.build_sql(query, now=now)
        t1 = time.perf_counter()
        prepared = self._engine.prepare(sql, limit=module.max_rows(query, now=now), app_ids=APP_IDS)
        t2 = time.perf_counter()
        try:
            result = await self._engine.run(prepared)
        except Exception as exc:
            raise QueryFailed(f"{type(exc).__name__}: {exc}") from exc
        t3 = time.perf_counter()
        shaped = module.shape(query, result, now=now)
        t4 = time.perf_counter()
        stages = {"build": t1 - t0, "prepare": t2 - t1, "run": t3 - t2, "shape": t4 - t3}
        cpu = time.process_time() - cpu
        return Sample(t4 - t0, cpu, api_answer(kind, shaped), stages)

    def close(self) -> None:
        self._loop.run_until_complete(self._engine.close())
        self._loop.close()


class Floor:
    """Hand-written SQL on a fresh DuckDB connection configured like the engine's."""

    def __init__(self, settings: Settings, root: Path, window: Window) -> None:
        self._con = duckdb.connect(
            config={"memory_limit": settings.query_memory_limit, "threads": settings.query_threads}
        )
        for statement in ("SET TimeZone = 'UTC'", "SET temp_directory = ''"):
            self._con.execute(statement)
        self._con.execute(
            f"CREATE VIEW ev AS SELECT * FROM read_parquet('{events_glob(str(root))}', "
            "hive_partitioning = true, "
            "hive_types = {'app_id': VARCHAR, 'year': INTEGER, 'month': INTEGER, 'day': INTEGER})"
        )
        self.sql = floor_sql(window)

    def __call__(self, kind: str, body: bytes) -> Sample:
        cpu = time.process_time()
        started = time.perf_counter()
        try:
            rows = self._con.sql(self.sql[kind]).fetchall()
        except duckdb.Error as exc:
            raise QueryFailed(f"{type(exc).__name__}: {str(exc).splitlines()[0]}") from exc
        elapsed = time.perf_counter() - started
        return Sample(elapsed, time.process_time() - cpu, floor_answer(kind, rows))

    def close(self) -> None:
        self._con.close()


Subject = Callable[[str, bytes], Sample]


@dataclass
class Measured:
    """Every sample of one kind from one subject, or why it failed."""

    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    def median_ms(self, stage: str | None = None) -> float:
        values = [s.stages[stage] if stage else s.seconds for s in self.samples]
        return 1000 * statistics.median(values)

    def cpu_ms(self) -> float:
        return 1000 * statistics.median(s.cpu for s in self.samples)

    def max_ms(self) -> float:
        return 1000 * max(s.seconds for s in self.samples)


@dataclass
class KindResult:
    """One insight at one memory limit: the three subjects and whether API and floor agree."""

    kind: str
    memory_limit: str
    by: dict[str, Measured]
    check: list[str] | None = None  # None: not compared; []: match


def measure(
    kind: str, body: bytes, subjects: dict[str, Subject], *, runs: int, memory_limit: str
) -> KindResult:
    """One warm-up each, then ``runs`` rounds over the subjects in turn."""
    by = {name: Measured() for name in subjects}
    for name, ask in subjects.items():
        try:
            ask(kind, body)
        except QueryFailed as exc:
            by[name].error = str(exc)
    for _ in range(runs):
        for name, ask in subjects.items():
            if by[name].error is not None:
                continue
            try:
                by[name].samples.append(ask(kind, body))
            except QueryFailed as exc:
                by[name].error = str(exc)
    result = KindResult(kind, memory_limit, by)
    api, floor = by["API"], by["floor"]
    if api.samples and floor.samples:
        result.check = differences(kind, api.samples[-1].answer, floor.samples[-1].answer)
    line = "  ".join(
        f"{name} {m.median_ms():,.0f} ms" if m.samples else f"{name} FAILED"
        for name, m in by.items()
    )
    print(f"[{kind} @ {memory_limit}] {line}", flush=True)
    return result


# -- setup -----------------------------------------------------------------------------------------


async def _viewer_token(settings: Settings) -> str:
    """Apps, a viewer of all three, and a personal API token for the Bearer header."""
    assert settings.postgres_dsn
    async with open_pool(settings.postgres_dsn, min_size=1, max_size=2) as pool:
        await migrate(pool)
        for app_id, _ in APPS:
            await apps.create_app(pool, name=app_id.title(), app_id=app_id)
        user = await users.create_user(
            pool,
            email="bench-viewer@localhost",
            password_hash=hash_password(secrets.token_urlsafe(16)),
            role=Role.VIEWER,
            app_ids=sorted(APP_IDS),
        )
        _, token = await api_tokens.create_token(
            pool, user_id=user.id, name="bench", role=Role.VIEWER
        )
        return token


@contextmanager
def subjects_at(
    settings: Settings, *, token: str, root: Path, window: Window, workdir: Path
) -> Iterator[dict[str, Subject]]:
    """The gateway child, the in-process engine and the floor, all closed on exit."""
    with ExitStack() as stack:
        child = stack.enter_context(
            server("uvicorn", settings, workdir=workdir, env=dict(os.environ))
        )
        api = Api(
            f"http://{settings.http_host}:{settings.http_port}", token, psutil.Process(child.pid)
        )
        stack.callback(api.close)
        inproc = InProcess(settings)
        stack.callback(inproc.close)
        floor = Floor(settings, root, window)
        stack.callback(floor.close)
        yield {"API": api, "in-process": inproc, "floor": floor}


# -- the report ------------------------------------------------------------------------------------

HEADERS: Final = (
    "kind", "mem", "API ms", "API max", "API cpu", "in-proc ms", "engine.run", "floor ms",
    "floor max", "floor cpu", "API/floor", "cpu API/floor",
)  # fmt: skip

SPLIT_HEADERS: Final = (
    "kind", "mem", "build_sql", "prepare", "engine.run", "shape", "HTTP+auth+JSON", "run - floor",
)  # fmt: skip


def _cell(m: Measured, value: Callable[[Measured], float]) -> str:
    return f"{value(m):,.0f}" if m.samples else "failed"


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def report(results: list[KindResult]) -> None:
    rows = []
    for r in results:
        api, inproc, floor = r.by["API"], r.by["in-process"], r.by["floor"]
        both = bool(api.samples and floor.samples)
        ratio = f"{api.median_ms() / floor.median_ms():.2f}x" if both else "-"
        cpu_ratio = f"{api.cpu_ms() / floor.cpu_ms():.2f}x" if both else "-"
        rows.append(
            [
                r.kind,
                r.memory_limit,
                _cell(api, Measured.median_ms),
                _cell(api, Measured.max_ms),
                _cell(api, Measured.cpu_ms),
                _cell(inproc, Measured.median_ms),
                _cell(inproc, lambda m: m.median_ms("run")),
                _cell(floor, Measured.median_ms),
                _cell(floor, Measured.max_ms),
                _cell(floor, Measured.cpu_ms),
                ratio,
                cpu_ratio,
            ]
        )
    print(table(HEADERS, rows))
    print(
        "ms: medians of wall time; max: slowest run; cpu: median CPU ms of the answering "
        "process (the uvicorn child for the API, this process for the floor), which other "
        "load on shared cores inflates less than wall time"
    )
    print("\nwhere the API's time goes (medians, ms):")
    split_rows = []
    for r in results:
        api, inproc, floor = r.by["API"], r.by["in-process"], r.by["floor"]
        if not (api.samples and inproc.samples):
            continue
        stages = {s: inproc.median_ms(s) for s in ("build", "prepare", "run", "shape")}
        http = api.median_ms() - inproc.median_ms()
        sql_gap = stages["run"] - floor.median_ms() if floor.samples else float("nan")
        split_rows.append(
            [r.kind, r.memory_limit]
            + [f"{stages[s]:,.1f}" for s in ("build", "prepare", "run", "shape")]
            + [f"{http:,.1f}", f"{sql_gap:,.0f}"]
        )
    if split_rows:
        print(table(SPLIT_HEADERS, split_rows))
    print()
    for r in results:
        for name, m in r.by.items():
            if m.error:
                print(f"{r.kind} @ {r.memory_limit}: {name} failed: {m.error}")
        if r.check is None:
            continue
        if r.check:
            print(f"{r.kind} @ {r.memory_limit}: answers DIFFER: " + "; ".join(r.check))
        else:
            print(f"{r.kind} @ {r.memory_limit}: answers match")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000_000, help="events to generate")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per kind and subject")
    parser.add_argument("--kinds", default=",".join(KINDS), help="insights, comma-separated")
    parser.add_argument("--keep", type=Path, default=None, help="generate into / reuse this folder")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--file-rows", type=int, default=50_000, help="rows per Parquet file")
    parser.add_argument(
        "--memory-limit", default=None, help="query_memory_limit (default: the Settings default)"
    )
    parser.add_argument(
        "--retry-memory-limit",
        default="4GB",
        help="re-measure kinds the API could not answer within the limit at this one ('' = off)",
    )
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    if unknown := set(kinds) - set(KINDS):
        parser.error(f"unknown kind(s): {', '.join(sorted(unknown))}")
    logging.getLogger("causality.bus.connection").setLevel(logging.ERROR)

    print(machine_note(), flush=True)
    results: list[KindResult] = []
    with tempfile.TemporaryDirectory(prefix="causality-bench-queries-") as tmp:
        workdir = Path(tmp)
        folder = args.keep or workdir
        folder.mkdir(parents=True, exist_ok=True)
        root, window = ensure_warehouse(folder, args)
        base = Settings(
            data_dir=str(workdir / "data"),
            warehouse_uri=str(root),
            embedded_nats_port=free_port(),
            http_port=free_port(),
        )
        if args.memory_limit:
            base = base.replace(query_memory_limit=args.memory_limit)
        print(
            f"query engine: DuckDB {duckdb.__version__}, threads={base.query_threads}, "
            f"memory_limit={base.query_memory_limit} (no spilling); {args.runs} runs per kind "
            f"after 1 warm-up; insights over {window.range_start}..{window.end} "
            f"(retention from {window.start})",
            flush=True,
        )
        services = EmbeddedServices(base)
        settings = services.start()
        try:
            token = asyncio.run(_viewer_token(settings))
            payloads = {k: json.dumps(v).encode() for k, v in bodies(window).items()}
            with subjects_at(
                settings, token=token, root=root, window=window, workdir=workdir
            ) as subjects:
                for kind in kinds:
                    results.append(
                        measure(
                            kind,
                            payloads[kind],
                            subjects,
                            runs=args.runs,
                            memory_limit=settings.query_memory_limit,
                        )
                    )
            retry = [
                r.kind
                for r in results
                if not r.by["API"].samples and "memory" in (r.by["API"].error or "")
            ]
            if retry and args.retry_memory_limit:
                larger = settings.replace(
                    query_memory_limit=args.retry_memory_limit, http_port=free_port()
                )
                with subjects_at(
                    larger, token=token, root=root, window=window, workdir=workdir
                ) as subjects:
                    for kind in retry:
                        results.append(
                            measure(
                                kind,
                                payloads[kind],
                                subjects,
                                runs=args.runs,
                                memory_limit=larger.query_memory_limit,
                            )
                        )
        finally:
            services.stop()
    print()
    report(results)
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
