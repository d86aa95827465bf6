"""Ingest throughput: the Serve gateway beside its two floors, in one run.

``python -m bench.ingest [--seconds 15] [--concurrency 32] [--modes jetstream,uvicorn,serve]``

For batches of 100 events (POST /api/v1/events/batch) and single events
(POST /api/v1/events/ingest), with the same concurrent keep-alive clients on loopback:

* ``jetstream``: the floor of the bus. The same events, validated once into ``Event`` s, are
  published from this one process through ``EventPublisher`` (pipelined acks), in chunks of
  the request size, by as many concurrent tasks as there are HTTP clients.
* ``uvicorn``: the floor of the HTTP stack. ``build_gateway_app`` under plain uvicorn in a
  child process (one worker, uvloop + httptools when installed, access log off).
* ``serve``: the real thing. Ray + the Serve application via ``ServeStack`` in a child
  process, throughput-optimized as ``causality up`` runs it, warehouse sinks included. It is
  measured twice: at ``http_port``, the address ``causality up`` prints (whatever Serve puts
  there: its proxy actor, or HAProxy with ``--ha-proxy`` / several replicas), and
  ``serve-direct``, straight at the gateway replica's direct-ingress port.

Targets (from the issue): Serve batches >= 0.5x the JetStream floor; Serve single events
>= 0.5x plain uvicorn. NATS and PostgreSQL are embedded, in a fresh temporary folder; the
stream is purged before every measurement so no run pays for an earlier run's backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import psutil

from bench.common import (
    ChildProcess,
    attribute,
    free_port,
    machine_note,
    percentile,
    py_spy,
    table,
    top_frames,
)
from bench.events import BodyFactory
from bench.loadgen import LoadResult, LoadSpec, run_load
from bench.servers import best_uvicorn_options
from causality.bus.connection import open_connection
from causality.bus.publisher import EventPublisher
from causality.bus.stream import ensure_topology
from causality.config import Settings
from causality.events.validation import EventValidator
from causality.stack import EmbeddedServices, serve_environment
from causality.store import api_keys, apps
from causality.store.db import migrate, open_pool

MODES = {"batch": ("/api/v1/events/batch", 100), "single": ("/api/v1/events/ingest", 1)}
TARGETS = ("jetstream", "uvicorn", "serve")
HEADERS = ("mode", "target", "events/s", "req/s", "p50 ms", "p99 ms", "gw cpu", "errors", "ratio")

# Where a gateway's CPU goes: each py-spy sample counts for the first bucket found in its stack.
PROFILE_BUCKETS = (
    ("causality: validation + Event encoding", "events/"),
    ("causality: authentication", "auth/"),
    ("nats-py: publish_async per message", "publish_async"),
    ("nats-py: ack handling (read loop, json)", "_read_loop"),
    ("nats-py: ack handling (read loop, json)", "_handle_async_reply"),
    ("nats-py: socket writes", "_flusher"),
    ("causality: publisher", "bus/"),
    ("prometheus_client", "prometheus_client/"),
    ("ray metrics", "ray/util/metrics"),
    ("causality: gateway handler + body", "gateway/"),
    ("starlette (routing, middleware)", "starlette/"),
    ("ray serve (request path)", "ray/serve/"),
    ("uvicorn (HTTP protocol)", "uvicorn/"),
    ("ray core (worker threads)", "ray/"),
)


@dataclass
class Row:
    """One measurement: a request mode against one target."""

    mode: str
    target: str
    result: LoadResult
    server_cpu: float | None = None

    @property
    def events_per_s(self) -> float:
        return self.result.events / self.result.seconds

    @property
    def requests_per_s(self) -> float:
        return self.result.ok / self.result.seconds


# -- setup ------------------------------------------------------------------------------------


async def _create_key(settings: Settings) -> tuple[str, str]:
    assert settings.postgres_dsn
    async with open_pool(settings.postgres_dsn, min_size=1, max_size=2) as pool:
        await migrate(pool)
        app = await apps.create_app(pool, name="bench")
        _, plaintext = await api_keys.create_key(pool, app_id=app.id, name="bench")
        return app.id, plaintext


async def _purge(settings: Settings) -> None:
    """Empty the events stream, so a measurement never pays for an earlier one's backlog."""
    assert settings.nats_url
    async with open_connection(settings.nats_url, name="bench-purge") as nc:
        js = nc.jetstream()
        await ensure_topology(js, settings)
        await js.purge_stream(settings.stream_name)


