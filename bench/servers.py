"""The two gateways under test, each run in a child process of the benchmark.

``python -m bench.servers uvicorn SETTINGS.json`` serves ``build_gateway_app`` under plain
uvicorn (one worker); ``python -m bench.servers serve SETTINGS.json`` starts Ray and the real
Serve application through ``ServeStack``, exactly as ``causality up`` does. A child runs until
its stdin closes or it gets SIGTERM, then shuts down in order (the Serve one drains its sinks).
Children keep the server off the benchmark's own GIL and CPU accounting.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import msgspec

from causality.config import Settings


def _stop_on_eof_or_term(stop: threading.Event) -> None:
    """The parent closing our stdin, or SIGTERM, means: shut down cleanly."""

    def _on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_term)

    def _watch() -> None:
        sys.stdin.buffer.read()
        stop.set()

    threading.Thread(target=_watch, name="stdin-eof", daemon=True).start()


def best_uvicorn_options() -> dict[str, str]:
    """uvloop and httptools when installed: the fastest plain-uvicorn setup on offer."""
    return {
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
    }


def run_uvicorn(settings: Settings) -> None:
    """The gateway app under uvicorn, one worker, no access log (a per-request print)."""
    import uvicorn

    from causality.gateway.app import build_gateway_app

    config = uvicorn.Config(
        build_gateway_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        **best_uvicorn_options(),
    )
    server = uvicorn.Server(config)
    stop = threading.Event()
    _stop_on_eof_or_term(stop)

    def _exit_when_asked() -> None:
        stop.wait()
        server.should_exit = True  # uvicorn's own graceful shutdown, lifespan included

    threading.Thread(target=_exit_when_asked, name="stop-watch", daemon=True).start()
    server.run()


def run_serve(settings: Settings) -> None:
    """Ray + Serve via ServeStack (throughput-optimized as configured), sinks included."""
    from causality.stack import ServeStack

    stop = threading.Event()
    _stop_on_eof_or_term(stop)
    stack = ServeStack(settings)
    try:
        stack.start()
        print("READY", flush=True)
        stop.wait()
        for sink in stack.pipeline_status():
            print(f"sink {sink}", flush=True)
    finally:
        stack.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["uvicorn", "serve"])
    parser.add_argument("settings", type=Path, help="Settings as JSON (msgspec)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = msgspec.json.decode(args.settings.read_bytes(), type=Settings)
    if args.kind == "uvicorn":
        run_uvicorn(settings)
    else:
        run_serve(settings)


if __name__ == "__main__":
    main()
