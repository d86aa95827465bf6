"""Prometheus metrics of the ingestion path, on a registry owned by the app (no globals)."""

from __future__ import annotations

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
