"""OpenTelemetry traces across the path: HTTP request -> JetStream publish -> sink and engine.

Each component owns a ``Tracing`` built from Settings at its edge (gateway lifespan, actor)
with its own TracerProvider instead of the process-global one: a test or the laptop stack can
then run the gateway and a sink in one process as two services, and nothing depends on import
order. With no OTLP endpoint configured, tracing is off and every call site costs one branch.

The W3C trace context crosses NATS as one ``traceparent`` header per message. A consumer
records, for each distinct trace in a batch, one span that is a child of the publish span, so
one ingested event yields one trace spanning the gateway and the warehouse write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from causality.config import Settings

log = logging.getLogger(__name__)

TRACEPARENT_HEADER = "traceparent"
# a batch of 10,000 events from as many requests must not become 10,000 spans per flush
MAX_TRACES_PER_BATCH = 256
_PROPAGATOR = TraceContextTextMapPropagator()


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL; the setting is the collector's base URL, as in
    OTEL_EXPORTER_OTLP_ENDPOINT, unless it already names the signal path."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else f"{endpoint}/v1/traces"


def format_traceparent(ctx: SpanContext) -> str:
    """W3C traceparent of a span context (version 00)."""
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


class Tracing:
    """One component's tracer, or a disabled one (``enabled`` False, ``tracer`` a no-op)."""

    def __init__(self, provider: TracerProvider | None = None, *, component: str = "") -> None:
        self._provider = provider
        self.component = component
        self.enabled = provider is not None
        self.tracer: trace.Tracer = (
            provider.get_tracer("causality") if provider is not None else trace.NoOpTracer()
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, component: str, *, exporter: SpanExporter | None = None
    ) -> Tracing:
        """OTLP/HTTP export to ``otel_exporter_otlp_endpoint``; disabled when it is empty and
        no ``exporter`` is given (tests may pass an in-memory one)."""
        if exporter is None:
            if not settings.otel_exporter_otlp_endpoint:
                return cls(component=component)
            # imported here: the exporter pulls in requests and protobuf, which a process
            # without tracing never needs
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=traces_url(settings.otel_exporter_otlp_endpoint))
        resource = Resource.create(
            {
                "service.name": f"{settings.otel_service_name}-{component}",
                "service.namespace": settings.otel_service_name,
            }
        )
        sampler = ParentBased(TraceIdRatioBased(settings.otel_sample_ratio))
        provider = TracerProvider(resource=resource, sampler=sampler)
        provider.add_span_processor(BatchSpanProcessor(exporter))
        return cls(provider, component=component)

    def current_traceparent(self) -> str | None:
        """The header value for the current span, or None when off or not sampled (a
        consumer then does no tracing work for the message)."""
        if not self.enabled:
            return None
        ctx = trace.get_current_span().get_span_context()
        if not ctx.is_valid or not ctx.trace_flags.sampled:
            return None
        return format_traceparent(ctx)

    @contextmanager
    def consumed(
        self, name: str, headers: Iterable[Mapping[str, str] | None]
    ) -> Iterator[dict[str, Any]]:
        """Time a batch's work and record it once in each distinct trace its messages carry.

        Yields a dict of span attributes the caller may fill while working; an
        ``error.type`` entry (or an exception) marks the spans as failed.
        """
        attributes: dict[str, Any] = {}
        if not self.enabled:
            yield attributes
            return
        parents: dict[str, None] = {}
        for h in headers:
            value = h.get(TRACEPARENT_HEADER) if h else None
            if value and len(parents) < MAX_TRACES_PER_BATCH:
                parents[value] = None
        start = time.time_ns()
        error: BaseException | None = None
        try:
            yield attributes
        except BaseException as exc:
            error = exc
            raise
        finally:
            if parents:
                self._record(name, list(parents), start, time.time_ns(), attributes, error)

    def _record(
        self,
        name: str,
        parents: list[str],
        start: int,
        end: int,
        attributes: dict[str, Any],
        error: BaseException | None,
    ) -> None:
        if error is not None:
            attributes.setdefault("error.type", type(error).__name__)
        contexts = [_PROPAGATOR.extract({TRACEPARENT_HEADER: value}) for value in parents]
        # an unreadable header extracts to nothing to attach to
        contexts = [c for c in contexts if trace.get_current_span(c).get_span_context().is_valid]
        attributes["causality.traces_in_batch"] = len(contexts)
        for parent in contexts:
            span = self.tracer.start_span(
                name, context=parent, kind=SpanKind.CONSUMER, start_time=start
            )
            span.set_attributes(attributes)
            if "error.type" in attributes:
                span.set_status(Status(StatusCode.ERROR, str(attributes["error.type"])))
            span.end(end_time=end)

    def force_flush(self, timeout_ms: int = 5000) -> bool:
        """Export what is buffered now (before a test reads the collector)."""
        return self._provider.force_flush(timeout_ms) if self._provider is not None else True

    def shutdown(self) -> None:
        """Flush and stop the exporter; the component's spans end with its process."""
        if self._provider is not None:
            try:
                self._provider.shutdown()
            except Exception as exc:  # a collector that is down must not break shutdown
                log.warning("tracing shutdown failed: %r", exc)
            self._provider = None
            self.enabled = False
            self.tracer = trace.NoOpTracer()
