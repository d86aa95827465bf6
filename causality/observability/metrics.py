"""Prometheus metrics: the gateway's own registry (no globals), and the actors' Ray metrics."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class GatewayMetrics:
    """The gateway's counters and histograms; one instance per app, its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.events_ingested = Counter(
            "causality_events_ingested_total",
            "Events accepted and acknowledged by JetStream",
            ["app_id"],
            registry=self.registry,
        )
        self.events_duplicate = Counter(
            "causality_events_duplicate_total",
            "Events dropped as duplicates of an earlier idempotency key",
            ["app_id"],
            registry=self.registry,
        )
        self.events_rejected = Counter(
            "causality_events_rejected_total",
            "Events rejected by validation",
            ["field"],
            registry=self.registry,
        )
        self.requests = Counter(
            "causality_ingest_requests_total",
            "Ingestion requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "causality_ingest_batch_events",
            "Events per ingestion request",
            buckets=(1, 5, 10, 50, 100, 250, 500, 1000),
            registry=self.registry,
        )
        self.publish_seconds = Histogram(
            "causality_publish_seconds",
            "Time to publish a request's events and receive every JetStream ack",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )


# -- actors: ray.util.metrics, served by each Ray node's metrics endpoint (one scrape config
# per node covers every actor on it). Ray prefixes the names with ``ray_`` and exports counters
# with a ``_total`` suffix: causality_sink_events_stored -> ray_causality_sink_events_stored_total.

FLUSH_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class CounterSpec(NamedTuple):
    """Which Ray counter a stats field feeds, with the tags that tell fields apart."""

    metric: str
    description: str
    tags: tuple[tuple[str, str], ...] = ()


SINK_COUNTERS: dict[str, CounterSpec] = {
    "rows_written": CounterSpec("causality_sink_events_stored", "Events written to Parquet"),
    "flushes": CounterSpec("causality_sink_batches", "Batches written and acked"),
    "files_written": CounterSpec("causality_sink_files", "Parquet files written"),
    "duplicates_dropped": CounterSpec(
        "causality_sink_duplicates_dropped", "Events dropped as duplicates within a batch"
    ),
    "redelivered_skipped": CounterSpec(
        "causality_sink_redelivered_skipped", "Redelivered events a file already held"
    ),
    "dead_lettered": CounterSpec("causality_sink_dead_letters", "Messages sent to the DLQ"),
    "write_failures": CounterSpec("causality_sink_write_failures", "Batches whose write failed"),
}
ENGINE_COUNTERS: dict[str, CounterSpec] = {
    "evaluated": CounterSpec("causality_reactions_events", "Events evaluated and committed"),
    "rule_alerts": CounterSpec(
        "causality_reactions_alerts", "Alerts raised", (("source", "rule"),)
    ),
    "anomaly_alerts": CounterSpec(
        "causality_reactions_alerts", "Alerts raised", (("source", "anomaly"),)
    ),
    "deliveries": CounterSpec(
        "causality_reactions_deliveries_enqueued", "Webhook deliveries put in the outbox"
    ),
    "batches_committed": CounterSpec("causality_reactions_batches", "Batches committed"),
    "failures": CounterSpec("causality_reactions_failures", "Batches not applied (database)"),
    "dead_lettered": CounterSpec("causality_reactions_dead_letters", "Messages sent to the DLQ"),
}
DISPATCHER_COUNTERS: dict[str, CounterSpec] = {
    "delivered": CounterSpec(
        "causality_webhook_deliveries", "Webhook send outcomes", (("outcome", "delivered"),)
    ),
    "failed_attempts": CounterSpec(
        "causality_webhook_deliveries", "Webhook send outcomes", (("outcome", "failed"),)
    ),
    "dead_lettered": CounterSpec(
        "causality_webhook_dead_letters", "Deliveries given up after the last attempt"
    ),
    "db_errors": CounterSpec("causality_webhook_db_errors", "Dispatcher database errors"),
}


def counter_deltas(
    previous: Mapping[str, float], current: Mapping[str, Any], fields: Iterable[str]
) -> dict[str, float]:
    """How much each counter field grew since ``previous``. A smaller value means the
    component was rebuilt with fresh stats (an actor restarting its loop): all of it is new."""
    out: dict[str, float] = {}
    for field in fields:
        value = current.get(field)
        if not isinstance(value, int | float):
            continue
        before = previous.get(field, 0)
        delta = value - before if value >= before else value
        if delta > 0:
            out[field] = delta
    return out


class ActorMetrics:
    """Turns an actor's stats (the counters ``status()`` reports) into Ray metrics.

    The actors' loops already count everything in plain structs; copying the growth into Ray
    counters on each status call (the supervisor's heartbeat, every few seconds) keeps the
    hot paths free of metric calls and the loops free of Ray.
    """

    def __init__(self, *, kind: str, name: str, counters: Mapping[str, CounterSpec]) -> None:
        from ray.util import metrics as ray_metrics  # only actors, which run in Ray, need it

        self._specs = dict(counters)
        self._base = {"actor": name, "kind": kind}
        self._previous: dict[str, float] = {}
        self._counters: dict[str, Any] = {}
        for spec in self._specs.values():
            if spec.metric not in self._counters:
                keys = ("actor", "kind", *(k for k, _ in spec.tags))
                self._counters[spec.metric] = ray_metrics.Counter(
                    spec.metric, description=spec.description, tag_keys=keys
                )
        self._running = ray_metrics.Gauge(
            "causality_actor_running",
            description="1 while the actor's loop runs",
            tag_keys=("actor", "kind"),
        )
        self.flush_seconds = ray_metrics.Histogram(
            f"causality_{kind}_flush_seconds",
            description="Time to write and settle one batch",
            boundaries=list(FLUSH_BUCKETS),
            tag_keys=("actor", "kind"),
        )
        self.flush_seconds.set_default_tags(self._base)

    def sync(self, stats: Mapping[str, Any], *, running: bool) -> dict[str, float]:
        """Add what the stats gained since the last call; returns those increments."""
        deltas = counter_deltas(self._previous, stats, self._specs)
        for field, delta in deltas.items():
            spec = self._specs[field]
            self._counters[spec.metric].inc(delta, tags={**self._base, **dict(spec.tags)})
        for field in self._specs:
            value = stats.get(field)
            if isinstance(value, int | float):
                self._previous[field] = value
        self._running.set(1.0 if running else 0.0, tags=self._base)
        return deltas

    def reset(self) -> None:
        """The actor built a new component whose stats start at zero again."""
        self._previous.clear()

    def observe_flush(self, seconds: float) -> None:
        """One batch's flush time (the sink calls it after each flush)."""
        self.flush_seconds.observe(seconds)
