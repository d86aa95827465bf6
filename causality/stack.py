"""The one-command local stack: embedded services, Ray, the Serve app, orderly shutdown.

Used by `causality up` and by the test suite, so both run the same start and stop sequence.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from causality.config import Settings
from causality.embedded.nats import EmbeddedNats
from causality.embedded.postgres import EmbeddedPostgres

if TYPE_CHECKING:
    from ray.serve import Application

log = logging.getLogger(__name__)

APP_NAME = "causality"
LLM_APP_NAME = "llm"


class ServeApp(NamedTuple):
    """One Serve application of the stack: its name, route prefix and builder; ``wait`` says
    whether start-up waits for it to run."""

    name: str
    route_prefix: str
    build: Callable[[], Application]
    wait: bool = True


def serve_applications(settings: Settings) -> list[ServeApp]:
    """What ``ServeStack`` deploys: the main application, and the model when ``llm_provider``
    is ``vllm``. Start-up does not wait for the model: it loads for minutes (or waits for a
    GPU node), and until then the Ask feature answers "model unavailable"."""
    import serve_app

    apps = [ServeApp(APP_NAME, "/", lambda: serve_app.build(settings))]
    if settings.llm_provider == "vllm":
        from causality.llm.serving import build_llm_app

        apps.append(
            ServeApp(
                LLM_APP_NAME,
                settings.llm_vllm_route_prefix,
                lambda: build_llm_app(settings),
                wait=False,
            )
        )
    return apps


def serve_environment(settings: Settings) -> dict[str, str]:
    """Ray Serve's fast path, read by Ray at import in every process it starts.

    Throughput-optimized mode serves HTTP from the gateway replicas themselves (direct
    ingress). Without HAProxy, ``http_port`` would still be Serve's ProxyActor, which makes an
    actor call per request (measured ~0.05x plain uvicorn for single events); HAProxy on
    ``http_port`` forwards to the replicas' own ports and spreads connections over them.
    """
    # a laptop stack has no load balancer to drain: do not hold Ctrl-C for 30 s
    env: dict[str, str] = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "1"}
    if settings.throughput_optimized:
        env["RAY_SERVE_THROUGHPUT_OPTIMIZED"] = "1"
        env["RAY_SERVE_ENABLE_HA_PROXY"] = "1"
    return env


class EmbeddedServices:
    """Starts the embedded NATS and PostgreSQL a Settings object leaves unset.

    Returns settings with their URLs filled in, so everything downstream only ever sees
    "a NATS URL" and "a DSN" and cannot tell embedded from external.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stack = ExitStack()
        self.nats: EmbeddedNats | None = None
        self.postgres: EmbeddedPostgres | None = None

    def start(self) -> Settings:
        """Start what is missing; the returned settings point at the running services."""
        s = self._settings
        data = Path(s.data_dir).resolve()
        changes: dict[str, Any] = {"data_dir": str(data)}
        try:
            if not s.nats_url:
                self.nats = EmbeddedNats(
                    store_dir=data / "nats", port=s.embedded_nats_port, host="127.0.0.1"
                )
                self.nats.start()
                self._stack.callback(self.nats.stop)
                changes["nats_url"] = self.nats.url
            if not s.postgres_dsn:
                self.postgres = EmbeddedPostgres(data_dir=data / "postgres")
                self.postgres.start()
                self._stack.callback(self.postgres.stop)
                changes["postgres_dsn"] = self.postgres.dsn
        except BaseException:
            self._stack.close()
            raise
        return s.replace(**changes)

    def stop(self) -> None:
        """Stop in reverse order of start."""
        self._stack.close()


class ServeStack:
    """Ray (local or at ``ray_address``) running the Serve application on the given settings."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._started_ray = False
        # Serve handles in throughput mode bind to the event loop that first used them and
        # need it running for their lifetime: give them one of their own.
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._loop.run_forever, name="serve-handles", daemon=True
        )
        self._loop_thread.start()

    def start(self, *, wait_ready_s: float = 180.0) -> None:
        """Start Ray and Serve, deploy, and wait until /ready answers."""
        os.environ.update(serve_environment(self._settings))
        import ray
        from ray import serve

        if not ray.is_initialized():
            ray.init(
                address=self._settings.ray_address,
                namespace=APP_NAME,
                include_dashboard=False,
                logging_level=logging.WARNING,
                runtime_env=None,
            )
            self._started_ray = True
        serve.start(
            http_options={"host": self._settings.http_host, "port": self._settings.http_port}
        )
        for app in serve_applications(self._settings):
            target = serve.RunTarget(
                target=app.build(), name=app.name, route_prefix=app.route_prefix
            )
            serve.run_many(
                [target],
                wait_for_ingress_deployment_creation=app.wait,
                wait_for_applications_running=app.wait,
            )
        self._wait_ready(wait_ready_s)

    def _wait_ready(self, timeout_s: float) -> None:
        import httpx

        url = f"http://{self._settings.http_host}:{self._settings.http_port}/ready"
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                r = httpx.get(url, timeout=2.0)
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise TimeoutError(f"gateway not ready at {url} after {timeout_s:.0f}s: {last}")

    def _call_pipeline(self, method: str, timeout_s: float) -> Any:
        """Call the Pipeline deployment (its handle needs an event loop in fast mode)."""
        from ray import serve

        async def _call() -> Any:
            handle = serve.get_deployment_handle("Pipeline", app_name=APP_NAME)
            return await asyncio.wait_for(getattr(handle, method).remote(), timeout_s)

        return asyncio.run_coroutine_threadsafe(_call(), self._loop).result(timeout_s + 5)

    def pipeline_status(self) -> list[dict[str, Any]]:
        """Per-sink counters from the Pipeline deployment."""
        return self._call_pipeline("status", 30)

    def stop(self) -> None:
        """Flush the sinks first, then take Serve and Ray down."""
        import ray
        from ray import serve

        if not ray.is_initialized():
            return
        try:
            self._call_pipeline("drain", self._settings.sink_drain_timeout_s + 10)
        except Exception as exc:
            log.warning("pipeline drain failed: %s", exc)
        if self._started_ray:
            serve.shutdown()
            ray.shutdown()
        else:  # a shared cluster: remove only our applications
            for app in reversed(serve_applications(self._settings)):
                serve.delete(app.name)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join(timeout=5)