# -- the JetStream floor ------------------------------------------------------------------------


async def _jetstream_floor(
    settings: Settings,
    *,
    app_id: str,
    size: int,
    prefix: str,
    concurrency: int,
    seconds: float,
    warmup_s: float,
) -> LoadResult:
    """Publish pre-validated events in chunks of ``size`` with ``concurrency`` tasks."""
    assert settings.nats_url
    validator = EventValidator.from_settings(settings)
    now_ms = time.time_ns() // 1_000_000
    body = BodyFactory(size=size, prefix=f"{prefix}-tmpl")()
    if size == 1:
        template = validator.validate_single(body, app_id=app_id, now_ms=now_ms).accepted
    else:
        template = validator.validate_batch(body, app_id=app_id, now_ms=now_ms).accepted
    assert len(template) == size
    replace = msgspec.structs.replace
    counter = itertools.count()
    result = LoadResult(seconds=seconds)
    async with open_connection(settings.nats_url, name="bench-floor") as nc:
        js = nc.jetstream(timeout=settings.publish_timeout_s)
        await ensure_topology(js, settings)
        publisher = EventPublisher(
            nc=nc, stream=settings.stream_name, timeout_s=settings.publish_timeout_s
        )
        start = time.perf_counter() + warmup_s
        end = start + seconds

        async def worker() -> None:
            while time.perf_counter() < end:
                n = next(counter)
                chunk = [
                    replace(e, idempotency_key=f"{prefix}-{n}-{i}") for i, e in enumerate(template)
                ]
                sent = time.perf_counter()
                try:
                    duplicates = await publisher.publish(chunk)
                except Exception as exc:
                    result.connection_errors += 1
                    result.first_error = result.first_error or repr(exc)
                    continue
                done = time.perf_counter()
                if start <= done <= end:
                    result.ok += 1
                    result.events += size - sum(duplicates)
                    result.statuses[202] += 1
                    result.latencies.append(done - sent)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


def run_jetstream_floor(settings: Settings, **kwargs: object) -> LoadResult:
    """The floor in this process's own event loop (uvloop when installed)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_jetstream_floor(settings, **kwargs))  # type: ignore[arg-type]
    return uvloop.run(_jetstream_floor(settings, **kwargs))  # type: ignore[arg-type]


# -- the HTTP servers ---------------------------------------------------------------------------


def _http_ok(host: str, port: int, path: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _wait_ready(child: ChildProcess, settings: Settings, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"server exited ({child.proc.returncode}):\n{child.log_tail()}")
        if _http_ok(settings.http_host, settings.http_port, "/ready"):
            return
        time.sleep(0.5)
    raise TimeoutError(f"gateway not ready after {timeout_s:.0f}s:\n{child.log_tail()}")


@contextmanager
def server(
    kind: str, settings: Settings, *, workdir: Path, env: dict[str, str]
) -> Iterator[ChildProcess]:
    """A gateway child process (``uvicorn`` or ``serve``), ready, and stopped on exit."""
    settings_path = workdir / f"settings-{kind}.json"
    settings_path.write_bytes(msgspec.json.encode(settings))
    child_env = dict(env)
    if kind == "serve":
        child_env.update(serve_environment(settings))
        child_env["RAY_ADDRESS"] = "local"  # never join a cluster someone else started
    child = ChildProcess(
        [sys.executable, "-m", "bench.servers", kind, str(settings_path)],
        log_path=workdir / f"{kind}.log",
        env=child_env,
    )
    try:
        _wait_ready(child, settings, timeout_s=300 if kind == "serve" else 60)
        yield child
    finally:
        child.stop(grace_s=settings.sink_drain_timeout_s + 30 if kind == "serve" else 15)


def gateway_process(kind: str, child: ChildProcess) -> psutil.Process | None:
    """The process that runs the gateway code: the uvicorn child, or the first Serve replica."""
    if kind == "uvicorn":
        return psutil.Process(child.pid)
    for p in child.descendants():
        with contextlib.suppress(psutil.Error):
            if "ServeReplica" in (title := " ".join(p.cmdline())) and "Gateway" in title:
                return p
    return None


def listener_of(port: int) -> str:
    """The name of the process listening on a local port (ProxyActor, haproxy, ...)."""
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            with contextlib.suppress(psutil.Error):
                return psutil.Process(conn.pid).name()
    return "?"


def direct_ingress_port(replica: psutil.Process, host: str) -> tuple[int, str] | None:
    """The replica's own HTTP port (the listening port that answers /health) and its address."""
    listening = sorted(
        (c.laddr.port, c.laddr.ip)
        for c in replica.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN
    )
    for port, ip in listening:
        if _http_ok(host, port, "/health"):
            return port, ip
    return None


