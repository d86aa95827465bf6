"""Process logging: plain text, or one JSON object per line carrying the active trace.

JSON lines are what log shippers on Kubernetes (Loki, Elasticsearch, Cloud Logging) parse
without a custom pattern; the trace and span ids join a log line to its trace.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

from opentelemetry import trace

from causality.config import Settings

# attributes every LogRecord has; anything else was passed with ``extra=`` and is kept
_RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex, empty outside a span) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id = f"{ctx.trace_id:032x}"
            record.span_id = f"{ctx.span_id:016x}"
        else:
            record.trace_id = record.span_id = ""
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, ids and extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        trace_id = getattr(record, "trace_id", "")
        if trace_id:
            out["trace_id"] = trace_id
            out["span_id"] = getattr(record, "span_id", "")
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _RESERVED and key not in out and key not in ("trace_id", "span_id"):
                out[key] = value
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(settings: Settings, *, stream: IO[str] | None = None) -> None:
    """Set up the root logger of this process from ``log_format`` and ``log_level``.

    Text keeps ``logging.basicConfig``'s behaviour (it does nothing if the process already
    has handlers, e.g. under Ray Serve); JSON replaces the root handlers so that every line
    the process writes through logging is JSON.
    """
    if settings.log_format == "text":
        logging.basicConfig(level=settings.log_level, stream=stream)
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(TraceContextFilter())
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
