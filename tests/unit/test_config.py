"""Settings are built at the edge from TOML, environment and overrides, and fail clearly."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from causality.config import Settings, SettingsError, load_settings


def test_defaults_are_the_laptop_stack() -> None:
    s = load_settings(environ={})
    assert s.nats_url is None and s.postgres_dsn is None
    assert s.http_port == 8000 and s.sink_batch_size == 10_000
    assert s.warehouse.endswith("/.causality/warehouse")


def test_precedence_toml_then_env_then_overrides(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text('http_port = 9000\nsink_actors = 4\nnats_url = "nats://toml:4222"\n')
    s = load_settings(
        environ={"CAUSALITY_SINK_ACTORS": "3", "CAUSALITY_CORS_ALLOW_ORIGINS": "a.com, b.com"},
        toml_path=toml,
        overrides={"http_port": 9100},
    )
    assert (s.http_port, s.sink_actors, s.nats_url) == (9100, 3, "nats://toml:4222")
    assert s.cors_allow_origins == ("a.com", "b.com")


def test_env_types_are_coerced() -> None:
    s = load_settings(
        environ={
            "CAUSALITY_THROUGHPUT_OPTIMIZED": "false",
            "CAUSALITY_DEDUP_WINDOW_S": "120",
            "CAUSALITY_NATS_URL": "",
            "CAUSALITY_PARTITIONING": "hourly",
        }
    )
    assert s.throughput_optimized is False
    assert s.dedup_window_s == 120.0
    assert s.nats_url is None
    assert s.partitioning == "hourly"


@pytest.mark.parametrize(
    "environ",
    [
        {"CAUSALITY_NO_SUCH_THING": "1"},
        {"CAUSALITY_SINK_ACTORS": "many"},
        {"CAUSALITY_PARTITIONING": "weekly"},
    ],
)
def test_bad_settings_name_the_problem(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(environ=environ)
    assert any(k.lower().split("causality_")[-1] in str(info.value).lower() for k in environ) or (
        "partitioning" in str(info.value)
    )


def test_settings_pickle_for_ray_and_replace_validates() -> None:
    s = Settings(sink_actors=5)
    assert pickle.loads(pickle.dumps(s)) == s
    assert s.replace(sink_actors=1).sink_actors == 1
    with pytest.raises(SettingsError):
        s.replace(sink_actors="x")
