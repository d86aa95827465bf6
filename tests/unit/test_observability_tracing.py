"""Tracing set up from Settings, the traceparent header, and consumer spans per trace."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from causality.config import Settings
from causality.observability.tracing import (
    MAX_TRACES_PER_BATCH,
    TRACEPARENT_HEADER,
    Tracing,
    traces_url,
)


def traced(**changes: object) -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    settings = Settings(**changes)  # type: ignore[arg-type]
    return Tracing.from_settings(settings, "test", exporter=exporter), exporter


def test_no_endpoint_means_tracing_is_off() -> None:
    tracing = Tracing.from_settings(Settings(), "gateway")
    assert not tracing.enabled
    with tracing.tracer.start_as_current_span("x"):
        assert tracing.current_traceparent() is None
    with tracing.consumed(
        "write", [{TRACEPARENT_HEADER: "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}]
    ):
        pass
    tracing.shutdown()  # harmless when off


def test_an_endpoint_turns_on_otlp_export() -> None:
    tracing = Tracing.from_settings(
        Settings(otel_exporter_otlp_endpoint="http://127.0.0.1:1"), "gateway"
    )
    assert tracing.enabled
    tracing.shutdown()
    assert not tracing.enabled


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("http://collector:4318/v1/traces", "http://collector:4318/v1/traces"),
    ],
)
def test_traces_url(endpoint: str, url: str) -> None:
    assert traces_url(endpoint) == url


def test_traceparent_names_the_current_span_and_service() -> None:
    tracing, exporter = traced(otel_service_name="acme")
    with tracing.tracer.start_as_current_span("publish") as span:
        header = tracing.current_traceparent()
        ctx = span.get_span_context()
    assert header == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"
    assert ctx.trace_flags.sampled
    tracing.force_flush()
    (finished,) = exporter.get_finished_spans()
    assert finished.resource.attributes["service.name"] == "acme-test"
    assert tracing.current_traceparent() is None  # no span active


def test_unsampled_requests_carry_no_header() -> None:
    tracing, exporter = traced(otel_sample_ratio=0.0)
    with tracing.tracer.start_as_current_span("publish"):
        assert tracing.current_traceparent() is None
    tracing.force_flush()
    assert exporter.get_finished_spans() == ()


def test_a_batch_is_recorded_once_in_each_trace_it_carries() -> None:
    producer, _ = traced()
    headers: list[dict[str, str] | None] = []
    parents = []
    for _ in range(2):
        with producer.tracer.start_as_current_span("publish") as span:
            value = producer.current_traceparent()
            assert value is not None
            parents.append(span.get_span_context())
            headers += [{TRACEPARENT_HEADER: value}] * 3  # three events of one request
    headers += [None, {}, {TRACEPARENT_HEADER: "not-a-traceparent"}]
    consumer, exporter = traced()
    with consumer.consumed("warehouse write", headers) as attrs:
        attrs["causality.rows_written"] = 6
    consumer.force_flush()
    spans = sorted(exporter.get_finished_spans(), key=lambda s: s.parent.span_id)  # type: ignore[union-attr]
    expected = sorted(parents, key=lambda c: c.span_id)
    assert [(s.context.trace_id, s.parent.span_id) for s in spans] == [  # type: ignore[union-attr]
        (p.trace_id, p.span_id) for p in expected
    ]
    for span in spans:
        assert span.kind is SpanKind.CONSUMER
        assert span.attributes is not None
        assert span.attributes["causality.rows_written"] == 6
        assert span.attributes["causality.traces_in_batch"] == 2
        assert span.status.status_code is StatusCode.UNSET


def test_failures_mark_the_spans() -> None:
    producer, _ = traced()
    with producer.tracer.start_as_current_span("publish"):
        header = {TRACEPARENT_HEADER: producer.current_traceparent() or ""}
    consumer, exporter = traced()
    with consumer.consumed("write", [header]) as attrs:
        attrs["error.type"] = "OSError"
    with pytest.raises(RuntimeError), consumer.consumed("write", [header]):
        raise RuntimeError("disk full")
    consumer.force_flush()
    spans = exporter.get_finished_spans()
    assert [s.status.status_code for s in spans] == [StatusCode.ERROR, StatusCode.ERROR]
    assert [s.attributes["error.type"] for s in spans] == ["OSError", "RuntimeError"]  # type: ignore[index]


def test_distinct_traces_per_batch_are_capped() -> None:
    consumer, exporter = traced()
    headers = [
        {TRACEPARENT_HEADER: f"00-{i + 1:032x}-{i + 1:016x}-01"}
        for i in range(MAX_TRACES_PER_BATCH + 10)
    ]
    with consumer.consumed("write", headers):
        pass
    consumer.force_flush()
    assert len(exporter.get_finished_spans()) == MAX_TRACES_PER_BATCH
