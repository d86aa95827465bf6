"""Integration fixtures: one Ray instance and one Serve application per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from causality.config import Settings
from causality.stack import ServeStack
from tests.helpers import free_port


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory, nats_url: str, pg_dsn: str) -> Settings:
    """Settings for the session's stack: short flush and ack intervals so tests run fast."""
    data = tmp_path_factory.mktemp("causality")
    return Settings(
        data_dir=str(data),
        warehouse_uri=str(Path(data) / "warehouse"),
        nats_url=nats_url,
        postgres_dsn=pg_dsn,
        http_port=free_port(),
        sink_actors=2,
        sink_flush_interval_s=1.0,
        sink_ack_wait_s=5.0,
        api_key_cache_ttl_s=0.5,
        publish_timeout_s=2.0,
        rate_limit_events_per_s=100_000,
        rate_limit_burst=200_000,
        reaction_actors=1,
        dispatcher_actors=1,
        # tests' webhook receivers listen on loopback, which is otherwise refused
        webhook_allowed_networks=("127.0.0.0/8",),
        webhook_backoff_base_s=0.2,
        webhook_backoff_max_s=5.0,
    )


@pytest.fixture(scope="session")
def serve_stack(base_settings: Settings) -> Iterator[ServeStack]:
    """Ray and the real Serve application (gateway + sink actors), once per session."""
    stack = ServeStack(base_settings)
    stack.start(wait_ready_s=240)
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def gateway_url(serve_stack: ServeStack, base_settings: Settings) -> str:
    """Base URL of the Serve application's gateway."""
    return f"http://{base_settings.http_host}:{base_settings.http_port}"
