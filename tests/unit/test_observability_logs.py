"""JSON log lines: one object per line, with the active span's ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from causality.config import Settings
from causality.observability.logs import configure_logging
from causality.observability.tracing import Tracing


@pytest.fixture
def root_logging() -> Iterator[None]:
    """configure_logging replaces the root handlers; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_time_level_logger_message(root_logging: None) -> None:
    out = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="DEBUG"), stream=out)
    logging.getLogger("causality.test").info("stored %d events", 3, extra={"sink": "s-0"})
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("causality.test").exception("write\nfailed")
    first, second = lines(out)
    assert first["level"] == "INFO"
    assert first["logger"] == "causality.test"
    assert first["message"] == "stored 3 events"
    assert first["sink"] == "s-0"
    assert str(first["time"]).endswith("+00:00")
    assert "trace_id" not in first  # no span active
    assert second["level"] == "ERROR"
    assert second["message"] == "write\nfailed"  # one line on the wire, escaped
    assert "ValueError: boom" in str(second["exception"])


def test_json_lines_name_the_active_span(root_logging: None) -> None:
    out = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=out)
    tracing = Tracing.from_settings(Settings(), "test", exporter=InMemorySpanExporter())
    with tracing.tracer.start_as_current_span("ingest") as span:
        logging.getLogger("causality.test").warning("inside")
        ctx = span.get_span_context()
    logging.getLogger("causality.test").warning("outside")
    inside, outside = lines(out)
    assert inside["trace_id"] == f"{ctx.trace_id:032x}"
    assert inside["span_id"] == f"{ctx.span_id:016x}"
    assert "trace_id" not in outside
    tracing.shutdown()


def test_levels_below_the_setting_are_dropped(root_logging: None) -> None:
    out = io.StringIO()
    configure_logging(Settings(log_format="json", log_level="WARNING"), stream=out)
    logging.getLogger("causality.test").info("quiet")
    logging.getLogger("causality.test").warning("loud")
    assert [line["message"] for line in lines(out)] == ["loud"]


def test_text_format_keeps_existing_handlers(root_logging: None) -> None:
    before = logging.getLogger().handlers[:]
    configure_logging(Settings(log_format="text"))
    if before:  # under pytest the root logger already has handlers: basicConfig leaves them
        assert logging.getLogger().handlers == before
