"""One Settings object for the whole platform.

Built once at the edge (the CLI, the Serve application builder, a test fixture) from a mapping
of ``CAUSALITY_*`` variables and an optional TOML file, then passed down explicitly. Nothing
below the edge reads the environment.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

ENV_PREFIX = "CAUSALITY_"


class SettingsError(ValueError):
    """A setting is missing, unknown or of the wrong type; the message names it."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every knob of a Causality deployment, with defaults for the one-command laptop stack.

    ``None`` for ``nats_url`` / ``postgres_dsn`` means "start the embedded server"; an empty
    ``warehouse_uri`` means ``<data_dir>/warehouse``.
    """

    # -- where things live
    data_dir: str = ".causality"
    warehouse_uri: str = ""
    partitioning: Literal["daily", "hourly"] = "daily"
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_region: str | None = None

    # -- NATS JetStream
    nats_url: str | None = None
    embedded_nats_port: int = 4222
    stream_name: str = "CAUSALITY_EVENTS"
    dlq_stream_name: str = "CAUSALITY_DLQ"
    alerts_stream_name: str = "CAUSALITY_ALERTS"
    dedup_window_s: float = 600.0
    stream_max_age_s: float = 7 * 24 * 3600.0
    stream_max_bytes: int = -1
    stream_max_msgs: int = -1
    stream_replicas: int = 1
    publish_timeout_s: float = 5.0

    # -- PostgreSQL
    postgres_dsn: str | None = None
    postgres_pool_min: int = 1
    postgres_pool_max: int = 10

    # -- Ray / Serve
    ray_address: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    gateway_replicas: int = 1
    throughput_optimized: bool = True

    # -- ingestion limits
    max_batch_events: int = 1000
    max_body_bytes: int = 5 * 1024 * 1024
    rate_limit_events_per_s: float = 1000.0
    rate_limit_burst: float = 2000.0
    backfill_horizon_days: int = 365
    max_future_skew_s: int = 24 * 3600
    api_key_cache_ttl_s: float = 5.0
    cors_allow_origins: tuple[str, ...] = ("*",)

    # -- warehouse sink
    sink_actors: int = 2
    sink_consumer: str = "warehouse-sink"
    sink_filter_subject: str = ""
    sink_batch_size: int = 10_000
    sink_flush_interval_s: float = 10.0
    sink_fetch_size: int = 1000
    sink_ack_wait_s: float = 60.0
    sink_max_deliver: int = 5
    sink_drain_timeout_s: float = 30.0

    # -- query
    query_row_limit: int = 10_000
    query_timeout_s: float = 30.0
    query_engine: Literal["duckdb", "trino"] = "duckdb"
    query_max_row_limit: int = 100_000
    query_memory_limit: str = "1GB"
    query_threads: int = 2
    query_max_result_bytes: int = 50 * 1024 * 1024
    trino_url: str = ""
    trino_catalog: str = "hive"
    trino_schema: str = "causality"
    trino_user: str = "causality"
    trino_password: str | None = None

    # -- compaction (jobs/compact.py, `causality compact`)
    compaction_target_file_mb: int = 128
    compaction_min_files: int = 10
    compaction_closed_grace_s: float = 600.0

    # -- reactions: rules, anomaly detection, webhooks (causality/reactions)
    reaction_actors: int = 2
    reaction_consumer: str = "reactions"
    reaction_filter_subject: str = ""
    reaction_fetch_size: int = 500
    reaction_fetch_wait_s: float = 0.2
    reaction_ack_wait_s: float = 30.0
    reaction_max_deliver: int = 10
    reaction_config_refresh_s: float = 30.0
    # a baseline bucket is judged this long after it ends, so late messages still count
    anomaly_grace_s: float = 5.0
    anomaly_tick_s: float = 1.0
    dispatcher_actors: int = 1
    dispatcher_concurrency: int = 16
    webhook_timeout_s: float = 10.0
    webhook_max_attempts: int = 8
    webhook_backoff_base_s: float = 2.0
    webhook_backoff_max_s: float = 3600.0
    # private, loopback and link-local targets are refused unless a CIDR here covers them
    webhook_allowed_networks: tuple[str, ...] = ()
    webhook_max_response_bytes: int = 64 * 1024

    # -- LLM: questions in plain English (causality/llm, docs/llm.md)
    # none: Ask explains how to configure a model; openai: any OpenAI-compatible endpoint;
    # vllm: a Ray Serve LLM deployment (vLLM engine) in this cluster, on GPU workers
    llm_provider: Literal["none", "openai", "vllm"] = "none"
    llm_base_url: str = ""
    llm_api_key: str | None = None
    llm_model: str = ""
    llm_timeout_s: float = 60.0
    llm_max_tokens: int = 1024
    llm_temperature: float = 0.0
    llm_max_retries: int = 2
    llm_agent_max_steps: int = 6
    llm_requests_per_minute: float = 20.0
    llm_schema_ttl_s: float = 300.0
    llm_result_rows: int = 1000
    llm_summary_rows: int = 20
    # vllm: the model served by Ray Serve LLM (a local path or a Hugging Face id that is
    # already in the node's cache: nothing is downloaded at run time unless allowed)
    llm_vllm_model_source: str = "Qwen/Qwen2.5-Coder-7B-Instruct"
    llm_vllm_model_id: str = "causality-sql"
    llm_vllm_accelerator_type: str | None = None
    llm_vllm_tensor_parallel_size: int = 1
    llm_vllm_max_model_len: int = 8192
    llm_vllm_gpu_memory_utilization: float = 0.9
    llm_vllm_min_replicas: int = 1
    llm_vllm_max_replicas: int = 1
    llm_vllm_route_prefix: str = "/llm"

    # -- users and sessions
    session_ttl_s: float = 12 * 3600.0
    session_cookie_secure: bool = False
    login_max_failures: int = 5
    login_max_failures_per_ip: int = 20
    login_window_s: float = 900.0

    log_level: str = "INFO"
    # -- observability (docs/observability.md): text or one JSON object per line, and
    # OpenTelemetry traces over OTLP/HTTP when an endpoint is set (none: tracing is off)
    log_format: Literal["text", "json"] = "text"
    otel_exporter_otlp_endpoint: str = ""
    otel_service_name: str = "causality"
    otel_sample_ratio: float = 1.0

    @property
    def warehouse(self) -> str:
        """The warehouse root URI, defaulting to a folder inside the data dir."""
        if self.warehouse_uri:
            return self.warehouse_uri
        return str(Path(self.data_dir).resolve() / "warehouse")

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated like any other Settings)."""
        return from_mapping({**msgspec.structs.asdict(self), **changes})