def _cpu_seconds(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    with contextlib.suppress(psutil.Error):
        t = proc.cpu_times()
        return t.user + t.system
    return 0.0


# -- the report ----------------------------------------------------------------------------------


def _summary_rows(rows: list[Row]) -> list[list[str]]:
    by = {(r.mode, r.target): r for r in rows}
    out = []
    for r in rows:
        lat = sorted(r.result.latencies)
        ratios = []
        if r.target != "jetstream":
            for name in ("jetstream", "uvicorn"):
                ref = by.get((r.mode, name))
                if ref is not None and ref is not r and ref.events_per_s > 0:
                    ratios.append(f"{r.events_per_s / ref.events_per_s:.2f}x {name}")
        errors = {k: v for k, v in sorted(r.result.statuses.items()) if k != 202}
        err = ", ".join(f"{k}:{v}" for k, v in errors.items())
        if r.result.connection_errors:
            err = ", ".join(x for x in (err, f"conn:{r.result.connection_errors}") if x)
        out.append(
            [
                r.mode,
                r.target,
                f"{r.events_per_s:,.0f}",
                f"{r.requests_per_s:,.0f}",
                f"{1000 * percentile(lat, 50):.1f}",
                f"{1000 * percentile(lat, 99):.1f}",
                "-" if r.server_cpu is None else f"{100 * r.server_cpu:.0f}%",
                err or "0",
                "; ".join(ratios) or ("floor" if r.target == "jetstream" else "-"),
            ]
        )
    return out


def _verdicts(rows: list[Row]) -> list[str]:
    by = {(r.mode, r.target): r for r in rows}
    lines = []
    for mode, floor, need in (("batch", "jetstream", 0.5), ("single", "uvicorn", 0.5)):
        for target in ("serve", "serve-direct"):
            subject, ref = by.get((mode, target)), by.get((mode, floor))
            if subject is None or ref is None or ref.events_per_s == 0:
                continue
            ratio = subject.events_per_s / ref.events_per_s
            verdict = "met" if ratio >= need else "NOT met"
            lines.append(f"target {mode}: {target} / {floor} = {ratio:.2f} (>= {need}): {verdict}")
    return lines


@dataclass
class Run:
    """What every measurement of one benchmark run shares, and what it collects."""

    args: argparse.Namespace
    settings: Settings
    key: str
    app_id: str
    env: dict[str, str]
    workdir: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profiles: list[tuple[str, Path]] = field(default_factory=list)

    @property
    def modes(self) -> list[str]:
        return [m for m in self.args.requests.split(",") if m]


def measure_jetstream(run: Run) -> None:
    """The bus floor, for every request mode."""
    args = run.args
    for mode in run.modes:
        asyncio.run(_purge(run.settings))
        print(f"[jetstream {mode}] {args.seconds:g}s ...", flush=True)
        result = run_jetstream_floor(
            run.settings,
            app_id=run.app_id,
            size=MODES[mode][1],
            prefix=f"{run.run_id}-js-{mode}",
            concurrency=args.concurrency,
            seconds=args.seconds,
            warmup_s=args.warmup,
        )
        run.rows.append(Row(mode, "jetstream", result))


def measure_server(run: Run, target: str) -> None:
    """Start one gateway (``uvicorn`` or ``serve``) and load each of its endpoints."""
    args = run.args
    settings = run.settings.replace(http_port=free_port())
    if target == "serve":
        sinks = {} if args.sink_actors is None else {"sink_actors": args.sink_actors}
        settings = settings.replace(gateway_replicas=args.replicas, **sinks)
    host, port = settings.http_host, settings.http_port
    print(f"[{target}] starting ...", flush=True)
    with server(target, settings, workdir=run.workdir, env=run.env) as child:
        gateway = gateway_process(target, child)
        endpoints = [(target, port)]
        if target == "serve":
            run.notes.append(
                f"serve: http_port is served by {listener_of(port)}; "
                f"{settings.gateway_replicas} gateway replica(s), "
                f"{settings.sink_actors} sink actor(s) running"
            )
            direct = direct_ingress_port(gateway, host) if gateway else None
            if direct is not None:
                endpoints.append(("serve-direct", direct[0]))
                run.notes.append(
                    f"serve-direct: the gateway replica's own port {direct[0]}, "
                    f"bound on {direct[1]}"
                )
        for name, endpoint in endpoints:
            for mode in run.modes:
                path, size = MODES[mode]
                asyncio.run(_purge(run.settings))
                print(f"[{name} {mode}] {args.seconds:g}s ...", flush=True)
                spec = LoadSpec(
                    host=host,
                    port=endpoint,
                    path=path,
                    api_key=run.key,
                    events_per_request=size,
                    key_prefix=f"{run.run_id}-{name}-{mode}",
                    concurrency=args.concurrency,
                    seconds=args.seconds,
                    warmup_s=args.warmup,
                )
                out = args.profile / f"{name}-{mode}.txt" if args.profile else None
                pid = gateway.pid if gateway else None
                cpu0, t0 = _cpu_seconds(gateway), time.perf_counter()
                with py_spy(pid, out, seconds=args.warmup + args.seconds):
                    result = run_load(spec, processes=args.loadgen_procs)
                cpu = (_cpu_seconds(gateway) - cpu0) / (time.perf_counter() - t0)
                if out is not None:
                    run.profiles.append((f"{name} {mode} (pid {pid})", out))
                run.rows.append(Row(mode, name, result, cpu))


def report(run: Run) -> None:
    """The table, the verdicts, the first error of each row, and the profiles."""
    args = run.args
    uv = best_uvicorn_options()
    print()
    print(
        f"ingest: {args.seconds:g}s per run after {args.warmup:g}s warm-up, "
        f"{args.concurrency} keep-alive clients ({args.loadgen_procs} load process); "
        f"uvicorn: 1 worker, loop={uv['loop']}, http={uv['http']}, no access log"
    )
    for note in run.notes:
        print(note)
    print("gw cpu: CPU used by the gateway process (the uvicorn child / the Serve replica)")
    print(table(HEADERS, _summary_rows(run.rows)))
    for line in _verdicts(run.rows):
        print(line)
    for r in run.rows:
        if r.result.first_error:
            print(f"first error ({r.mode} {r.target}): {r.result.first_error}")
    for label, out in run.profiles:
        print(f"\npy-spy, {label}: share of busy samples, by owning library")
        for name, share in attribute(out, PROFILE_BUCKETS).items():
            print(f"  {share:5.1f}%  {name}")
        print("  top frames by own time (own %, total %):")
        for own, total, frame in top_frames(out, n=12):
            print(f"  {own:5.1f} {total:5.1f}  {frame}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="measured time per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured lead-in per run")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent clients")
    parser.add_argument("--loadgen-procs", type=int, default=1, help="load generator processes")
    parser.add_argument("--modes", default=",".join(TARGETS), help="targets, comma-separated")
    parser.add_argument("--requests", default="batch,single", help="request modes")
    parser.add_argument("--replicas", type=int, default=1, help="Serve gateway replicas")
    parser.add_argument(
        "--sink-actors", type=int, default=None, help="sink actors in the Serve app (default: 2)"
    )
    parser.add_argument(
        "--ha-proxy",
        action="store_true",
        help="RAY_SERVE_ENABLE_HA_PROXY=1 even for one replica (HAProxy at http_port)",
    )
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy the gateway process into this folder"
    )
    args = parser.parse_args(argv)
    targets = [t for t in args.modes.split(",") if t]
    modes = [m for m in args.requests.split(",") if m]
    if unknown := (set(targets) - set(TARGETS)) | (set(modes) - set(MODES)):
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    env = dict(os.environ)  # the edge: children inherit it (PATH, venv); nothing else reads it
    if args.ha_proxy:
        env["RAY_SERVE_ENABLE_HA_PROXY"] = "1"
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    logging.getLogger("causality.bus.connection").setLevel(logging.ERROR)  # purge's closes

    print(machine_note(), flush=True)
    with tempfile.TemporaryDirectory(prefix="causality-bench-") as tmp:
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
            app_id, key = asyncio.run(_create_key(settings))
            run = Run(
                args=args, settings=settings, key=key, app_id=app_id, env=env, workdir=workdir
            )
            for target in targets:
                if target == "jetstream":
                    measure_jetstream(run)
                else:
                    measure_server(run, target)
        finally:
            services.stop()
    report(run)


if __name__ == "__main__":
    main()
