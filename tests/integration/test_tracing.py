"""One ingested event yields one trace: HTTP request -> JetStream publish -> warehouse write.

Everything is real: an OTLP/HTTP receiver decoding the protobuf export requests, the gateway
app under uvicorn and a WarehouseSink on its own durable consumer (plain asyncio, no Ray),
each exporting as its own service to the receiver.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from causality.bus.connection import connect
from causality.bus.stream import ensure_consumer, ensure_topology, sink_consumer_config
from causality.config import Settings
from causality.gateway.app import build_gateway_app
from causality.observability.tracing import Tracing
from causality.warehouse.sink import WarehouseSink
from tests.conftest import AppWithKeyFactory
from tests.helpers import envelope, serve_in_thread, wait_for

pytestmark = [pytest.mark.integration]


class Collector:
    """The spans an OTLP/HTTP receiver got, flattened to dicts (ids in hex)."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    async def export(self, request: Request) -> Response:
        body = ExportTraceServiceRequest()
        body.ParseFromString(await request.body())
        with self._lock:
            for resource_spans in body.resource_spans:
                attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            {
                                "service": attrs.get("service.name", ""),
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_span_id": span.parent_span_id.hex(),
                                "attributes": {a.key: a.value for a in span.attributes},
                            }
                        )
        return Response(
            ExportTraceServiceResponse().SerializeToString(),
            media_type="application/x-protobuf",
        )

    def by_service(self, service: str) -> list[dict[str, Any]]:
        with self._lock:
            return [s for s in self.spans if s["service"] == service]


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    c = Collector()
    app = Starlette(routes=[Route("/v1/traces", c.export, methods=["POST"])])
    with serve_in_thread(app) as url:
        yield c, url


async def test_one_event_one_trace_from_request_to_warehouse_write(
    base_settings: Settings,
    make_app_with_key: AppWithKeyFactory,
    collector: tuple[Collector, str],
    tmp_path: Path,
) -> None:
    received, endpoint = collector
    app_id, api_key = await make_app_with_key()
    settings = base_settings.replace(
        otel_exporter_otlp_endpoint=endpoint,
        otel_service_name="causality-test",
        warehouse_uri=str(tmp_path / "warehouse"),
        sink_consumer=f"test-trace-{uuid.uuid4().hex[:8]}",
        sink_filter_subject=f"events.{app_id}.>",
        sink_flush_interval_s=0.3,
    )
    nc = await connect(settings.nats_url or "", name="test-tracing")
    sink_tracing = Tracing.from_settings(settings, "sink")
    stop = asyncio.Event()
    try:
        js = nc.jetstream()
        await ensure_topology(js, settings)
        await ensure_consumer(js, settings.stream_name, sink_consumer_config(settings))
        sink = WarehouseSink(nc=nc, settings=settings, name="trace-sink", tracing=sink_tracing)
        task = asyncio.create_task(sink.run(stop))
        event = envelope()
        with serve_in_thread(build_gateway_app(settings)) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                answer = await client.post(
                    "/api/v1/events/ingest", json=event, headers={"X-API-Key": api_key}
                )
            assert answer.status_code == 202, answer.text

            async def stored() -> int:
                return sink.stats.rows_written

            assert await wait_for(stored, timeout=30, interval=0.1) == 1
        # leaving the block ran the gateway's lifespan shutdown, which exported its spans
        stop.set()
        await task
    finally:
        stop.set()
        sink_tracing.shutdown()
        await nc.close()

    gateway = received.by_service("causality-test-gateway")
    sinks = received.by_service("causality-test-sink")
    request = [s for s in gateway if s["name"] == "POST /api/v1/events/ingest"]
    publish = [s for s in gateway if s["name"] == "jetstream publish"]
    write = [s for s in sinks if s["name"] == "warehouse write"]
    assert len(request) == 1 and len(publish) == 1 and len(write) == 1, received.spans
    request_span, publish_span, write_span = request[0], publish[0], write[0]
    # one trace: request -> publish (in the gateway) -> warehouse write (in the sink)
    assert publish_span["trace_id"] == request_span["trace_id"]
    assert write_span["trace_id"] == request_span["trace_id"]
    assert request_span["parent_span_id"] == ""
    assert publish_span["parent_span_id"] == request_span["span_id"]
    assert write_span["parent_span_id"] == publish_span["span_id"]
    assert write_span["attributes"]["causality.rows_written"].int_value == 1