def _coerce_env(name: str, raw: str, field_type: Any) -> Any:
    """Turn an environment string into the field's type; tuples are comma-separated."""
    if raw == "" and name in {"nats_url", "postgres_dsn", "ray_address"}:
        return None
    text = str(field_type)
    if "tuple" in text:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if "bool" in text:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if "int" in text and "float" not in text and "str" not in text:
        return int(raw)
    if "float" in text:
        return float(raw)
    return raw


def from_mapping(values: Mapping[str, Any]) -> Settings:
    """Validate a plain mapping (TOML table, Serve builder args) into Settings."""
    try:
        return msgspec.convert(dict(values), Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid settings: {exc}") from exc


def load_settings(
    *,
    environ: Mapping[str, str],
    toml_path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings at the edge: TOML file, then ``CAUSALITY_*`` variables, then overrides."""
    values: dict[str, Any] = {}
    path = toml_path or environ.get(f"{ENV_PREFIX}CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                values.update(tomllib.load(fh))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"cannot read settings file {path}: {exc}") from exc
    fields = {f.name: f.type for f in msgspec.structs.fields(Settings)}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key == f"{ENV_PREFIX}CONFIG":
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if name not in fields:
            raise SettingsError(f"unknown setting {key}")
        try:
            values[name] = _coerce_env(name, raw, fields[name])
        except ValueError as exc:
            raise SettingsError(f"{key}: {exc}") from exc
    values.update(overrides or {})
    return from_mapping(values)
